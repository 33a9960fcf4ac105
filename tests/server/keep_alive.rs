//! The transport keeps its connection alive between envelopes and stamps every request with its own time
//! (issue 12.8): a loopback server speaking HTTP/1.1 keep-alive counts the TCP connections it accepts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::Duration;

use common::capture::{FLUSH, builder, run};
use common::faults::{Injector, Mode, Request};

/// How far apart the two requests are sent.
const APART: Duration = Duration::from_millis(150);

#[test]
fn envelopes_share_one_kept_alive_connection() {
    let server = Injector::start(Mode::Healthy);
    let telemetry = builder(&[]).dsn(server.dsn()).init();
    run(&telemetry, || {
        for i in 0..5 {
            tracing::error!("failure number {i}");
        }
    });
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);
    let events = server.delivered_events();
    assert_eq!(events.len(), 5, "one envelope per event");
    assert!(server.request_count() >= 5);
    assert_eq!(
        server.connections(),
        1,
        "{} requests over {} connections",
        server.request_count(),
        server.connections()
    );
}

/// `sentry_timestamp` of a request's `X-Sentry-Auth`.
fn sentry_timestamp(request: &Request) -> f64 {
    let auth = request
        .headers
        .iter()
        .find(|(name, _)| name == "x-sentry-auth")
        .map(|(_, v)| v.as_str())
        .expect("an X-Sentry-Auth header");
    auth.split(',')
        .find_map(|part| part.trim().strip_prefix("sentry_timestamp="))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no numeric sentry_timestamp in {auth}"))
}

#[test]
fn each_request_is_stamped_with_its_own_time() {
    let server = Injector::start(Mode::Healthy);
    let telemetry = builder(&[]).dsn(server.dsn()).init();
    run(&telemetry, || tracing::error!("first"));
    assert!(telemetry.flush(FLUSH));
    std::thread::sleep(APART);
    run(&telemetry, || tracing::error!("second"));
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let (first, second) = (
        sentry_timestamp(&requests[0]),
        sentry_timestamp(&requests[1]),
    );
    // Stamped to the millisecond.
    assert!(
        second - first >= APART.as_secs_f64() - 0.001,
        "sentry_timestamp {first} then {second}: the time of each request"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - second).abs() < 60.0,
        "seconds since the epoch: {second}"
    );
}
