//! Events and spans share one level floor (INFO by default): when another layer
//! enables TRACE, a `debug_span!`/`trace_span!` tree at traces 1.0 is not a
//! transaction, and a debug span is not a span of an INFO root's transaction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::testing::Captured;
use openadapt_telemetry::{Telemetry, TelemetryLayer};
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// A DEBUG root with a TRACE child; an INFO root with a DEBUG child; a debug
/// event; and an error inside the INFO root.
fn spans_below_and_at_the_floor() {
    {
        let _root = tracing::debug_span!("debug_root").entered();
        let _child = tracing::trace_span!("trace_child").entered();
    }
    {
        let _root = tracing::trace_span!("trace_root").entered();
    }
    {
        let _root = tracing::info_span!("info_root").entered();
        let _child = tracing::debug_span!("debug_child").entered();
        tracing::debug!("a debug event");
        tracing::error!("failed in the info root");
    }
}

/// Every name a transaction or span carries (`transaction`, `op`, `description`).
fn names(txn: &Value) -> Vec<String> {
    let mut all = vec![txn["transaction"].as_str().unwrap_or("").to_owned()];
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

fn assert_floor_holds(telemetry: &Telemetry, captured: &Captured, how: &str) {
    assert!(telemetry.flush(FLUSH));
    let txns = captured.transactions();
    let roots: Vec<&str> = txns
        .iter()
        .filter_map(|t| t["transaction"].as_str())
        .collect();
    assert_eq!(
        roots,
        ["info_root"],
        "{how}: only the INFO root is a transaction"
    );
    let all = names(&txns[0]);
    assert!(
        !all.iter().any(|n| n == "debug_child"),
        "{how}: the DEBUG child is not a span of the transaction: {all:?}"
    );
    let events = captured.events();
    assert_eq!(events.len(), 1, "{how}: {events:#?}");
    let crumbs = events[0]["breadcrumbs"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        crumbs.is_empty(),
        "{how}: a debug event is not a breadcrumb: {crumbs:#?}"
    );
}

fn telemetry() -> (Telemetry, Captured, TelemetryLayer) {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    let layer = telemetry.layer();
    (telemetry, captured, layer)
}

#[test]
fn beside_a_global_trace_filter() {
    let (telemetry, captured, layer) = telemetry();
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::TRACE)
        .with(layer);
    tracing::subscriber::with_default(subscriber, spans_below_and_at_the_floor);
    assert_floor_holds(&telemetry, &captured, "LevelFilter::TRACE");
}

#[test]
fn beside_an_fmt_layer_that_enables_trace() {
    let (telemetry, captured, layer) = telemetry();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(LevelFilter::TRACE),
        )
        .with(layer);
    tracing::subscriber::with_default(subscriber, spans_below_and_at_the_floor);
    assert_floor_holds(&telemetry, &captured, "fmt at TRACE");
}
