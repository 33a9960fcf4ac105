//! A server that accepts connections and never answers (sentry's guard never
//! returns there): callers never wait, `flush(timeout)` with a full queue and the
//! guard's drop both return in time.
//!
//! Run with `--nocapture` to see the measured figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::{Duration, Instant};

use common::capture::{builder, run};
use common::faults::{Injector, Latencies, Mode, P999_BOUND};

/// Shorter than the default without a spool (2 s, as here before): what is
/// asserted is that the drop and the flush keep to their timeouts.
const SHUTDOWN: Duration = Duration::from_millis(500);
const FLUSH_TIMEOUT: Duration = Duration::from_millis(500);
/// The request timeout of the stuck-request test (the default is 5 s).
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// Generous: a bound on hangs, not a speed claim.
const SLACK: Duration = Duration::from_secs(1);
const CALLS: usize = 10_000;

#[test]
fn a_silent_server_blocks_no_caller_flush_or_drop() {
    let server = Injector::start(Mode::Silent);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    assert!(telemetry.is_enabled());

    let latencies = run(&telemetry, || {
        Latencies::measure(CALLS, |i| tracing::error!(i, "silent server failure {i}"))
    });
    latencies.report("silent server, 10,000 distinct errors");
    assert!(
        latencies.p999() < P999_BOUND,
        "p99.9 {:?} >= {P999_BOUND:?}",
        latencies.p999()
    );

    // The worker is stuck in its first request; the queue is full (10,000 distinct
    // errors against a bound of 256).
    assert!(
        server.wait_until(Duration::from_secs(5), |r| !r.is_empty()),
        "the first request never reached the server"
    );
    let start = Instant::now();
    let flushed = telemetry.flush(FLUSH_TIMEOUT);
    let flush = start.elapsed();
    assert!(!flushed, "nothing can be delivered to a silent server");
    assert!(
        flush < FLUSH_TIMEOUT + SLACK,
        "flush({FLUSH_TIMEOUT:?}) took {flush:?}"
    );

    // Callers are still not blocked while a flush is pending or the worker is stuck.
    let again = run(&telemetry, || {
        Latencies::measure(1_000, |i| tracing::error!(i, "after flush {i}"))
    });
    again.report("silent server, 1,000 more errors after the flush");
    assert!(again.p999() < P999_BOUND, "p99.9 {:?}", again.p999());

    let start = Instant::now();
    drop(telemetry);
    let dropped = start.elapsed();
    let requests = server.request_count();
    eprintln!(
        "[fault] silent server: flush({FLUSH_TIMEOUT:?}) returned false after {flush:?}; \
         guard drop (shutdown timeout {SHUTDOWN:?}) {dropped:?}; requests seen {requests}"
    );
    assert!(dropped < SHUTDOWN + SLACK, "drop took {dropped:?}");
    // One request is stuck (5 s request timeout); at most one more could start in the window.
    assert!(
        requests <= 2,
        "{requests} requests to a server that never answered"
    );
}

/// The guard's drop is bounded even when it is the only thing waiting (no flush before).
#[test]
fn drop_alone_is_bounded_with_a_silent_server() {
    let server = Injector::start(Mode::Silent);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    run(&telemetry, || {
        for i in 0..300 {
            tracing::error!(i, "silent drop {i}");
        }
    });
    assert!(server.wait_until(Duration::from_secs(5), |r| !r.is_empty()));
    let start = Instant::now();
    drop(telemetry);
    let dropped = start.elapsed();
    eprintln!("[fault] silent server, drop without flush: {dropped:?}");
    assert!(dropped < SHUTDOWN + SLACK, "drop took {dropped:?}");
}

/// Every request has a timeout: once the silent server starts answering (without
/// closing the connection it holds), the stuck request times out (5 s by
/// default; [`REQUEST_TIMEOUT`] here) and later events are delivered.
#[test]
fn a_stuck_request_times_out_and_sending_resumes() {
    let server = Injector::start(Mode::Silent);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .request_timeout(REQUEST_TIMEOUT)
        .init();
    run(&telemetry, || tracing::error!("stuck"));
    assert!(server.wait_until(Duration::from_secs(5), |r| !r.is_empty()));
    let stuck_at = server.requests()[0].at;
    server.set_mode(Mode::Healthy);
    let mut k = 0;
    while stuck_at.elapsed() < Duration::from_secs(15) && server.delivered_events().is_empty() {
        run(&telemetry, || tracing::error!(k, "after the silence {k}"));
        k += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let delivered_at = server
        .requests()
        .iter()
        .find(|r| r.mode == Mode::Healthy && r.has_event())
        .map(|r| r.at - stuck_at);
    drop(telemetry);
    eprintln!(
        "[fault] silent server turned healthy: first delivery {delivered_at:?} after the stuck request began"
    );
    assert!(
        delivered_at.is_some(),
        "nothing delivered within 15 s: the stuck request never timed out"
    );
    // Not before the request timed out: the stuck request was not cut short.
    assert!(
        delivered_at.is_some_and(|d| d >= REQUEST_TIMEOUT),
        "delivered {delivered_at:?} after the stuck request began"
    );
}
