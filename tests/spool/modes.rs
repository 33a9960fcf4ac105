//! The spool is private (issue 11, item 1): under `umask 022`, the folders
//! the crate creates on the way to the spool are 0700 and every file in it
//! (ready, claimed, a client report) is 0600; a spool folder that already
//! exists with looser bits is made 0700 when the crate writes to it.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use common::capture::run;
use common::faults::{Injector, Mode};
use common::spool::{
    CHILD_BOUND, DIR, DSN, ROLE, TempDir, builder, child_setup, files, role, wait_for_claim,
};
use within::run_self_within;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file of the spool, with its mode.
fn file_modes(dir: &Path) -> Vec<(String, u32)> {
    files(dir)
        .into_iter()
        .map(|(name, _)| {
            let m = mode(&dir.join(&name));
            (name, m)
        })
        .collect()
}

/// The child role: under umask 022, logs against a silent server (the worker
/// holds a claim on its first error meanwhile), then drops the guard.
#[test]
fn modes_child() {
    let Some(role) = role() else {
        return;
    };
    assert_eq!(role, "umask-022");
    // SAFETY: sets this process's umask; the child runs this test alone.
    unsafe { libc::umask(0o022) };
    let (dsn, dir, _) = child_setup();
    let telemetry = builder(&dsn, &dir).init();
    run(&telemetry, || {
        tracing::error!("private 1");
        tracing::info!(feature = "spool.modes", "used");
    });
    // The worker has spooled the error, claimed, and waits on the server.
    assert!(
        wait_for_claim(&dir, Duration::from_secs(5), Duration::from_millis(50)),
        "no claim"
    );
    run(&telemetry, || tracing::error!("private 2"));
    let while_running = file_modes(&dir);
    assert!(
        while_running.iter().any(|(n, _)| n.ends_with(".claim")),
        "a claimed file: {while_running:?}"
    );
    for (name, m) in &while_running {
        assert_eq!(*m, 0o600, "{name} while running: {m:o}");
    }
    drop(telemetry);
}

fn child(dsn: &str, spool: &TempDir) -> within::Bounded {
    run_self_within(
        "spool::modes::modes_child",
        &[(ROLE, "umask-022"), (DSN, dsn), (DIR, &spool.spool_text())],
        CHILD_BOUND,
    )
}

#[test]
fn folders_are_0700_and_files_0600_under_umask_022() {
    let server = Injector::start(Mode::Silent);
    let root = TempDir::new("modes");
    std::fs::create_dir_all(&root.path).unwrap();
    let run = child(&server.dsn(), &root);
    assert!(run.succeeded(), "{}", run.describe());
    let spool = root.spool();
    let cache = root.path.join("cache");
    for dir in [&cache, &cache.join("openadapt"), &spool] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    let modes = file_modes(&spool);
    assert!(modes.len() >= 3, "two errors and a count: {modes:?}");
    for (name, m) in &modes {
        assert_eq!(*m, 0o600, "{name}: {m:o}");
    }
}

#[test]
fn a_loose_spool_folder_is_made_private() {
    let server = Injector::start(Mode::Silent);
    let root = TempDir::new("modes-loose");
    let spool = root.spool();
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = child(&server.dsn(), &root);
    assert!(run.succeeded(), "{}", run.describe());
    assert_eq!(mode(&spool), 0o700);
    for (name, m) in &file_modes(&spool) {
        assert_eq!(*m, 0o600, "{name}: {m:o}");
    }
}
