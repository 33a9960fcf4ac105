//! One process-wide panic hook, chained to the program's own: with a hook the
//! program installed before `init`, a panic runs that hook (once) and is
//! reported once, however many instances are live.
//!
//! The panic hook is process-wide, so each case runs in a child process (this
//! binary again, `--exact host::panic_hook::panic_child`, with `OPENADAPT_PANIC_HOOK_CASE` naming
//! the case). The panic happens on a thread of the child, which then reports
//! what it saw.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::testing::Captured;

const CASE_ENV: &str = "OPENADAPT_PANIC_HOOK_CASE";
/// A bound on hangs, not a speed claim.
const BOUND: Duration = Duration::from_secs(60);
const PANIC_MESSAGE: &str = "the worker thread gave up";

/// Times the program's own hook ran.
static PROGRAM_HOOK_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The program's hook: counts itself and says so on stderr.
fn install_program_hook() {
    std::panic::set_hook(Box::new(|info| {
        PROGRAM_HOOK_RUNS.fetch_add(1, Ordering::SeqCst);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("?");
        eprintln!("PROGRAM HOOK RAN: {message}");
    }));
}

/// The panic events captured, over all `captures`.
fn panic_events(captures: &[&Captured]) -> usize {
    captures
        .iter()
        .flat_map(|c| c.events())
        .filter(|e| e.to_string().contains(PANIC_MESSAGE))
        .count()
}

/// The child: runs the case named in `OPENADAPT_PANIC_HOOK_CASE`. In the parent
/// (the variable unset) it does nothing and passes.
#[test]
fn panic_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    install_program_hook();
    let instances: usize = match case.as_str() {
        "one_instance" => 1,
        "two_instances" => 2,
        other => panic!("unknown case {other}"),
    };
    let started: Vec<_> = (0..instances)
        .map(|_| start(builder(&[]).capture_panics(true)))
        .collect();
    let joined = std::thread::spawn(|| panic!("{PANIC_MESSAGE}")).join();
    assert!(joined.is_err(), "the thread panicked");
    for (telemetry, _) in &started {
        assert!(telemetry.flush(FLUSH));
    }
    let captures: Vec<&Captured> = started.iter().map(|(_, c)| c).collect();
    let events = panic_events(&captures);
    let runs = PROGRAM_HOOK_RUNS.load(Ordering::SeqCst);
    println!("RESULT program_hook_runs={runs} panic_events={events}");
    assert_eq!(runs, 1, "{case}: the program's hook runs once");
    assert_eq!(events, 1, "{case}: the panic is reported once");
    println!("CASE OK {case}");
}

/// Runs `case` in a child process and fails with what it printed.
fn check(case: &str) {
    let run = within::run_self_within("host::panic_hook::panic_child", &[(CASE_ENV, case)], BOUND);
    assert!(
        run.succeeded() && run.stdout.contains(&format!("CASE OK {case}")),
        "{case}: {}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains(&format!("PROGRAM HOOK RAN: {PANIC_MESSAGE}")),
        "{case}: the program's hook printed its line: {}",
        run.describe()
    );
}

#[test]
fn a_program_hook_installed_before_init_runs_and_the_panic_is_one_event() {
    check("one_instance");
}

#[test]
fn two_live_instances_report_a_panic_once() {
    check("two_instances");
}
