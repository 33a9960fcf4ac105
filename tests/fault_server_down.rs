//! Server down (connection refused): callers never wait on the network, the
//! guard's drop is bounded, and the failures themselves are never captured (no loop).
//!
//! Run with `--nocapture` to see the measured latencies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::capture::{builder, run};
use common::faults::{
    Injector, Latencies, Mode, P999_BOUND, discarded_by_reason, message, repeat_count,
};
use openadapt_telemetry::testing::Clock;
use tracing_subscriber::prelude::*;

const SHUTDOWN: Duration = Duration::from_secs(2);
/// Generous: a bound on hangs, not a speed claim.
const SLACK: Duration = Duration::from_secs(1);
const CALLS: usize = 10_000;

/// An injector that was listening and is stopped: connecting is refused.
fn down() -> Injector {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    server
}

#[test]
fn callers_never_wait_and_drop_is_bounded_with_the_server_down() {
    let server = down();
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .init();
    assert!(telemetry.is_enabled());

    let latencies = run(&telemetry, || {
        Latencies::measure(CALLS, |i| tracing::error!(i, "server down failure {i}"))
    });
    latencies.report("server down (connection refused), 10,000 distinct errors");
    assert!(
        latencies.p999() < P999_BOUND,
        "p99.9 {:?} >= {P999_BOUND:?}",
        latencies.p999()
    );

    // A flush against a refused port is bounded too.
    let start = Instant::now();
    let _ = telemetry.flush(SHUTDOWN);
    let flush = start.elapsed();
    assert!(flush < SHUTDOWN + SLACK, "flush took {flush:?}");

    run(&telemetry, || {
        for i in 0..100 {
            tracing::error!(i, "more failures while down {i}");
        }
    });
    let start = Instant::now();
    drop(telemetry);
    let dropped = start.elapsed();
    eprintln!("[fault] server down: flush {flush:?}, guard drop {dropped:?}");
    assert!(dropped < SHUTDOWN + SLACK, "drop took {dropped:?}");
    assert_eq!(server.request_count(), 0);
}

/// Counts every tracing event in the process emitted on the telemetry worker's thread.
#[derive(Clone, Default)]
struct WorkerEvents {
    count: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WorkerEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if std::thread::current().name() == Some("openadapt-telemetry") {
            self.count.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut t) = self.targets.lock() {
                t.push(event.metadata().target().to_owned());
            }
        }
    }
}

/// With the layer installed as the global subscriber (so every thread, the worker
/// and its HTTP stack included, reports to it), failing sends produce no event:
/// once the server is back, it receives only what the program logged.
#[test]
fn failures_are_not_captured_again() {
    let mut server = down();
    // The backoff after the failures is moved through on this clock.
    let clock = Clock::new();
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &server.dsn())])
        .shutdown_timeout(SHUTDOWN)
        .clock(&clock)
        .init();
    let worker_events = WorkerEvents::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(telemetry.layer())
            .with(worker_events.clone()),
    )
    .expect("the only global subscriber of this test binary");

    let sent_while_down = 2_000;
    for i in 0..sent_while_down {
        tracing::error!(i, "down failure {i}");
    }
    let _ = telemetry.flush(SHUTDOWN);

    // Back up: markers until one gets through the backoff (2 s at most after the
    // two or three failures above; bounded at 15 s).
    server.restart();
    let start = clock.now();
    let mut markers = 0;
    while clock.now() - start < Duration::from_secs(15) {
        tracing::error!("marker {markers}");
        markers += 1;
        assert!(telemetry.flush(Duration::from_secs(6)));
        if !server.delivered_events().is_empty() {
            break;
        }
        clock.advance(Duration::from_millis(100));
    }
    let recovered = clock.now() - start;
    let delivered = server.delivered_events();
    assert!(
        !delivered.is_empty(),
        "nothing arrived within 15 s of the restart"
    );

    // One more event to carry the last client report, then shut down.
    tracing::error!("last marker");
    markers += 1;
    drop(telemetry);

    let delivered = server.delivered_events();
    for event in &delivered {
        let text = message(event);
        assert!(
            text.starts_with("down failure") || text.starts_with("marker") || text == "last marker",
            "an event the program did not log: {event}"
        );
        let logger = event["logger"].as_str().unwrap_or_default();
        assert!(
            !["openadapt_telemetry", "ureq", "rustls", "sentry"]
                .iter()
                .any(|t| logger.starts_with(t)),
            "captured its own machinery: {event}"
        );
    }
    let on_worker = worker_events.count.load(Ordering::Relaxed);
    let reports = server.delivered_client_reports();
    let lost = discarded_by_reason(&reports, "error");
    let lost_total: u64 = lost.iter().map(|(_, q)| q).sum();
    let sent = sent_while_down + markers;
    let arrived: u64 = delivered.iter().map(repeat_count).sum();
    eprintln!(
        "[fault] server down then back: recovered after {recovered:?} ({markers} markers); \
         {} events delivered; client reports count {lost:?}; delivered + discarded = {} of {sent} sent; \
         tracing events emitted on the worker thread: {on_worker} {:?}",
        delivered.len(),
        arrived + lost_total,
        worker_events
            .targets
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    );
    assert_eq!(on_worker, 0, "the worker emitted tracing events");
    // The accounting (delivered + discarded == logged) is faults/client_reports.rs's.
}
