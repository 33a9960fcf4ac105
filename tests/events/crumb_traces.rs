//! Breadcrumbs belong to what they describe: an error's breadcrumbs are those
//! logged in its own trace (its root span tree, across threads and tasks), or,
//! outside any span, on its own thread; never another request's.
//!
//! Each case runs with spans unsampled (traces 0) and sampled (traces 1): which
//! crumbs an error carries does not depend on whether its trace is sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::testing::Captured;
use tracing::Dispatch;
use tracing::Instrument as _;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::prelude::*;

const RATES: [f32; 2] = [0.0, 1.0];
const STEPS: usize = 5;

/// The breadcrumb messages of the event whose message is `message`.
fn crumbs_of(captured: &Captured, message: &str) -> Vec<String> {
    let events = captured.events();
    let event = events
        .iter()
        .find(|e| e["message"] == message)
        .unwrap_or_else(|| panic!("no event {message:?}: {events:#?}"));
    event["breadcrumbs"]["values"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|c| c["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Fails unless the event `message` carries exactly `expected` as crumbs, in order.
fn assert_crumbs(captured: &Captured, message: &str, expected: &[String], rate: f32) {
    let crumbs = crumbs_of(captured, message);
    assert_eq!(
        crumbs, expected,
        "traces {rate}: the event {message:?} carries only its own breadcrumbs"
    );
}

fn steps(name: &str) -> Vec<String> {
    (0..STEPS).map(|i| format!("{name} step {i}")).collect()
}

fn log_steps(name: &str) {
    for i in 0..STEPS {
        tracing::info!("{name} step {i}");
    }
}

#[test]
fn two_threads_in_their_own_traces_and_one_outside_any_span() {
    for rate in RATES {
        let (telemetry, captured) = start(builder(&[]).traces_sample_rate(rate));
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
        // Every thread logs all its crumbs before any thread logs its error.
        let barrier = Barrier::new(3);
        std::thread::scope(|s| {
            for name in ["alpha", "beta"] {
                let (dispatch, barrier) = (&dispatch, &barrier);
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        let _root = tracing::info_span!("request", name).entered();
                        log_steps(name);
                        barrier.wait();
                        tracing::error!("{name} failed");
                    });
                });
            }
            let (dispatch, barrier) = (&dispatch, &barrier);
            s.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    log_steps("gamma");
                    barrier.wait();
                    tracing::error!("gamma failed");
                });
            });
        });
        assert!(telemetry.flush(FLUSH));
        assert_crumbs(&captured, "alpha failed", &steps("alpha"), rate);
        assert_crumbs(&captured, "beta failed", &steps("beta"), rate);
        assert_crumbs(&captured, "gamma failed", &steps("gamma"), rate);
    }
}

#[test]
fn a_trace_keeps_its_crumbs_across_threads() {
    for rate in RATES {
        let (telemetry, captured) = start(builder(&[]).traces_sample_rate(rate));
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
        tracing::dispatcher::with_default(&dispatch, || {
            let root = tracing::info_span!("request", name = "alpha");
            root.in_scope(|| tracing::info!("alpha started"));
            std::thread::scope(|s| {
                // A worker thread of alpha's request, in a child span of its root.
                s.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _work = tracing::info_span!(parent: &root, "work").entered();
                        tracing::info!("alpha worker step");
                    });
                });
                // Another request's thread, logging at the same time.
                s.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _other = tracing::info_span!("request", name = "beta").entered();
                        log_steps("beta");
                    });
                });
            });
            root.in_scope(|| tracing::error!("alpha failed"));
        });
        assert!(telemetry.flush(FLUSH));
        assert_crumbs(
            &captured,
            "alpha failed",
            &["alpha started".to_owned(), "alpha worker step".to_owned()],
            rate,
        );
    }
}

#[test]
fn two_tokio_tasks_in_their_own_traces() {
    for rate in RATES {
        let (telemetry, captured) = start(builder(&[]).traces_sample_rate(rate));
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(telemetry.layer()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("a runtime");
        // Tasks yield between crumbs (so they move between threads and
        // interleave), and each logs its error only once both logged all crumbs.
        let logged = Arc::new(AtomicUsize::new(0));
        runtime.block_on(async {
            let tasks: Vec<_> = ["alpha", "beta"]
                .into_iter()
                .map(|name| {
                    let logged = logged.clone();
                    let task = async move {
                        for i in 0..STEPS {
                            tracing::info!("{name} step {i}");
                            tokio::task::yield_now().await;
                        }
                        logged.fetch_add(1, Ordering::SeqCst);
                        while logged.load(Ordering::SeqCst) < 2 {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        tracing::error!("{name} failed");
                    };
                    // The span is made under the subscriber, or it would be disabled
                    // (no span at all: the crumbs would be the threads').
                    let span = tracing::dispatcher::with_default(&dispatch, || {
                        tracing::info_span!("request", name)
                    });
                    tokio::spawn(task.instrument(span).with_subscriber(dispatch.clone()))
                })
                .collect();
            for task in tasks {
                task.await.expect("the task");
            }
        });
        assert!(telemetry.flush(FLUSH));
        assert_crumbs(&captured, "alpha failed", &steps("alpha"), rate);
        assert_crumbs(&captured, "beta failed", &steps("beta"), rate);
    }
}
