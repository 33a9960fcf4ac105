//! `TelemetryBuilder::level` moves the one level floor of events and spans:
//! at DEBUG, debug spans become transactions (and spans of them) and debug
//! events become breadcrumbs; TRACE stays below the floor.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use common::capture::{FLUSH, builder, start};
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// Every name a transaction's spans carry (`op`, `description`).
fn span_names(txn: &Value) -> Vec<String> {
    let mut all = Vec::new();
    for span in txn["spans"].as_array().into_iter().flatten() {
        // The description is `target::name`; the op is a category.
        if let Some(description) = span["description"].as_str() {
            all.push(
                description
                    .rsplit("::")
                    .next()
                    .unwrap_or(description)
                    .to_owned(),
            );
        }
    }
    all
}

#[test]
fn a_debug_floor_makes_debug_spans_transactions_and_debug_events_breadcrumbs() {
    let (telemetry, captured) = start(
        builder(&[])
            .traces_sample_rate(1.0)
            .level(tracing::Level::DEBUG),
    );
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::TRACE)
        .with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        {
            let _root = tracing::debug_span!("debug_root").entered();
            let _child = tracing::debug_span!("debug_child").entered();
            let _grandchild = tracing::trace_span!("trace_grandchild").entered();
        }
        {
            let _root = tracing::trace_span!("trace_root").entered();
        }
        tracing::trace!("a trace event");
        tracing::debug!("a debug event");
        tracing::info!("an info event");
        tracing::error!("failed");
    });
    assert!(telemetry.flush(FLUSH));

    let txns = captured.transactions();
    let roots: Vec<&str> = txns
        .iter()
        .filter_map(|t| t["transaction"].as_str())
        .collect();
    assert_eq!(roots, ["debug_root"], "the DEBUG root is a transaction");
    let spans = span_names(&txns[0]);
    assert!(
        spans.iter().any(|n| n == "debug_child"),
        "the DEBUG child is a span: {spans:?}"
    );
    assert!(
        !spans.iter().any(|n| n == "trace_grandchild"),
        "the TRACE grandchild is below the floor: {spans:?}"
    );

    let events = captured.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let crumbs: Vec<&str> = events[0]["breadcrumbs"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert_eq!(
        crumbs,
        ["a debug event", "an info event"],
        "debug events are breadcrumbs, trace events are not"
    );
}
