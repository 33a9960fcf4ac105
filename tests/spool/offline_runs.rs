//! An offline laptop loses nothing (issue 11): 20 runs with the server down
//! (a closed port), each logging a distinct error and using a feature, half
//! ending with the guard's drop and half with `std::process::exit(1)`; then one
//! run with the server up delivers all 20 errors and every feature use, none
//! twice (counted by event id at the fault injector), and leaves the spool empty.
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
use common::faults::{Injector, Mode, message};
use common::spool::{
    TempDir, builder, child_setup, envelope_names, is_usage, read_spool, role, twice,
};

const RUNS: usize = 20;
const FEATURE: &str = "spool.offline";

/// The child roles. In the parent (no role set) this does nothing and passes.
#[test]
fn offline_child() {
    let Some(role) = role() else {
        return;
    };
    let (dsn, dir, tag) = child_setup();
    let telemetry = builder(&dsn, &dir).init();
    assert!(telemetry.is_enabled());
    match role.as_str() {
        "drop" | "exit" => {
            run(&telemetry, || {
                tracing::info!(feature = FEATURE, "used");
                tracing::error!("offline run {tag}");
            });
            if role == "exit" {
                std::process::exit(1);
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
    super::run_child("spool::offline_runs::offline_child", role, dsn, spool, tag)
}

#[test]
fn twenty_offline_runs_then_one_online_run_deliver_everything_once() {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    let spool = TempDir::new("offline-runs");
    for i in 0..RUNS {
        let role = if i % 2 == 0 { "drop" } else { "exit" };
        let run = child(role, &server.dsn(), &spool, &i.to_string());
        let code = run.status.and_then(|s| s.code());
        assert_eq!(
            code,
            Some(i32::from(role == "exit")),
            "run {i}: {}",
            run.describe()
        );
    }
    assert_eq!(server.request_count(), 0, "the server was down");
    let spooled = read_spool(&spool.spool());
    let errors = spooled
        .iter()
        .filter_map(|s| s.event())
        .filter(|e| !is_usage(e))
        .count();
    assert_eq!(
        errors, RUNS,
        "every run's error is in the spool: {spooled:#?}"
    );

    server.restart();
    let run = child("replay", &server.dsn(), &spool, "online");
    assert!(run.succeeded(), "{}", run.describe());

    let delivered = server.delivered_events();
    let mut by_message: BTreeMap<String, usize> = BTreeMap::new();
    for event in delivered.iter().filter(|e| !is_usage(e)) {
        *by_message.entry(message(event)).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, usize> =
        (0..RUNS).map(|i| (format!("offline run {i}"), 1)).collect();
    assert_eq!(by_message, expected, "every error, once");
    assert!(
        twice(&delivered).is_empty(),
        "sent twice: {:?}",
        twice(&delivered)
    );
    let uses: u64 = delivered
        .iter()
        .filter(|e| is_usage(e) && e["tags"]["feature"] == FEATURE)
        .map(|e| e["extra"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(uses, RUNS as u64, "every feature use, once");
    assert_eq!(
        envelope_names(&spool.spool()),
        Vec::<String>::new(),
        "the spool is empty"
    );
}
