//! `feature = "..."` fields are counted, and sent as one event per feature per flush.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

#[test]
fn ten_thousand_uses_make_one_event() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        for _ in 0..10_000 {
            tracing::info!(feature = "capture.record", "recording");
        }
        tracing::debug!(feature = "capture.replay");
    });
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    let usage: Vec<_> = events
        .iter()
        .filter(|e| e["tags"]["feature"] == "capture.record")
        .collect();
    assert_eq!(usage.len(), 1, "{events:#?}");
    assert_eq!(usage[0]["extra"]["count"], 10_000);
    assert_eq!(usage[0]["message"], "feature:capture.record");
    assert_eq!(usage[0]["level"], "info");
    assert!(usage[0]["extra"]["session_duration_s"].as_f64().is_some());

    // Counts restart after a flush.
    run(&telemetry, || tracing::info!(feature = "capture.record"));
    captured.clear();
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["extra"]["count"], 1);
}

#[test]
fn spans_count_too() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(0.0));
    run(&telemetry, || {
        for _ in 0..5 {
            let _s = tracing::info_span!("replay", feature = "capture.replay").entered();
        }
    });
    drop(telemetry); // shutdown sends the counts too
    let events = captured.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["extra"]["count"], 5);
}

#[test]
fn feature_usage_off_counts_nothing() {
    let (telemetry, captured) = start(builder(&[]).feature_usage(false));
    run(&telemetry, || tracing::info!(feature = "capture.record"));
    assert!(telemetry.flush(FLUSH));
    assert!(captured.items().is_empty());
}

#[test]
fn counts_are_sent_on_the_interval() {
    let (telemetry, captured) =
        start(builder(&[]).feature_flush_interval(std::time::Duration::from_millis(50)));
    run(&telemetry, || tracing::info!(feature = "capture.record"));
    let deadline = std::time::Instant::now() + FLUSH;
    while captured.events().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(captured.events().len(), 1, "sent without a flush");
    drop(telemetry);
}

#[test]
fn a_feature_event_is_counted_not_kept_as_a_breadcrumb() {
    let (telemetry, captured) = start(builder(&[]).feature_usage(true));
    run(&telemetry, || {
        tracing::info!(feature = "capture.record", "recording");
        tracing::info!("plain breadcrumb");
        tracing::error!("boom");
    });
    assert!(telemetry.flush(FLUSH));
    let error = captured
        .events()
        .into_iter()
        .find(|e| e["message"] == "boom")
        .expect("the error");
    let crumbs = error["breadcrumbs"]["values"]
        .as_array()
        .expect("crumbs")
        .clone();
    assert_eq!(crumbs.len(), 1, "{crumbs:#?}");
    assert_eq!(crumbs[0]["message"], "plain breadcrumb");
}
