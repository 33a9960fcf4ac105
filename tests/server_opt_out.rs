//! `DO_NOT_TRACK=1`: the real server receives nothing at all. Counts every request that reached the Bugsink test
//! server, so this file holds a single test: nothing else in this binary may send meanwhile (test binaries run
//! one after another).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder, run};

/// Sends everything an instance can send: an error with breadcrumbs, a feature use, a sampled transaction; then
/// flushes and shuts down. Returns the id of the last event, if one was sent.
fn use_everything(bugsink: &Bugsink, vars: &[(&str, &str)]) -> (bool, Option<String>) {
    let telemetry = builder(vars)
        .dsn(&bugsink.dsn)
        .traces_sample_rate(1.0)
        .init();
    let enabled = telemetry.is_enabled();
    run(&telemetry, || {
        let _span = tracing::info_span!("server_opt_out_work").entered();
        tracing::info!(feature = "server_test.opt_out", "working");
        tracing::error!("server test: opt-out check");
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry.last_event_id();
    drop(telemetry);
    (enabled, id)
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_do_not_track_sends_nothing_at_all() {
    let bugsink = Bugsink::require();

    let envelopes_before = bugsink.envelopes().len();
    let events_before = bugsink.event_count();
    let (enabled, id) = use_everything(&bugsink, &[("DO_NOT_TRACK", "1")]);
    assert!(!enabled, "DO_NOT_TRACK=1 turns telemetry off");
    assert_eq!(id, None);
    sleep(Duration::from_millis(500)); // anything still on its way
    assert_eq!(
        bugsink.envelopes().len(),
        envelopes_before,
        "with DO_NOT_TRACK=1 no request reached the server"
    );
    assert_eq!(bugsink.event_count(), events_before);

    // The same with telemetry on does reach the server, so the counts above can tell.
    let (enabled, id) = use_everything(&bugsink, &[]);
    assert!(enabled);
    let id = id.expect("an event was sent");
    assert!(bugsink.event(&id).is_some(), "event {id} arrived");
    assert!(
        bugsink.envelopes().len() > envelopes_before,
        "with telemetry on, requests reached the server"
    );
    assert!(bugsink.event_count() > events_before);
}
