//! Exit never waits on the network, and loses nothing (issue 11, items 2 and 3).
//!
//! - A program whose server is silent exits at once: its guard's drop spools
//!   what is left and returns (the issue asks ≤ 100 ms; asserted here with a
//!   generous 1 s bound, the measured p50/p95 printed with `--nocapture`). 6
//!   runs, or as many as `OPENADAPT_TEST_EXIT_RUNS` says: the figures quoted
//!   are of 20 (`OPENADAPT_TEST_EXIT_RUNS=20 cargo test --test behaviour
//!   spool::exit::a_silent -- --nocapture`). The next run with the server up delivers
//!   every error and every feature count of those runs, each once.
//! - `error!` then `std::process::exit(1)`: the error arrives, in the same run
//!   or the next (Bugsink; and the fault injector, which counts duplicates).
//!
//! Each program is a child process: this test binary run again with the role
//! in `OPENADAPT_SPOOL_TEST_ROLE`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::bugsink::Bugsink;
use common::capture::run;
use common::faults::{Injector, Mode, message};
use common::spool::{
    TempDir, builder, child_setup, count_ids, envelope_names, event_id, is_usage, nonce,
    read_spool, reported, role, twice, wait_for_claim,
};

/// Runs of the program against a silent server (each settled run waits
/// [`SETTLE`]), unless `OPENADAPT_TEST_EXIT_RUNS` says how many.
fn runs() -> usize {
    std::env::var("OPENADAPT_TEST_EXIT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(6)
}
/// The bound asserted on the guard's drop: generous, it catches a wait on the
/// network (the figure is 100 ms).
const DROP_BOUND: Duration = Duration::from_secs(1);
/// The longest a settled run waits for its worker to claim the error for
/// sending (it builds it first: its first backtrace is symbolised, 0.1 to
/// 0.4 s in this test binary).
const SETTLE: Duration = Duration::from_secs(5);
/// From the claim to the request on the wire, waiting on the silent server.
const ON_THE_WIRE: Duration = Duration::from_millis(50);
const FEATURE: &str = "spool.exit";
const FEATURE_USES: u64 = 3;

/// The child roles. In the parent (no role set) this does nothing and passes.
#[test]
fn spool_child() {
    let Some(role) = role() else {
        return;
    };
    let (dsn, dir, tag) = child_setup();
    let telemetry = builder(&dsn, &dir).init();
    assert!(telemetry.is_enabled());
    match role.as_str() {
        // Logs an error and uses a feature, then ends as most programs do:
        // the guard dropped at the end of main, at once ("drop") or after the
        // worker has built the error and is waiting on the server ("settled").
        "drop" | "settled" => {
            run(&telemetry, || {
                tracing::error!(run = %tag, "spool exit {tag}");
                for _ in 0..FEATURE_USES {
                    tracing::info!(feature = FEATURE, "used");
                }
            });
            if role == "settled" {
                // The worker stages the error, claims it, then sends it.
                assert!(wait_for_claim(&dir, SETTLE, ON_THE_WIRE), "no claim");
            }
            let start = Instant::now();
            drop(telemetry);
            let took = start.elapsed();
            println!("drop_nanos={}", took.as_nanos());
            assert!(took < DROP_BOUND, "the guard's drop took {took:?}");
        }
        // The most common way a CLI fails: `error!` then `process::exit(1)`.
        "exit" => {
            run(&telemetry, || {
                tracing::error!(run = %tag, "spool exit {tag}");
                for _ in 0..FEATURE_USES {
                    tracing::info!(feature = FEATURE, "used");
                }
            });
            std::process::exit(1);
        }
        // A later run: sends what earlier runs left, then ends.
        "replay" => {
            assert!(telemetry.flush(Duration::from_secs(30)));
            drop(telemetry);
        }
        other => panic!("unknown role {other}"),
    }
}

fn child(role: &str, dsn: &str, spool: &TempDir, tag: &str) -> within::Bounded {
    super::run_child("spool::exit::spool_child", role, dsn, spool, tag)
}

/// The nearest-rank `q`-quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints the p50, p95, min and max of `drops`.
fn print_drops(label: &str, mut drops: Vec<Duration>) {
    drops.sort();
    eprintln!(
        "[spool] guard drop, silent server, {label}, {} runs: p50 {:?}, p95 {:?}, min {:?}, max {:?}",
        drops.len(),
        quantile(&drops, 0.5),
        quantile(&drops, 0.95),
        drops[0],
        drops[drops.len() - 1]
    );
}

/// Runs the child `role` and returns how long its guard's drop took.
fn timed_run(role: &str, server: &Injector, spool: &TempDir, tag: &str) -> Duration {
    let run = child(role, &server.dsn(), spool, tag);
    assert!(run.succeeded(), "{tag}: {}", run.describe());
    let nanos: u64 = reported(&run.stdout, "drop_nanos").expect("the child reports its drop");
    Duration::from_nanos(nanos)
}

#[test]
fn a_silent_server_costs_no_exit_time_and_the_next_run_delivers_each_item_once() {
    let server = Injector::start(Mode::Silent);
    // The exit path alone: the worker has built the error and waits on the
    // server. A fresh spool each run, so no replay of earlier runs holds the worker.
    let runs = runs();
    let settled: Vec<Duration> = (0..runs)
        .map(|i| {
            let own = TempDir::new("silent-settled");
            let took = timed_run("settled", &server, &own, &format!("settled-{i}"));
            assert_eq!(read_spool(&own.spool()).len(), 2, "the error and the count");
            took
        })
        .collect();
    // Each settled run's worker was waiting on the server when the guard dropped.
    assert!(
        server.request_count() >= runs,
        "{} requests reached the silent server in {runs} settled runs",
        server.request_count()
    );
    // As a program runs: the error logged just before the end, every run
    // sharing the spool (each run's worker first replays what earlier runs left).
    let spool = TempDir::new("silent");
    let shared: Vec<Duration> = (0..runs)
        .map(|i| timed_run("drop", &server, &spool, &format!("silent-{i}")))
        .collect();
    print_drops("worker waiting on the server", settled);
    print_drops("error logged just before the drop, shared spool", shared);

    // What each run left: its error and its feature count, nothing else.
    let spooled = read_spool(&spool.spool());
    let events: Vec<serde_json::Value> =
        spooled.iter().filter_map(|s| s.event().cloned()).collect();
    let errors: Vec<&serde_json::Value> = events.iter().filter(|e| !is_usage(e)).collect();
    let usage: Vec<&serde_json::Value> = events.iter().filter(|e| is_usage(e)).collect();
    let logged: BTreeSet<String> = (0..runs)
        .map(|i| format!("spool exit silent-{i}"))
        .collect();
    let spooled_messages: BTreeSet<String> = errors.iter().map(|e| message(e)).collect();
    assert_eq!(spooled_messages, logged, "one error per run in the spool");
    assert_eq!(errors.len(), runs, "{spooled:#?}");
    assert_eq!(usage.len(), runs, "one usage count per run: {spooled:#?}");
    for u in &usage {
        assert_eq!(u["extra"]["count"], FEATURE_USES, "{u}");
    }
    let expected: BTreeSet<String> = events.iter().map(event_id).collect();
    assert_eq!(expected.len(), 2 * runs, "distinct event ids");

    // The server answers again: the next run delivers everything, each once.
    server.set_mode(Mode::Healthy);
    let run = child("replay", &server.dsn(), &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());
    let delivered = server.delivered_events();
    let counts = count_ids(&delivered);
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "not delivered: {missing:?}");
    assert!(
        twice(&delivered).is_empty(),
        "delivered twice: {:?}",
        twice(&delivered)
    );
    let unexpected: Vec<&String> = counts.keys().filter(|id| !expected.contains(*id)).collect();
    assert!(unexpected.is_empty(), "not from these runs: {unexpected:?}");
    let counted: u64 = delivered
        .iter()
        .filter(|e| is_usage(e))
        .map(|e| e["extra"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        counted,
        FEATURE_USES * runs as u64,
        "feature uses delivered"
    );
    assert_eq!(
        envelope_names(&spool.spool()),
        Vec::<String>::new(),
        "the spool is empty"
    );
}

/// `error!` then `exit(1)` with the server down: the error and the feature
/// count are in the spool, and the next run delivers each exactly once.
#[test]
fn process_exit_offline_spools_and_the_next_run_delivers_once() {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    let spool = TempDir::new("exit-offline");
    let tag = nonce();
    let run = child("exit", &server.dsn(), &spool, &tag);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    let spooled = read_spool(&spool.spool());
    assert_eq!(
        spooled.len(),
        2,
        "the error and the usage count: {spooled:#?}"
    );

    server.restart();
    let run = child("replay", &server.dsn(), &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());
    let delivered = server.delivered_events();
    let errors: Vec<_> = delivered
        .iter()
        .filter(|e| message(e) == format!("spool exit {tag}"))
        .collect();
    assert_eq!(errors.len(), 1, "the error, once: {delivered:#?}");
    let usage: Vec<_> = delivered.iter().filter(|e| is_usage(e)).collect();
    assert_eq!(usage.len(), 1, "the usage count, once: {delivered:#?}");
    assert_eq!(usage[0]["extra"]["count"], FEATURE_USES);
    assert!(twice(&delivered).is_empty(), "{delivered:#?}");
    assert!(envelope_names(&spool.spool()).is_empty());
}

/// `error!` then `exit(1)` with the server up: the error arrives in this run or
/// the next, under one event id (a request cut short by the exit may be sent
/// again, with the same id, which the server drops).
#[test]
fn process_exit_online_delivers_the_error_under_one_id() {
    let server = Injector::start(Mode::Healthy);
    let spool = TempDir::new("exit-online");
    let tag = nonce();
    let run = child("exit", &server.dsn(), &spool, &tag);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    let same_run = server
        .delivered_events()
        .iter()
        .any(|e| message(e) == format!("spool exit {tag}"));
    let run = child("replay", &server.dsn(), &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());
    let delivered = server.delivered_events();
    let ids: BTreeSet<String> = delivered
        .iter()
        .filter(|e| message(e) == format!("spool exit {tag}"))
        .map(event_id)
        .collect();
    eprintln!("[spool] exit(1), server up: the error arrived in the same run: {same_run}");
    assert_eq!(ids.len(), 1, "the error, under one id: {delivered:#?}");
    let usage_ids: BTreeSet<String> = delivered
        .iter()
        .filter(|e| is_usage(e))
        .map(event_id)
        .collect();
    assert_eq!(
        usage_ids.len(),
        1,
        "the usage count, under one id: {delivered:#?}"
    );
    assert!(envelope_names(&spool.spool()).is_empty());
}

/// `error!` then `exit(1)` against the real server: the error is stored, in
/// the same run or after the next run's replay.
#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn process_exit_error_reaches_bugsink() {
    let bugsink = Bugsink::require();
    let spool = TempDir::new("exit-bugsink");
    let tag = nonce();
    let wanted = format!("spool exit {tag}");
    let run = child("exit", &bugsink.dsn, &spool, &tag);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    let stored = |wanted: &str| {
        bugsink
            .events()
            .into_iter()
            .filter(|e| message(e) == wanted)
            .count()
    };
    let same_run = stored(&wanted) > 0;
    let run = child("replay", &bugsink.dsn, &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());
    let found = bugsink.find_events(|e| message(e) == wanted);
    eprintln!(
        "[spool] exit(1) against Bugsink: stored in the same run: {same_run}; after the next run: {}",
        found.len()
    );
    assert_eq!(found.len(), 1, "the error is stored once");
    assert!(envelope_names(&spool.spool()).is_empty());
}
