//! `last_event_id()` names the last event a user could report: an error, not
//! the feature usage counts sent after it.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

#[test]
fn usage_counts_do_not_replace_the_last_error() {
    let (telemetry, captured) = start(builder(&[]));
    assert_eq!(telemetry.last_event_id(), None);
    run(&telemetry, || {
        tracing::error!("recording failed");
        tracing::info!(feature = "capture.record", "recording");
    });
    // The flush sends the error, then the usage count.
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    let id_of = |pick: &dyn Fn(&serde_json::Value) -> bool| {
        events
            .iter()
            .find(|e| pick(e))
            .and_then(|e| e["event_id"].as_str())
            .map(|id| id.replace('-', ""))
    };
    let error =
        id_of(&|e| e["message"] == "recording failed").unwrap_or_else(|| panic!("{events:#?}"));
    let usage = id_of(&|e| e["tags"]["feature"] == "capture.record")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_ne!(error, usage);
    assert_eq!(telemetry.last_event_id(), Some(error.clone()));

    // Another flush with usage only: still the error.
    run(&telemetry, || tracing::info!(feature = "capture.replay"));
    assert!(telemetry.flush(FLUSH));
    assert_eq!(telemetry.last_event_id(), Some(error));
}
