//! Repeats are repeats: only errors equal in call site, message and field values
//! are one error, and up to 10 a minute from one call site are still sent one by
//! one (issue 12.4): a repeat with other fields is its own event, with its own
//! fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use common::capture::{FLUSH, builder, run, start};
use serde_json::Value;

/// An error the worker takes a while over today (a 2 MiB message to scrub), so
/// the errors logged right after it wait in the queue together: the repeats
/// below meet there, whatever the machine's speed.
fn keep_the_worker_busy() {
    let long = "frame decoded ".repeat(150_000);
    tracing::error!("{long}");
}

/// The events about the import, the one keeping the worker busy left out.
fn imports(captured: &openadapt_telemetry::testing::Captured) -> Vec<Value> {
    captured
        .events()
        .into_iter()
        .filter(|e| e["message"] == "import failed")
        .collect()
}

/// A field value as sent (extra values are strings today; a number would do).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn one_call_site_with_other_fields_makes_separate_events() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        keep_the_worker_busy();
        for batch in 1..=3 {
            tracing::error!(batch, "import failed");
        }
    });
    assert!(telemetry.flush(FLUSH));
    let events = imports(&captured);
    let mut batches: Vec<String> = events.iter().map(|e| text(&e["extra"]["batch"])).collect();
    batches.sort();
    assert_eq!(
        batches,
        ["1", "2", "3"],
        "three events, each with its own batch: {events:#?}"
    );
    for event in &events {
        assert!(
            event["extra"].get("repeat_count").is_none(),
            "not a repeat: {event:#?}"
        );
    }
}

#[test]
fn three_identical_errors_in_a_minute_are_three_events() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        keep_the_worker_busy();
        for _ in 0..3 {
            tracing::error!(batch = 7, "import failed");
        }
    });
    assert!(telemetry.flush(FLUSH));
    let events = imports(&captured);
    assert_eq!(events.len(), 3, "one event per occurrence: {events:#?}");
    for event in &events {
        assert_eq!(event["message"], "import failed");
        assert_eq!(text(&event["extra"]["batch"]), "7");
        assert!(
            event["extra"].get("repeat_count").is_none(),
            "sent one by one, no repeat_count: {event:#?}"
        );
    }
}
