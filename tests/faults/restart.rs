//! The server killed mid-run and started again on the same port: events logged
//! after the restart arrive (once the backoff the outage caused has expired), and
//! a transport stuck on a silent server is freed by the kill.
//!
//! Run with `--nocapture` to see the measured figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::{Duration, Instant};

use common::capture::{FLUSH, builder, run};
use common::faults::{Injector, Mode, discarded_by_reason, message};

const SHUTDOWN: Duration = Duration::from_secs(2);
/// Longest wait for an event after the restart (one or two failures: backoff ≤ 1 s,
/// plus a request stuck on a silent server: ≤ 5 s request timeout).
const AFTER_RESTART: Duration = Duration::from_secs(12);

/// Logs a new error every 100 ms until one of them is delivered; returns how long it took.
fn until_delivered(
    server: &Injector,
    telemetry: &openadapt_telemetry::Telemetry,
) -> Option<Duration> {
    let start = Instant::now();
    let mut k = 0;
    while start.elapsed() < AFTER_RESTART {
        run(telemetry, || tracing::error!(k, "after restart {k}"));
        k += 1;
        std::thread::sleep(Duration::from_millis(100));
        if server
            .delivered_events()
            .iter()
            .any(|e| message(e).starts_with("after restart"))
        {
            return Some(start.elapsed());
        }
    }
    None
}

#[test]
fn events_after_a_restart_arrive() {
    let mut server = Injector::start(Mode::Healthy);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    run(&telemetry, || tracing::error!("before the kill"));
    assert!(telemetry.flush(FLUSH));
    assert_eq!(server.delivered_events().len(), 1);

    server.stop();
    run(&telemetry, || tracing::error!("while the server is down"));
    assert!(telemetry.flush(FLUSH));

    server.restart();
    let delay = until_delivered(&server, &telemetry);
    // One more, to carry the client report of whatever was lost.
    run(&telemetry, || tracing::error!("last"));
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);
    let reports = server.delivered_client_reports();
    eprintln!(
        "[fault] server killed and restarted on the same port: first event after the restart \
         delivered {delay:?} after it; client reports: {:?}",
        discarded_by_reason(&reports, "error")
    );
    assert!(
        delay.is_some(),
        "nothing delivered within {AFTER_RESTART:?} of the restart"
    );
    assert!(
        server
            .delivered_events()
            .iter()
            .any(|e| message(e) == "last")
    );
    assert!(
        discarded_by_reason(&reports, "error")
            .iter()
            .any(|(reason, q)| reason == "network_error" && *q >= 1),
        "the event lost while the server was down is counted in a client report"
    );
}

#[test]
fn a_kill_frees_a_transport_stuck_on_a_silent_server() {
    let mut server = Injector::start(Mode::Silent);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    run(&telemetry, || tracing::error!("stuck"));
    assert!(server.wait_until(Duration::from_secs(5), |r| !r.is_empty()));

    // Kill (closes the held socket), start again healthy.
    server.stop();
    server.set_mode(Mode::Healthy);
    server.restart();
    let delay = until_delivered(&server, &telemetry);
    drop(telemetry);
    eprintln!(
        "[fault] silent server killed and restarted: first event after the restart delivered {delay:?} after it"
    );
    assert!(
        delay.is_some(),
        "nothing delivered within {AFTER_RESTART:?} of the restart"
    );
}
