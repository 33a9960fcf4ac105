//! Counts that add up in GlitchTip (issue 12.4), read back from the Bugsink test server: GlitchTip's count for
//! an issue is the number of events stored, so up to 10 repeats a minute from one call site are sent one by one;
//! past that, the events sent carry the rest in `extra.repeat_count`, and the sum is exact.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder, run};
use common::faults::repeat_count;
use serde_json::Value;

/// A text no other run has sent, even to a server kept running across runs (`scripts/test --serve`).
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// The stored events whose message is `message`.
fn stored_with_message(bugsink: &Bugsink, message: &str) -> Vec<Value> {
    bugsink
        .events()
        .into_iter()
        .filter(|e| e["message"] == message)
        .collect()
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_five_repeats_within_a_minute_are_five_stored_events() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let message = format!("server test: import failed {}", unique("five"));
    run(&telemetry, || {
        for _ in 0..5 {
            tracing::error!("{message}");
        }
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    drop(telemetry);

    let stored = stored_with_message(&bugsink, &message);
    assert_eq!(
        stored.len(),
        5,
        "one stored event per occurrence: {stored:#?}"
    );
    for event in &stored {
        assert!(
            event["extra"].get("repeat_count").is_none(),
            "sent one by one: {event:#}"
        );
    }
    let mut ids: Vec<&str> = stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "five event ids");
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_a_burst_of_10000_identical_errors_sums_to_10000() {
    const BURST: u64 = 10_000;
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let message = format!("server test: frame dropped {}", unique("burst"));
    run(&telemetry, || {
        for _ in 0..BURST {
            tracing::error!("{message}");
        }
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    drop(telemetry);

    let stored = stored_with_message(&bugsink, &message);
    let counts: Vec<u64> = stored.iter().map(repeat_count).collect();
    eprintln!(
        "[server] burst of {BURST}: {} stored events, repeat counts {counts:?}",
        stored.len()
    );
    assert_eq!(
        counts.iter().sum::<u64>(),
        BURST,
        "events x repeat_count (1 when absent) is the number of occurrences: {counts:?}"
    );
    assert!(
        stored.len() >= 10,
        "the first 10 of the minute are sent one by one: {counts:?}"
    );
    assert!(
        stored.len() <= 100,
        "{} events for one error repeated {BURST} times",
        stored.len()
    );
}
