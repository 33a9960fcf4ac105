//! After a `429` with `Retry-After` or with `X-Sentry-Rate-Limits` for the error
//! category, no further request reaches the server until the limit expires, while
//! new errors keep coming: not even a client-report-only envelope (sentry sends
//! hundreds of those), not at flush, not at the guard's drop.
//!
//! In virtual time (`testing::Clock`): the rate limits read a clock the test
//! moves forward between rounds instead of sleeping, so 3 s of rounds take a
//! fraction of that.
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
use common::faults::{Injector, Mode};
use openadapt_telemetry::testing::Clock;

const SHUTDOWN: Duration = Duration::from_secs(2);
/// How long new errors keep coming after the 429 (well inside the 30 s limit).
const OBSERVE: Duration = Duration::from_secs(3);

fn one_request_per_limit(mode: Mode, label: &str) {
    let clock = Clock::new();
    let server = Injector::start(mode);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .clock(&clock)
        .init();
    assert!(telemetry.is_enabled());

    run(&telemetry, || tracing::error!("first failure"));
    assert!(telemetry.flush(FLUSH));
    assert!(
        server.wait_until(Duration::from_secs(5), |r| !r.is_empty()),
        "{label}: the first error was never sent"
    );
    let first = server.requests()[0].clone();
    assert!(
        first.has_event(),
        "{label}: the first request carries the event"
    );

    // New errors (distinct, and repeats) keep coming for a few seconds, flushed each round.
    let start = clock.now();
    let mut sent = 0;
    let mut round = 0;
    while clock.now() - start < OBSERVE {
        run(&telemetry, || {
            for k in 0..20 {
                tracing::error!(round, k, "later failure {round}-{k}");
            }
            for _ in 0..20 {
                tracing::error!("the same later failure");
            }
        });
        sent += 40;
        round += 1;
        let flush_start = Instant::now();
        assert!(telemetry.flush(FLUSH), "{label}: flush failed");
        assert!(flush_start.elapsed() < FLUSH);
        clock.advance(Duration::from_millis(100));
    }
    let start_drop = Instant::now();
    drop(telemetry);
    let dropped = start_drop.elapsed();
    let requests = server.requests();
    eprintln!(
        "[fault] {label}: {} request(s) seen over {:?} (virtual: {:?}) while {sent} more errors \
         were logged in {round} flushed rounds; guard drop {dropped:?}",
        requests.len(),
        first.at.elapsed(),
        clock.now().saturating_duration_since(first.at),
    );
    assert_eq!(
        requests.len(),
        1,
        "{label}: requests after the 429: {:?}",
        requests
            .iter()
            .skip(1)
            .map(|r| r.items.iter().map(|i| i.kind.clone()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    assert!(dropped < SHUTDOWN + Duration::from_secs(1));
}

#[test]
fn retry_after_stops_every_request() {
    one_request_per_limit(Mode::retry_after(30), "429 + Retry-After: 30");
}

#[test]
fn an_error_category_limit_stops_every_request() {
    one_request_per_limit(
        Mode::sentry_rate_limits("30:error:organization"),
        "429 + X-Sentry-Rate-Limits: 30:error:organization",
    );
}

/// The same limit announced on a `200` (servers send it there too): the event
/// was taken, and no further error request follows.
#[test]
fn an_error_category_limit_on_a_success_stops_error_requests() {
    one_request_per_limit(
        Mode::Status(
            200,
            vec![(
                "X-Sentry-Rate-Limits".into(),
                "30:error:organization".into(),
            )],
        ),
        "200 + X-Sentry-Rate-Limits: 30:error:organization",
    );
}
