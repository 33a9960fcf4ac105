//! Property test through the real pipeline (layer -> worker -> sentry client ->
//! gate -> capturing sink): a random secret of any kind, in random surrounding
//! text, planted in a random part of what the layer captures, never reaches the
//! sink. The unit property tests (`src/privacy/proptests.rs`) run many more
//! cases directly on JSON items; this one proves the pipeline puts every part
//! where the gate scrubs it. One telemetry instance serves every case.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]

mod common;

#[path = "../src/privacy/strategies/mod.rs"]
mod strategies;

use std::error::Error;
use std::fmt;

use common::capture::{FLUSH, builder, run, start};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use strategies::{Planted, generic_secret, in_text};

/// Where the layer can be handed a secret.
#[derive(Debug, Clone, Copy)]
enum Place {
    Message,
    DisplayField,
    DebugField,
    Tag,
    ErrorDisplay,
    SourceDisplay,
    BreadcrumbMessage,
    BreadcrumbField,
    SpanField,
    SpanRecord,
    InstrumentArgument,
}

const PLACES: &[Place] = &[
    Place::Message,
    Place::DisplayField,
    Place::DebugField,
    Place::Tag,
    Place::ErrorDisplay,
    Place::SourceDisplay,
    Place::BreadcrumbMessage,
    Place::BreadcrumbField,
    Place::SpanField,
    Place::SpanRecord,
    Place::InstrumentArgument,
];

#[derive(Debug)]
struct Failure {
    text: String,
    source: Option<Box<Failure>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn Error + 'static))
    }
}

#[tracing::instrument(err)]
fn load(path: &str, n: u32) -> Result<(), Failure> {
    Err(Failure {
        text: format!("case {n}: could not load"),
        source: None,
    })
}

/// Hands `text` to the layer at `place`, with an error event that sends it.
fn emit(place: Place, text: &str, n: u32) {
    match place {
        Place::Message => tracing::error!("case {n}: {text}"),
        Place::DisplayField => tracing::error!(detail = %text, "case {n}"),
        Place::DebugField => tracing::error!(detail = ?text, "case {n}"),
        Place::Tag => tracing::error!(tags.place = %text, "case {n}"),
        Place::ErrorDisplay => {
            let err = Failure {
                text: text.to_owned(),
                source: None,
            };
            tracing::error!(error = &err as &dyn Error, "case {n}");
        }
        Place::SourceDisplay => {
            let err = Failure {
                text: format!("case {n}"),
                source: Some(Box::new(Failure {
                    text: text.to_owned(),
                    source: None,
                })),
            };
            tracing::error!(error = &err as &dyn Error, "case {n}");
        }
        Place::BreadcrumbMessage => {
            tracing::info!("{text}");
            tracing::error!("case {n}");
        }
        Place::BreadcrumbField => {
            tracing::warn!(detail = %text, "retrying");
            tracing::error!("case {n}");
        }
        Place::SpanField => {
            let _span = tracing::info_span!("work", detail = %text).entered();
            tracing::error!("case {n}");
        }
        Place::SpanRecord => {
            let span = tracing::info_span!("work", detail = tracing::field::Empty);
            span.record("detail", text);
            let _span = span.entered();
            tracing::error!("case {n}");
        }
        Place::InstrumentArgument => {
            let _ = load(text, n);
        }
    }
}

/// Every string of `value`, keys included.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn planted_secrets_never_leave_through_the_pipeline() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(
        &(in_text(generic_secret()), proptest::sample::select(PLACES)),
        |(planted, place): (Planted, Place)| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            captured.clear();
            run(&telemetry, || emit(place, &planted.text, n));
            prop_assert!(telemetry.flush(FLUSH), "flush timed out");
            let items = captured.items();
            prop_assert!(
                items.iter().any(|(kind, _)| kind == "event"),
                "the error event was sent: {items:#?}"
            );
            let mut sent = Vec::new();
            for (_, item) in &items {
                strings(item, &mut sent);
            }
            let found: Vec<String> = sent
                .iter()
                .flat_map(|s| planted.found_in(s).into_iter().map(move |f| (f, s)))
                .map(|(f, s)| format!("{} {f:?} in {s:?}", planted.kind))
                .collect();
            prop_assert!(
                found.is_empty(),
                "planted at {place:?}, sent:\n{}",
                found.join("\n")
            );
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
