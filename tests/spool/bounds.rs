//! The spool is bounded and says what it dropped (issue 11, item 6): 5,000
//! distinct errors logged offline (4,000 small ones, then 1,000 of about
//! 17 KB) leave at most 1,000 envelopes and 10 MiB in the spool; the next
//! online run delivers what is left, and the client reports count every
//! dropped one (`cache_overflow`; `queue_overflow` for any a busy queue
//! turned away): delivered + dropped = logged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::capture::run;
use common::faults::{Injector, Mode, discarded_by_reason, message};
use common::spool::{TempDir, builder, child_setup, envelope_names, is_usage, role, twice, usage};

const SMALL: usize = 4_000;
const LARGE: usize = 1_000;
/// Logged between flushes: under the queue's bound of 256 distinct errors.
const CHUNK: usize = 100;
const MAX_ENVELOPES: usize = 1_000;
const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// The child roles. In the parent (no role set) this does nothing and passes.
#[test]
fn bounds_child() {
    let Some(role) = role() else {
        return;
    };
    let (dsn, dir, tag) = child_setup();
    let telemetry = builder(&dsn, &dir).init();
    assert!(telemetry.is_enabled());
    match role.as_str() {
        "small" | "large" => {
            // About 8 KB of message, kept whole (the limit is 8 KiB).
            let padding = if role == "large" {
                "x".repeat(8_000)
            } else {
                String::new()
            };
            let count = if role == "large" { LARGE } else { SMALL };
            for chunk in 0..count / CHUNK {
                run(&telemetry, || {
                    for k in 0..CHUNK {
                        let i = chunk * CHUNK + k;
                        tracing::error!("{tag} error {i} {padding}");
                    }
                });
                let _ = telemetry.flush(Duration::from_secs(30));
            }
            drop(telemetry);
        }
        // Sends what is left, as long as the spool holds something.
        "replay" => {
            let start = Instant::now();
            while !envelope_names(&dir).is_empty() && start.elapsed() < Duration::from_secs(50) {
                assert!(telemetry.flush(Duration::from_secs(30)));
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(telemetry);
        }
        other => panic!("unknown role {other}"),
    }
}

fn child(role: &str, dsn: &str, spool: &TempDir, tag: &str) -> within::Bounded {
    crate::spool::run_child("bounds::bounds_child", role, dsn, spool, tag)
}

#[test]
fn five_thousand_errors_offline_stay_within_the_bounds_and_the_drops_are_reported() {
    let mut server = Injector::start(Mode::Healthy);
    server.stop();
    // The bounds, not the disk: in memory where it can be (`TempDir::in_memory`).
    let spool = TempDir::in_memory("bounds");
    let dir = spool.spool();

    let start = Instant::now();
    let run = child("small", &server.dsn(), &spool, "small");
    assert!(run.succeeded(), "{}", run.describe());
    let (files, bytes) = usage(&dir);
    eprintln!("[spool] {SMALL} small errors offline: {files} envelopes, {bytes} bytes");
    assert_eq!(
        files, MAX_ENVELOPES,
        "the count bound is reached, not passed"
    );
    assert!(bytes <= MAX_BYTES);

    let run = child("large", &server.dsn(), &spool, "large");
    assert!(run.succeeded(), "{}", run.describe());
    let (files, bytes) = usage(&dir);
    eprintln!(
        "[spool] then {LARGE} errors of ~17 KB offline: {files} envelopes, {bytes} bytes ({:?} in all)",
        start.elapsed()
    );
    assert!(files <= MAX_ENVELOPES, "{files} envelopes");
    assert!(bytes <= MAX_BYTES, "{bytes} bytes");
    assert!(
        bytes > MAX_BYTES - 64 * 1024,
        "the byte bound is reached: {bytes}"
    );
    assert_eq!(server.request_count(), 0);

    server.restart();
    let run = child("replay", &server.dsn(), &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());

    let delivered = server.delivered_events();
    assert!(
        twice(&delivered).is_empty(),
        "sent twice: {:?}",
        twice(&delivered)
    );
    let errors: BTreeSet<String> = delivered
        .iter()
        .filter(|e| !is_usage(e))
        .map(message)
        .collect();
    let reports = server.delivered_client_reports();
    let lost = discarded_by_reason(&reports, "error");
    let reason = |wanted: &str| {
        lost.iter()
            .filter(|(r, _)| r == wanted)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let all_lost: u64 = lost.iter().map(|(_, n)| n).sum();
    eprintln!(
        "[spool] online: {} errors delivered; client reports: {lost:?}",
        errors.len()
    );
    assert!(
        reason("cache_overflow") > 0,
        "a client report with cache_overflow arrives"
    );
    assert!(
        errors
            .iter()
            .any(|m| m.starts_with(&format!("large error {}", LARGE - 1))),
        "the newest are kept"
    );
    // Also counted: errors a busy queue turned away (queue_overflow), if any.
    assert_eq!(
        errors.len() as u64 + all_lost,
        (SMALL + LARGE) as u64,
        "every error is delivered or counted as dropped: {lost:?}"
    );
    assert!(envelope_names(&dir).is_empty(), "the spool is empty");
}
