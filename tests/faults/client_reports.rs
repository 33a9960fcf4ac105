//! Whatever is dropped under a fault is counted in a client report that reaches the
//! server once it is healthy again: delivered + discarded == logged.
//!
//! A client report rides on the next envelope; when that envelope is itself dropped
//! (backoff, rate limit, failed request), its counts must not vanish with it.
//! Events the server answered `429` are not counted by the client (the server
//! counts them, as the Sentry client-report spec says).
//!
//! In virtual time (`testing::Clock`): the backoff and the rate limit read a
//! clock the tests move forward instead of sleeping.
//!
//! Run with `--nocapture` to see the measured figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::time::Duration;

use common::capture::{FLUSH, builder, run};
use common::faults::{Injector, Mode, discarded_by_reason, message, repeat_count};
use openadapt_telemetry::Telemetry;
use openadapt_telemetry::testing::Clock;

const SHUTDOWN: Duration = Duration::from_secs(2);
const RECOVERY: Duration = Duration::from_secs(15);

/// Starts telemetry for `server` on `clock`.
fn start(server: &Injector, clock: &Clock) -> Telemetry {
    builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .clock(clock)
        .init()
}

/// Logs carriers until one is delivered (the backoff may drop the first ones), then
/// one more. Returns how many were logged.
fn carriers(server: &Injector, telemetry: &Telemetry, clock: &Clock) -> u64 {
    let start = clock.now();
    let mut n = 0;
    while clock.now() - start < RECOVERY {
        run(telemetry, || tracing::error!(n, "carrier {n}"));
        n += 1;
        assert!(telemetry.flush(FLUSH));
        if server
            .delivered_events()
            .iter()
            .any(|e| message(e).starts_with("carrier"))
        {
            break;
        }
        clock.advance(Duration::from_millis(100));
    }
    run(telemetry, || tracing::error!("final carrier"));
    assert!(telemetry.flush(FLUSH));
    n + 1
}

fn check(server: &Injector, logged: u64, label: &str) {
    let arrived: u64 = server.delivered_events().iter().map(repeat_count).sum();
    let by_reason = discarded_by_reason(&server.delivered_client_reports(), "error");
    let lost: u64 = by_reason.iter().map(|(_, q)| q).sum();
    eprintln!(
        "[fault] {label}: logged {logged}, delivered {arrived}, counted as discarded {lost} {by_reason:?}"
    );
    assert_eq!(
        arrived + lost,
        logged,
        "{label}: {} errors neither delivered nor counted in a client report",
        logged as i64 - (arrived + lost) as i64
    );
}

#[test]
fn losses_while_the_server_is_down_are_counted() {
    let clock = Clock::new();
    let mut server = Injector::start(Mode::Healthy);
    let telemetry = start(&server, &clock);
    server.stop();
    let down = 500;
    run(&telemetry, || {
        for i in 0..down {
            tracing::error!(i, "while down {i}");
        }
    });
    assert!(telemetry.flush(FLUSH));
    server.restart();
    let logged = down + carriers(&server, &telemetry, &clock);
    drop(telemetry);
    check(&server, logged, "server down then back");
}

#[test]
fn losses_during_5xx_backoff_are_counted() {
    let clock = Clock::new();
    let server = Injector::start(Mode::ServerError);
    let telemetry = start(&server, &clock);
    let started = clock.now();
    let mut failing = 0;
    // An error every 20 ms for 1.5 s, each dealt with at the time it was logged.
    while clock.now() - started < Duration::from_millis(1500) {
        run(&telemetry, || {
            tracing::error!(failing, "during 500s {failing}")
        });
        failing += 1;
        assert!(telemetry.flush(FLUSH));
        clock.advance(Duration::from_millis(20));
    }
    server.set_mode(Mode::Healthy);
    let logged = failing + carriers(&server, &telemetry, &clock);
    drop(telemetry);
    check(&server, logged, "500s then healthy");
}

#[test]
fn losses_during_a_rate_limit_are_counted() {
    let clock = Clock::new();
    let server = Injector::start(Mode::retry_after(1));
    let telemetry = start(&server, &clock);
    run(&telemetry, || tracing::error!("answered 429"));
    assert!(telemetry.flush(FLUSH));
    assert_eq!(server.request_count(), 1);
    server.set_mode(Mode::Healthy);
    // While the 1 s limit is in force: dropped (ratelimit_backoff), no request.
    let limited = 100;
    run(&telemetry, || {
        for i in 0..limited {
            tracing::error!(i, "while limited {i}");
        }
    });
    assert!(telemetry.flush(FLUSH));
    let during = server.request_count();
    clock.advance(Duration::from_millis(1300));
    let logged = limited + carriers(&server, &telemetry, &clock);
    drop(telemetry);
    assert_eq!(during, 1, "a request while the limit was in force");
    // The 429'd event is the server's to count.
    check(&server, logged, "429 Retry-After: 1 then healthy");
}
