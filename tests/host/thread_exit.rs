//! Logging from a thread-local's destructor, while the thread exits: the layer's
//! own thread-locals may be gone by then, and the process must go on. Checked in
//! a child process, because the failure it guards against aborts the process.
use crate::common;

use std::cell::RefCell;

use common::capture::{FLUSH, builder, start};
use tracing_subscriber::prelude::*;

const CHILD_ENV: &str = "OPENADAPT_THREAD_EXIT_CHILD";

/// Logs an `info!` when dropped.
struct LogsOnDrop;

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        tracing::info!("thread-local dropped");
        tracing::error!("error from a thread-local's destructor");
    }
}

thread_local! {
    static GUARD: RefCell<Option<LogsOnDrop>> = const { RefCell::new(None) };
}

/// The child: a global subscriber (the thread's own is gone at thread exit), a
/// thread whose first thread-local logs in its destructor, after enough
/// breadcrumbs that the layer keeps its thread-locals too.
#[test]
fn thread_exit_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let (telemetry, captured) = start(builder(&[]));
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .init();
    std::thread::spawn(|| {
        // Registered first, so destroyed after the layer's thread-locals.
        GUARD.with(|g| *g.borrow_mut() = Some(LogsOnDrop));
        for i in 0..300 {
            tracing::info!(i, "crumb");
        }
    })
    .join()
    .expect("the thread ends");
    assert!(telemetry.flush(FLUSH));
    let sent = captured
        .events()
        .iter()
        .any(|e| e["message"] == "error from a thread-local's destructor");
    println!("CHILD DONE sent={sent}");
}

#[test]
fn logging_while_a_thread_exits_does_not_abort() {
    let run = common::child::run_self(
        "host::thread_exit::thread_exit_child",
        &[(CHILD_ENV, "1")],
        &[],
    );
    assert!(
        run.status.success() && run.stdout.contains("CHILD DONE"),
        "{:?}\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    // The error logged from the destructor is still sent.
    assert!(
        run.stdout.contains("CHILD DONE sent=true"),
        "{}",
        run.stdout
    );
}
