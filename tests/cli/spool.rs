//! `openadapt-telemetry status` shows what waits in the spool (how many
//! reports, their bytes, the oldest one's age), in text and JSON;
//! `disable` deletes the spool, `enable` leaves it (issue 11, item 8).
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cli_support::{Sandbox, closed_port_dsn, names, text};
use openadapt_telemetry::Telemetry;
use serde_json::Value;
use tracing_subscriber::prelude::*;

/// The spool folder of the sandbox's user (no `XDG_CACHE_HOME`).
fn spool_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox
        .home()
        .join(".cache")
        .join("openadapt")
        .join("telemetry-spool")
}

/// What a program leaves in `dir` when its server is down: real envelopes.
fn offline_program(dir: &Path, errors: usize) {
    let dsn = closed_port_dsn();
    let telemetry = Telemetry::builder("openadapt-cli-test", "1.0.0")
        .env_lookup(move |name| (name == "OPENADAPT_TELEMETRY_DSN").then(|| dsn.clone()))
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .spool_dir(dir)
        .init();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..errors {
            tracing::error!("waiting {i}");
        }
    });
    // Its attempts on the closed port made, so that nothing is in flight when
    // the guard's drop returns: the worker it abandons would still be giving
    // back a claim, or respooling it with its client report, while the test
    // reads the folder (1 run in 10 did).
    telemetry.flush(Duration::from_secs(5));
    drop(telemetry);
}

/// One more envelope, written `age` ago by its name (the spool's clock).
fn old_envelope(dir: &Path, age: Duration) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .saturating_sub(age)
        .as_nanos();
    let body = "{\"dsn\":\"http://k@127.0.0.1:9/1\"}\n{\"type\":\"event\",\"length\":2}\n{}\n";
    std::fs::write(
        dir.join(format!("{nanos:020}-00000000000000ab-error.envelope")),
        body,
    )
    .unwrap();
}

/// The spool's envelopes and bytes, counted here.
fn on_disk(dir: &Path) -> (usize, u64) {
    let envelopes: Vec<String> = names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".envelope"))
        .collect();
    let bytes = envelopes
        .iter()
        .map(|n| std::fs::metadata(dir.join(n)).unwrap().len())
        .sum();
    (envelopes.len(), bytes)
}

fn json(run: &cli_support::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:#?}"))
}

#[test]
fn status_shows_what_waits_in_the_spool() {
    let sandbox = Sandbox::new("spool-status");
    let dir = spool_dir(&sandbox);
    offline_program(&dir, 3);
    old_envelope(&dir, Duration::from_secs(2 * 3600 + 60));
    let (envelopes, bytes) = on_disk(&dir);
    assert!(envelopes >= 4, "{:?}", names(&dir));

    let run = sandbox.run(&["status"], &[]).expect_code(0);
    let line = format!(
        "Spool:        {envelopes} reports ({bytes} bytes) waiting to be sent, \
         the oldest written 2 h ago ({})\n",
        dir.display()
    );
    assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);

    let run = sandbox.run(&["status", "--json"], &[]).expect_code(0);
    let spool = &json(&run)["spool"];
    assert_eq!(spool["path"], dir.display().to_string());
    assert_eq!(spool["envelopes"], envelopes);
    assert_eq!(spool["bytes"], bytes);
    let age = spool["oldest_age_seconds"].as_u64().unwrap();
    assert!((7260..7260 + 60).contains(&age), "{spool}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let oldest = spool["oldest"].as_u64().unwrap();
    assert!(now - oldest >= 7260 && now - oldest < 7260 + 60, "{spool}");
    assert_eq!(on_disk(&dir), (envelopes, bytes), "status only reads");
}

#[test]
fn status_with_no_spool_says_so_and_creates_nothing() {
    let sandbox = Sandbox::new("spool-none");
    let dir = spool_dir(&sandbox);
    let run = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("Spool:        empty ({})\n", dir.display())),
        "{}",
        run.stdout
    );
    let run = sandbox.run(&["status", "--json"], &[]).expect_code(0);
    let spool = &json(&run)["spool"];
    assert_eq!(spool["envelopes"], 0);
    assert_eq!(spool["bytes"], 0);
    assert_eq!(spool["oldest"], Value::Null);
    assert!(!sandbox.home().join(".cache").exists());
}

#[test]
fn status_follows_xdg_cache_home() {
    let sandbox = Sandbox::new("spool-xdg");
    let cache = sandbox.root.join("xdg-cache");
    let dir = cache.join("openadapt").join("telemetry-spool");
    offline_program(&dir, 2);
    let (envelopes, _) = on_disk(&dir);
    let run = sandbox
        .run(&["status", "--json"], &[("XDG_CACHE_HOME", text(&cache))])
        .expect_code(0);
    let spool = &json(&run)["spool"];
    assert_eq!(spool["path"], dir.display().to_string());
    assert_eq!(spool["envelopes"], envelopes);
}

#[test]
fn disable_deletes_the_spool_and_enable_keeps_it() {
    let sandbox = Sandbox::new("spool-disable");
    let dir = spool_dir(&sandbox);
    offline_program(&dir, 2);
    let (envelopes, bytes) = on_disk(&dir);
    assert!(envelopes >= 2);

    sandbox.run(&["enable"], &[]).expect_code(0);
    assert_eq!(on_disk(&dir), (envelopes, bytes), "enable keeps the spool");

    let run = sandbox.run(&["disable"], &[]).expect_code(0);
    let line = format!(
        "Deleted the spool {} ({envelopes} reports not sent, {bytes} bytes).\n",
        dir.display()
    );
    assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    assert!(!dir.exists(), "the spool is gone");
    let run = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(run.stdout.starts_with("Telemetry is OFF"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("Spool:        empty ({})\n", dir.display())),
        "{}",
        run.stdout
    );
    // A second disable has no spool to delete, and says nothing about it.
    let run = sandbox.run(&["disable"], &[]).expect_code(0);
    assert!(!run.stdout.contains("Deleted the spool"), "{}", run.stdout);
}
