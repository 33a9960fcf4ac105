//! Any number of the crate's layers and instances in one subscriber: no panic,
//! and one `error!` is one event. And `openadapt_telemetry::layer()` follows the
//! instance that is live now: after a guard is dropped, a new instance gets what
//! the layer sees.
//!
//! Every case runs in a child process (this binary again, `--exact host::neighbour_layers::layers_child`,
//! with `OPENADAPT_NEIGHBOUR_LAYERS_CASE` naming the case): the free `layer()`
//! reports to a process-wide instance, and a panic inside the registry's span
//! extensions can poison them and abort the whole process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::collections::HashMap;
use std::time::Duration;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::testing::Captured;
use serde_json::Value;
use tracing_subscriber::prelude::*;

const CASE_ENV: &str = "OPENADAPT_NEIGHBOUR_LAYERS_CASE";
/// A bound on hangs, not a speed claim.
const BOUND: Duration = Duration::from_secs(120);
/// Span trees logged per case, each with one error inside.
const TREES: usize = 200;

/// `TREES` span trees (a root, a child, a grandchild), each with one distinct
/// error inside and a breadcrumb before it.
fn span_trees() {
    for i in 0..TREES {
        let _root = tracing::info_span!("request", n = i).entered();
        tracing::info!(n = i, "request {i} started");
        let _step = tracing::info_span!("step").entered();
        let _inner = tracing::info_span!("inner").entered();
        tracing::error!(n = i, "tree {i} failed");
    }
}

/// The number of occurrences an event stands for (1, or its `repeat_count`).
fn occurrences(event: &Value) -> u64 {
    match &event["extra"]["repeat_count"] {
        Value::Null => 1,
        v => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(u64::MAX),
    }
}

/// Fails unless every error of [`span_trees`] reached the captures as exactly
/// one event standing for one occurrence.
fn assert_one_event_per_error(case: &str, captures: &[&Captured]) {
    let events: Vec<Value> = captures.iter().flat_map(|c| c.events()).collect();
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    for event in &events {
        let message = event["message"].as_str().unwrap_or("").to_owned();
        seen.entry(message).or_default().push(occurrences(event));
    }
    let mut wrong = Vec::new();
    for i in 0..TREES {
        let message = format!("tree {i} failed");
        match seen.get(&message) {
            Some(counts) if counts == &[1] => {}
            other => wrong.push(format!("{message:?}: {other:?}")),
        }
    }
    assert!(
        wrong.is_empty() && events.len() == TREES,
        "{case}: {} events for {TREES} errors; errors not seen exactly once \
         (event occurrence counts): {}{}",
        events.len(),
        wrong.len(),
        wrong
            .iter()
            .take(10)
            .map(|w| format!("\n  {w}"))
            .collect::<String>()
    );
}

/// The events captured, by message.
fn messages(captured: &Captured) -> Vec<String> {
    captured
        .events()
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

/// The child: runs the case named in `OPENADAPT_NEIGHBOUR_LAYERS_CASE`. In the
/// parent (the variable unset) it does nothing and passes.
#[test]
fn layers_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    match case.as_str() {
        "same_instance_twice" | "same_instance_twice_traces_0" => {
            let rate = if case.ends_with("_0") { 0.0 } else { 1.0 };
            let (t, captured) = start(builder(&[]).traces_sample_rate(rate));
            let subscriber = tracing_subscriber::registry()
                .with(t.layer())
                .with(t.layer());
            tracing::subscriber::with_default(subscriber, span_trees);
            assert!(t.flush(FLUSH));
            assert_one_event_per_error(&case, &[&captured]);
            // No transaction twice (some may be dropped when the queue is full).
            let txns = captured.transactions();
            let mut traces: Vec<&str> = txns
                .iter()
                .filter_map(|t| t["contexts"]["trace"]["trace_id"].as_str())
                .collect();
            traces.sort_unstable();
            traces.dedup();
            assert!(
                txns.len() <= TREES && traces.len() == txns.len(),
                "{case}: {} transactions over {} traces for {TREES} roots",
                txns.len(),
                traces.len()
            );
        }
        "instance_and_free_layer" => {
            let (t, captured) = start(builder(&[]).traces_sample_rate(1.0).global(true));
            let subscriber = tracing_subscriber::registry()
                .with(t.layer())
                .with(openadapt_telemetry::layer());
            tracing::subscriber::with_default(subscriber, span_trees);
            assert!(t.flush(FLUSH));
            assert_one_event_per_error(&case, &[&captured]);
        }
        "two_instances" => {
            let (first, first_captured) = start(builder(&[]).traces_sample_rate(1.0));
            let (second, second_captured) = start(builder(&[]).traces_sample_rate(1.0));
            let subscriber = tracing_subscriber::registry()
                .with(first.layer())
                .with(second.layer());
            tracing::subscriber::with_default(subscriber, span_trees);
            assert!(first.flush(FLUSH));
            assert!(second.flush(FLUSH));
            assert_one_event_per_error(&case, &[&first_captured, &second_captured]);
        }
        "free_layer_follows_the_live_instance" => {
            // The program installs its subscriber once, before any instance.
            tracing_subscriber::registry()
                .with(openadapt_telemetry::layer())
                .init();
            let (first, first_captured) = start(builder(&[]).global(true));
            tracing::error!("to the first instance");
            assert!(first.flush(FLUSH));
            drop(first);
            tracing::error!("while no instance is live");
            let (second, second_captured) = start(builder(&[]).global(true));
            tracing::error!("to the second instance");
            assert!(second.flush(FLUSH));
            assert_eq!(
                messages(&first_captured),
                ["to the first instance"],
                "{case}: the first instance gets what was logged while it lived"
            );
            assert_eq!(
                messages(&second_captured),
                ["to the second instance"],
                "{case}: the second instance gets what is logged once it is live, \
                 and nothing from before"
            );
        }
        other => panic!("unknown case {other}"),
    }
    println!("CASE OK {case}");
}

/// Runs `case` in a child process and fails with what it printed.
fn check(case: &str) {
    let run = within::run_self_within(
        "host::neighbour_layers::layers_child",
        &[(CASE_ENV, case)],
        BOUND,
    );
    assert!(
        run.succeeded() && run.stdout.contains(&format!("CASE OK {case}")),
        "{case}: {}",
        run.describe()
    );
}

#[test]
fn two_layers_of_one_instance_at_traces_one() {
    check("same_instance_twice");
}

#[test]
fn two_layers_of_one_instance_at_traces_zero() {
    check("same_instance_twice_traces_0");
}

#[test]
fn an_instance_layer_beside_the_free_layer() {
    check("instance_and_free_layer");
}

#[test]
fn two_live_instances_in_one_subscriber() {
    check("two_instances");
}

#[test]
fn the_free_layer_follows_the_live_instance() {
    check("free_layer_follows_the_live_instance");
}
