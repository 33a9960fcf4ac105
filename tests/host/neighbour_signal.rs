//! Logging never blocks the caller: an `error!` from a signal handler that
//! interrupts a thread in the middle of an `info!`, and a `Drop` that logs
//! while the guard shuts down and another thread logs in a loop, both leave a
//! process that finishes.
//!
//! Each case runs in a child process (this binary again, `--exact host::neighbour_signal::signal_child`,
//! with `OPENADAPT_NEIGHBOUR_SIGNAL_CASE` naming the case), killed after a
//! generous bound: a deadlock is a hang, and the test fails on it. The child
//! sets a *global* default subscriber: a scoped one (`with_default`) would route
//! an event logged from inside another event's dispatch on the same thread to
//! no subscriber at all, and hide the bug.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::Telemetry;
use tracing_subscriber::prelude::*;

const CASE_ENV: &str = "OPENADAPT_NEIGHBOUR_SIGNAL_CASE";
/// A bound on hangs, not a speed claim: the child needs well under a second.
const BOUND: Duration = Duration::from_secs(20);
/// Signals handled before the logging thread stops: each has a chance to land
/// while that thread holds the breadcrumb lock (today about one in a hundred
/// does, in a debug build).
const SIGNALS: usize = 1000;

/// Times the handler ran (it counts itself before it logs).
static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_signal: libc::c_int) {
    let n = HANDLED.fetch_add(1, Ordering::Relaxed);
    // A new message each time: a repeat of a queued error would be counted
    // without looking at the breadcrumbs.
    tracing::error!(n, "error {n} logged from a signal handler");
}

fn install_handler() {
    // SAFETY: a zeroed `sigaction` is a valid empty one; the handler is an
    // `extern "C" fn(c_int)`, as `sa_sigaction` without `SA_SIGINFO` expects.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0,
            "sigaction"
        );
    }
}

/// The main thread logs `info!` in a tight loop while another thread sends it
/// `SIGUSR1` again and again; the handler logs an `error!`.
fn signal_case(telemetry: &Telemetry) {
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .init();
    install_handler();
    // SAFETY: `pthread_self` has no preconditions.
    let logging_thread = unsafe { libc::pthread_self() };
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || {
            // A signal sent while one is pending is merged with it: send
            // until enough were handled (a deadlocked handler never returns,
            // and the parent kills this process at its bound).
            while HANDLED.load(Ordering::Relaxed) < SIGNALS {
                // SAFETY: the target thread is alive until `done` is set (it
                // joins this thread), and SIGUSR1 has a handler.
                let sent = unsafe { libc::pthread_kill(logging_thread, libc::SIGUSR1) };
                assert_eq!(sent, 0, "pthread_kill");
                std::thread::sleep(Duration::from_micros(200));
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut ticks = 0u64;
    while !done.load(Ordering::Acquire) {
        tracing::info!("main thread tick");
        ticks += 1;
    }
    sender.join().expect("the sender thread");
    println!(
        "logged {ticks} infos, handled {} signals",
        HANDLED.load(Ordering::Relaxed)
    );
}

/// Logs when dropped.
struct LogsOnDrop(&'static str);

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        tracing::info!(what = self.0, "closing");
        tracing::error!(what = self.0, "closed with work pending");
        tracing::info!(what = self.0, "closed");
    }
}

/// A program's state: its guard and a resource, the resource dropped first.
struct ResourceThenGuard {
    _resource: LogsOnDrop,
    _telemetry: Telemetry,
}

/// A program's state: its guard and a resource, the guard dropped first.
struct GuardThenResource {
    _telemetry: Telemetry,
    _resource: LogsOnDrop,
}

/// While a thread logs in a loop: a resource dropped (and logging) on another
/// thread at the moment the guard shuts down, and resources that log just
/// before and just after their program's guard is dropped.
fn drop_case() {
    let (first, _captured) = start(builder(&[]));
    let (second, _second_captured) = start(builder(&[]));
    tracing_subscriber::registry()
        .with(first.layer())
        .with(second.layer())
        .init();
    let stop = Arc::new(AtomicBool::new(false));
    let looping = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tracing::info!(i, "background tick");
                if i.is_multiple_of(64) {
                    tracing::error!(i, "background error");
                }
                i += 1;
            }
            i
        })
    };
    let barrier = Arc::new(Barrier::new(2));
    let dropping = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            let resource = LogsOnDrop("pool dropped during shutdown");
            barrier.wait();
            drop(resource);
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let app = ResourceThenGuard {
        _resource: LogsOnDrop("resource dropped before the guard"),
        _telemetry: first,
    };
    barrier.wait();
    drop(app);
    dropping.join().expect("the dropping thread");
    let app = GuardThenResource {
        _telemetry: second,
        _resource: LogsOnDrop("resource dropped after the guard"),
    };
    drop(app);
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let ticks = looping.join().expect("the looping thread");
    println!("the looping thread logged {ticks} infos");
}

/// The child: runs the case named in `OPENADAPT_NEIGHBOUR_SIGNAL_CASE`. In the
/// parent (the variable unset) it does nothing and passes.
#[test]
fn signal_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    match case.as_str() {
        "signal_on" => {
            let (telemetry, captured) = start(builder(&[]));
            signal_case(&telemetry);
            assert!(telemetry.flush(FLUSH));
            let from_handler = captured
                .events()
                .iter()
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.ends_with("logged from a signal handler"))
                })
                .count();
            println!("events from the handler: {from_handler}");
        }
        "signal_off" => {
            let telemetry = builder(&[("DO_NOT_TRACK", "1")]).init();
            assert!(!telemetry.is_enabled());
            signal_case(&telemetry);
        }
        "drop" => drop_case(),
        other => panic!("unknown case {other}"),
    }
    println!("CASE OK {case}");
}

/// Runs `case` in a child process and fails unless it finished.
fn check(case: &str) {
    let run = within::run_self_within(
        "host::neighbour_signal::signal_child",
        &[(CASE_ENV, case)],
        BOUND,
    );
    assert!(
        run.succeeded() && run.stdout.contains(&format!("CASE OK {case}")),
        "{case}: {}",
        run.describe()
    );
}

#[test]
fn an_error_from_a_signal_handler_during_info_logging_does_not_deadlock() {
    check("signal_on");
}

/// The control: the same program with telemetry off has always finished, so a
/// hang above is the layer's, not the harness's.
#[test]
fn the_signal_program_finishes_with_telemetry_off() {
    check("signal_off");
}

#[test]
fn logging_from_drop_during_shutdown_while_another_thread_logs_finishes() {
    check("drop");
}
