//! 500s and connection resets: exponential backoff, so persistent failure costs at
//! most 10 requests in any 5 seconds (sentry sends hundreds), and sending resumes
//! once the server recovers, at the next backoff expiry.
//!
//! Each test: 5 s of failure with a new distinct error every 20 ms, then the server
//! turns healthy and errors keep coming (every 50 ms) until one is delivered. With
//! backoff 0.5, 1, 2, 4 s the failures are at about 0, 0.5, 1.5 and 3.5 s and the
//! next try at 7.5 s.
//!
//! In virtual time (`testing::Clock`): the backoff reads a clock the test moves
//! forward by 20 (then 50) ms after each error is flushed, instead of sleeping,
//! and the injector stamps requests with that clock; the 8 s schedule takes
//! well under a second.
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
use common::faults::{Injector, Mode, discarded_by_reason, max_in_window, message, repeat_count};
use openadapt_telemetry::testing::Clock;

const SHUTDOWN: Duration = Duration::from_secs(2);
const FAILING: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(5);
const MAX_PER_WINDOW: usize = 10;
/// Longest wait for recovery: the backoff after 5 s of failure is at most 8 s.
const RECOVERY: Duration = Duration::from_secs(20);

fn backs_off_and_recovers(mode: Mode, label: &str) {
    let clock = Clock::new();
    let server = Injector::start_on(mode, &clock);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .clock(&clock)
        .init();
    assert!(telemetry.is_enabled());
    // Each error is dealt with (sent, or held back by the backoff) at the
    // time it was logged, then the clock moves on.
    let log = |f: &dyn Fn()| {
        run(&telemetry, f);
        let flush_start = Instant::now();
        let _ = telemetry.flush(FLUSH);
        assert!(flush_start.elapsed() < FLUSH + Duration::from_secs(1));
    };

    let start = clock.now();
    let mut k = 0u32;
    while clock.now() - start < FAILING {
        log(&|| tracing::error!(k, "failure {k}"));
        k += 1;
        clock.advance(Duration::from_millis(20));
    }
    let failing = server.requests();
    let offsets: Vec<String> = failing
        .iter()
        .map(|r| format!("{:.2}", (r.at - start).as_secs_f64()))
        .collect();
    eprintln!(
        "[fault] {label}: {} requests in {FAILING:?} of failure while {k} errors were logged, at [{}] s",
        failing.len(),
        offsets.join(", ")
    );
    assert!(!failing.is_empty(), "{label}: nothing was even tried");
    assert!(
        failing.len() >= 2,
        "{label}: never retried after the first failure"
    );
    assert!(
        max_in_window(&failing, WINDOW) <= MAX_PER_WINDOW,
        "{label}: {} requests in 5 s",
        max_in_window(&failing, WINDOW)
    );

    server.set_mode(Mode::Healthy);
    let healed = clock.now();
    let mut after = 0u32;
    while clock.now() - healed < RECOVERY && server.delivered_events().is_empty() {
        log(&|| tracing::error!(after, "after recovery {after}"));
        after += 1;
        clock.advance(Duration::from_millis(50));
    }
    let recovered = clock.now() - healed;
    let delivered = server.delivered_events();
    assert!(
        !delivered.is_empty(),
        "{label}: nothing delivered within {RECOVERY:?} of the server's recovery"
    );
    // Once through, sending is back to normal: the next errors arrive at once.
    run(&telemetry, || tracing::error!("steady after recovery"));
    assert!(telemetry.flush(FLUSH));
    let steady = server
        .delivered_events()
        .iter()
        .any(|e| message(e) == "steady after recovery");
    drop(telemetry);

    let all = server.requests();
    let reports = server.delivered_client_reports();
    eprintln!(
        "[fault] {label}: delivery resumed {recovered:?} after the server recovered \
         ({} requests in all, at most {} in any 5 s); client reports: {:?}",
        all.len(),
        max_in_window(&all, WINDOW),
        discarded_by_reason(&reports, "error"),
    );
    assert!(
        steady,
        "{label}: an error right after recovery was not delivered"
    );
    assert!(
        max_in_window(&all, WINDOW) <= MAX_PER_WINDOW,
        "{label}: {} requests in 5 s",
        max_in_window(&all, WINDOW)
    );
    // Printed only: the accounting is faults/client_reports.rs's.
    let logged = u64::from(k) + u64::from(after) + 1;
    let arrived: u64 = server.delivered_events().iter().map(repeat_count).sum();
    let lost: u64 = discarded_by_reason(&reports, "error")
        .iter()
        .map(|(_, q)| q)
        .sum();
    eprintln!("[fault] {label}: logged {logged}, delivered {arrived}, counted as discarded {lost}");
}

#[test]
fn server_errors_back_off_and_recover() {
    backs_off_and_recovers(Mode::ServerError, "500 on everything");
}

#[test]
fn connection_resets_back_off_and_recover() {
    backs_off_and_recovers(Mode::Reset, "connection reset");
}
