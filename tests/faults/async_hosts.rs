//! Async hosts (sentry's flush hangs there: firezone/firezone#7205): `flush()` and
//! the guard's drop, called from inside a tokio runtime (current-thread, and a
//! worker thread of a multi-thread runtime), return within their bounds and lose
//! nothing against a healthy server.
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
use common::faults::{Injector, Mode, message, repeat_count};

const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN: Duration = Duration::from_secs(5);
const SLACK: Duration = Duration::from_secs(1);
const DISTINCT: u64 = 50;
const REPEATS: u64 = 100;

struct Timings {
    flushed: bool,
    flush: Duration,
    drop: Duration,
    thread: Option<String>,
}

/// Everything happens inside the async task: init, logging, flush, more logging, drop.
async fn host(dsn: String) -> Timings {
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DSN", &dsn)])
        .shutdown_timeout(SHUTDOWN)
        .init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || {
        for i in 0..DISTINCT {
            tracing::error!(i, "before flush {i}");
        }
        for _ in 0..REPEATS {
            tracing::error!("repeated before flush");
        }
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    let flushed = telemetry.flush(FLUSH_TIMEOUT);
    let flush = start.elapsed();
    // The runtime still works after a flush from inside it.
    tokio::time::sleep(Duration::from_millis(10)).await;
    run(&telemetry, || {
        for i in 0..DISTINCT {
            tracing::error!(i, "before drop {i}");
        }
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    drop(telemetry);
    let drop = start.elapsed();
    Timings {
        flushed,
        flush,
        drop,
        thread: std::thread::current().name().map(str::to_owned),
    }
}

fn check(server: &Injector, t: &Timings, label: &str) {
    let events = server.delivered_events();
    let count = |prefix: &str| -> u64 {
        events
            .iter()
            .filter(|e| message(e).starts_with(prefix))
            .map(repeat_count)
            .sum()
    };
    let (before_flush, repeated, before_drop) = (
        count("before flush"),
        count("repeated before flush"),
        count("before drop"),
    );
    eprintln!(
        "[fault] {label}: discarded {:?}",
        common::faults::discarded_by_reason(&server.delivered_client_reports(), "error")
    );
    eprintln!(
        "[fault] {label} (thread {:?}): flush {:?} -> {}, guard drop {:?}; delivered {before_flush}/{DISTINCT} \
         before the flush, {repeated}/{REPEATS} repeats, {before_drop}/{DISTINCT} before the drop",
        t.thread, t.flush, t.flushed, t.drop
    );
    assert!(t.flushed, "{label}: flush returned false");
    assert!(
        t.flush < FLUSH_TIMEOUT + SLACK,
        "{label}: flush took {:?}",
        t.flush
    );
    assert!(t.drop < SHUTDOWN + SLACK, "{label}: drop took {:?}", t.drop);
    assert_eq!(before_flush, DISTINCT, "{label}: lost before the flush");
    assert_eq!(repeated, REPEATS, "{label}: repeats lost");
    assert_eq!(before_drop, DISTINCT, "{label}: lost at the drop");
}

#[test]
fn current_thread_runtime() {
    let server = Injector::start(Mode::Healthy);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let timings = runtime.block_on(host(server.dsn()));
    check(&server, &timings, "tokio current-thread runtime");
}

#[test]
fn multi_thread_runtime_worker() {
    let server = Injector::start(Mode::Healthy);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime");
    let dsn = server.dsn();
    let timings = runtime
        .block_on(async move { tokio::spawn(host(dsn)).await })
        .expect("the task panicked");
    // tokio names its workers `tokio-runtime-worker` (older) or `tokio-rt-worker`.
    let thread = timings.thread.clone().unwrap_or_default();
    assert!(
        thread.starts_with("tokio-r") && thread.ends_with("worker"),
        "ran on {thread:?}, not a runtime worker thread"
    );
    check(
        &server,
        &timings,
        "tokio multi-thread runtime, worker thread",
    );
}

/// The same with every worker of the runtime busy in flush at once.
#[test]
fn multi_thread_runtime_all_workers_flushing() {
    let server = Injector::start(Mode::Healthy);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime");
    let dsn = server.dsn();
    let start = Instant::now();
    let results = runtime.block_on(async move {
        let telemetry = std::sync::Arc::new(
            builder(&[("OPENADAPT_TELEMETRY_DSN", &dsn)])
                .shutdown_timeout(SHUTDOWN)
                .init(),
        );
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let telemetry = telemetry.clone();
                tokio::spawn(async move {
                    run(&telemetry, || {
                        for i in 0..DISTINCT {
                            tracing::error!(t, i, "task {t} failure {i}");
                        }
                    });
                    telemetry.flush(FLUSH_TIMEOUT)
                })
            })
            .collect();
        let mut flushed = Vec::new();
        for task in tasks {
            flushed.push(task.await.expect("a task panicked"));
        }
        flushed
    });
    let elapsed = start.elapsed();
    let delivered = server
        .delivered_events()
        .iter()
        .filter(|e| message(e).starts_with("task "))
        .map(repeat_count)
        .sum::<u64>();
    eprintln!(
        "[fault] 4 tasks flushing on 2 tokio workers: {results:?} in {elapsed:?}; delivered {delivered}/{}",
        4 * DISTINCT
    );
    assert!(results.iter().all(|f| *f));
    assert!(elapsed < FLUSH_TIMEOUT + SHUTDOWN + SLACK);
    assert_eq!(delivered, 4 * DISTINCT);
}
