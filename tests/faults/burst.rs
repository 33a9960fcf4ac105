//! Bursts to a healthy server (sentry's queue of 30 loses 94% of a burst of 10,000):
//! the first 10 repeats a minute of one error from one call site are sent one by
//! one (GlitchTip counts events, nothing else), the rest ride on a few events'
//! repeat counts, which add up to the burst; distinct errors are queued (up to 256)
//! with every loss counted in a client report, so delivered + discarded == logged.
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
use common::faults::{
    Injector, Latencies, Mode, P999_BOUND, discarded_by_reason, message, repeat_count,
};

const SHUTDOWN: Duration = Duration::from_secs(5);

#[test]
fn a_burst_of_one_error_arrives_as_a_few_counted_events() {
    const BURST: u64 = 10_000;
    let server = Injector::start(Mode::Healthy);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    let latencies = run(&telemetry, || {
        Latencies::measure(BURST as usize, |_| tracing::error!("the same failure"))
    });
    latencies.report("healthy server, 10,000 identical errors from one call site");
    assert!(latencies.p999() < P999_BOUND);
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);

    let events: Vec<_> = server
        .delivered_events()
        .into_iter()
        .filter(|e| message(e) == "the same failure")
        .collect();
    let counted: u64 = events.iter().map(repeat_count).sum();
    let lost: u64 = discarded_by_reason(&server.delivered_client_reports(), "error")
        .iter()
        .map(|(_, q)| q)
        .sum();
    eprintln!(
        "[fault] burst of {BURST} identical errors: {} events, repeat counts {:?}, sum {counted}, discarded {lost}; {} requests",
        events.len(),
        events.iter().map(repeat_count).collect::<Vec<_>>(),
        server.request_count()
    );
    assert_eq!(counted + lost, BURST, "every occurrence is counted");
    assert_eq!(
        lost, 0,
        "nothing needs dropping: repeats only increment a count"
    );
    assert!(
        events.len() >= 10,
        "the first 10 of the minute are sent one by one: {:?}",
        events.iter().map(repeat_count).collect::<Vec<_>>()
    );
    assert!(
        events.len() <= 100,
        "{} events for one error repeated {BURST} times",
        events.len()
    );
}

#[test]
fn distinct_errors_are_queued_and_losses_counted() {
    const DISTINCT: u64 = 1_000;
    let server = Injector::start(Mode::Healthy);
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    let latencies = run(&telemetry, || {
        Latencies::measure(DISTINCT as usize, |i| {
            tracing::error!(i, "distinct failure {i}")
        })
    });
    latencies.report("healthy server, 1,000 distinct errors");
    assert!(latencies.p999() < P999_BOUND);
    assert!(telemetry.flush(FLUSH));
    // One more event carries the client report of the last losses, if any.
    run(&telemetry, || tracing::error!("report carrier"));
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);

    let arrived: u64 = server
        .delivered_events()
        .iter()
        .filter(|e| message(e).starts_with("distinct failure"))
        .map(repeat_count)
        .sum();
    let reports = server.delivered_client_reports();
    let by_reason = discarded_by_reason(&reports, "error");
    let lost: u64 = by_reason.iter().map(|(_, q)| q).sum();
    eprintln!(
        "[fault] burst of {DISTINCT} distinct errors: {arrived} delivered, {lost} discarded {by_reason:?}; {} requests",
        server.request_count()
    );
    assert_eq!(arrived + lost, DISTINCT, "delivered + discarded == logged");
    assert!(
        arrived >= 256,
        "only {arrived} of {DISTINCT} delivered: the queue holds 256 distinct errors"
    );
}
