//! One spool, many processes (issue 11, item 5): 8 processes write to and
//! replay the same spool at once while the server goes from down to up; then
//! a last run sends what is left. Every item reaches the server exactly once:
//! counted by event id in the fault injector's recorded requests (Bugsink
//! drops a repeated event id without a word, which would hide a duplicate).
//! (Under load, the queue may turn an error away rather than make its caller
//! wait: such an error must be counted in a client report, never lost silently.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::collections::BTreeMap;
use std::time::Duration;

use common::capture::run;
use common::faults::{Injector, Mode, discarded_by_reason, message};
use common::spool::{
    TempDir, builder, child_setup, count_ids, envelope_names, is_usage, role, twice,
};

const PROCESSES: usize = 8;
const ROUNDS: usize = 10;
const PER_ROUND: usize = 4;
const FEATURE: &str = "spool.concurrent";

/// The child roles. In the parent (no role set) this does nothing and passes.
#[test]
fn concurrent_child() {
    let Some(role) = role() else {
        return;
    };
    let (dsn, dir, tag) = child_setup();
    // A long shutdown timeout: no send is cut short at exit, so a duplicate
    // can only come from two processes sending one file.
    let telemetry = builder(&dsn, &dir)
        .shutdown_timeout(Duration::from_secs(10))
        .init();
    assert!(telemetry.is_enabled());
    match role.as_str() {
        "burst" => {
            for round in 0..ROUNDS {
                run(&telemetry, || {
                    for k in 0..PER_ROUND {
                        tracing::info!(feature = FEATURE, "used");
                        tracing::error!("process {tag} round {round} error {k}");
                    }
                });
                let _ = telemetry.flush(Duration::from_secs(30));
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(telemetry);
        }
        "replay" => {
            assert!(telemetry.flush(Duration::from_secs(30)));
            drop(telemetry);
        }
        other => panic!("unknown role {other}"),
    }
}

fn child(role: &str, dsn: &str, spool: &TempDir, tag: &str) -> within::Bounded {
    super::run_child("spool::concurrent::concurrent_child", role, dsn, spool, tag)
}

#[test]
fn eight_processes_share_one_spool_and_every_item_arrives_once() {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    let dsn = server.dsn();
    let spool = TempDir::new("concurrent");
    let runs = std::thread::scope(|scope| {
        let children: Vec<_> = (0..PROCESSES)
            .map(|p| {
                let (dsn, spool) = (&dsn, &spool);
                scope.spawn(move || child("burst", dsn, spool, &p.to_string()))
            })
            .collect();
        // Down while the processes start and log (until as many envelopes
        // wait as there are processes); up while they go on.
        let start = std::time::Instant::now();
        let mut waiting = 0;
        while waiting < PROCESSES && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
            waiting = envelope_names(&spool.spool()).len();
        }
        server.restart();
        (
            waiting,
            children
                .into_iter()
                .map(|c| c.join().unwrap())
                .collect::<Vec<_>>(),
        )
    });
    let (waiting_while_down, runs) = runs;
    for (p, run) in runs.iter().enumerate() {
        assert!(run.succeeded(), "process {p}: {}", run.describe());
    }
    let left_by_the_eight = envelope_names(&spool.spool()).len();
    let run = child("replay", &dsn, &spool, "last");
    assert!(run.succeeded(), "{}", run.describe());

    let delivered = server.delivered_events();
    let mut by_message: BTreeMap<String, usize> = BTreeMap::new();
    for event in delivered.iter().filter(|e| !is_usage(e)) {
        *by_message.entry(message(event)).or_insert(0) += 1;
    }
    let mut expected = BTreeMap::new();
    for p in 0..PROCESSES {
        for round in 0..ROUNDS {
            for k in 0..PER_ROUND {
                expected.insert(format!("process {p} round {round} error {k}"), 1);
            }
        }
    }
    let missing: Vec<&String> = expected
        .keys()
        .filter(|m| !by_message.contains_key(*m))
        .collect();
    let repeated: Vec<(&String, &usize)> = by_message.iter().filter(|(_, n)| **n > 1).collect();
    let all_requests = server.events();
    eprintln!(
        "[spool] {PROCESSES} processes: {waiting_while_down} envelopes waiting while the server was down; {} events delivered ({} distinct ids), {} event items in all requests, \
         {left_by_the_eight} envelopes left for the last run; {} errors never delivered",
        delivered.len(),
        count_ids(&delivered).len(),
        all_requests.len(),
        missing.len()
    );
    assert!(
        waiting_while_down > 0,
        "the processes were meant to spool while the server was down"
    );
    // A caller never waits: under load, an error the busy queue turned away is
    // dropped and counted (queue_overflow). Anything else missing is lost.
    let turned_away: u64 = discarded_by_reason(&server.delivered_client_reports(), "error")
        .iter()
        .filter(|(reason, _)| reason == "queue_overflow")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        missing.len() as u64,
        turned_away,
        "never delivered, and not counted as turned away: {missing:?}"
    );
    assert!(
        repeated.is_empty(),
        "delivered more than once: {repeated:?}"
    );
    assert!(
        twice(&delivered).is_empty(),
        "an event id delivered twice: {:?}",
        twice(&delivered)
    );
    let uses: u64 = delivered
        .iter()
        .filter(|e| is_usage(e))
        .map(|e| e["extra"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        uses,
        (PROCESSES * ROUNDS * PER_ROUND) as u64,
        "every feature use, once"
    );
    assert_eq!(
        envelope_names(&spool.spool()),
        Vec::<String>::new(),
        "the spool is empty"
    );
}
