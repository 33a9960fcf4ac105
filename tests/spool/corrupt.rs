//! What does not belong in the spool never blocks what does (issue 11, item
//! 1): a file truncated mid-write, garbage under a spool name and under any
//! other name, an empty file, a file from a project that no longer exists
//! (its server answers 403), one whose DSN does not parse and one older than
//! 30 days are skipped and removed, and counted in the next client report;
//! every other envelope is delivered, once. A write still in progress (a
//! fresh temporary file) is left alone; one a crash left behind is removed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::capture::run;
use common::faults::{Injector, Mode, discarded_by_reason, message};
use common::spool::{
    TempDir, builder, child_setup, envelope_names, files, is_usage, read_spool, role, twice,
};

/// The child roles. In the parent (no role set) this does nothing and passes.
#[test]
fn corrupt_child() {
    let Some(role) = role() else {
        return;
    };
    let (dsn, dir, tag) = child_setup();
    let telemetry = builder(&dsn, &dir).init();
    assert!(telemetry.is_enabled());
    match role.as_str() {
        "errors" => {
            run(&telemetry, || {
                for k in 0..3 {
                    tracing::error!("{tag} error {k}");
                }
            });
            drop(telemetry);
        }
        // Replays, then logs one error: its envelope carries the client report
        // of what the replay removed.
        "replay" => {
            assert!(telemetry.flush(Duration::from_secs(30)));
            run(&telemetry, || tracing::error!("after the replay"));
            assert!(telemetry.flush(Duration::from_secs(30)));
            drop(telemetry);
        }
        other => panic!("unknown role {other}"),
    }
}

fn child(role: &str, dsn: &str, spool: &TempDir, tag: &str) -> within::Bounded {
    super::run_child("spool::corrupt::corrupt_child", role, dsn, spool, tag)
}

/// A spool file name for an envelope made `age` ago.
fn spool_name(age: Duration, random: u64) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .saturating_sub(age)
        .as_nanos();
    format!("{nanos:020}-{random:016x}-error.envelope")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// `bytes` with its header's DSN replaced.
fn with_dsn(bytes: &[u8], dsn: &str) -> Vec<u8> {
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[..end]).unwrap();
    header["dsn"] = dsn.into();
    let mut out = header.to_string().into_bytes();
    out.extend_from_slice(&bytes[end..]);
    out
}

#[test]
fn corrupt_and_orphaned_files_are_removed_and_counted_and_the_rest_delivered() {
    let mut good = Injector::start(Mode::Healthy);
    good.stop();
    let mut gone = Injector::start(Mode::Healthy);
    gone.stop();
    let spool = TempDir::new("corrupt");
    let dir = spool.spool();
    // Three good envelopes, and one for a project that is deleted meanwhile.
    let run = child("errors", &good.dsn(), &spool, "good");
    assert!(run.succeeded(), "{}", run.describe());
    let run = child("errors", &gone.dsn(), &spool, "gone");
    assert!(run.succeeded(), "{}", run.describe());
    let spooled = read_spool(&dir);
    assert_eq!(spooled.len(), 6, "{spooled:#?}");
    let (sample_name, sample) = files(&dir)
        .into_iter()
        .find(|(_, b)| String::from_utf8_lossy(b).contains("good error 0"))
        .unwrap();
    // Only the first of the `gone` project's three is kept: one request is enough.
    for s in spooled.iter().filter(|s| {
        s.event().is_some_and(|e| message(e).starts_with("gone"))
            && !message(s.event().unwrap()).ends_with('0')
    }) {
        std::fs::remove_file(dir.join(&s.name)).unwrap();
    }

    // The bad files, all older than the good ones: they come first in the replay.
    let old = Duration::from_secs(60);
    write(&dir, &spool_name(old, 1), &sample[..sample.len() / 2]); // truncated mid-item
    write(&dir, &spool_name(old, 2), &sample[..20]); // truncated in the header
    write(&dir, &spool_name(old, 3), b"\x00\xffnot an envelope\n{}\n");
    write(&dir, &spool_name(old, 4), b""); // empty
    write(&dir, &spool_name(old, 5), &with_dsn(&sample, "not a dsn"));
    write(&dir, "garbage.bin", b"\x13\x37 no spool name at all");
    let thirty_one_days = Duration::from_secs(31 * 24 * 3600);
    write(&dir, &spool_name(thirty_one_days, 6), &sample);
    // Temporary files: one a crash left two minutes ago, one being written now.
    write(&dir, ".00000000000000aa.tmp", &sample[..100]);
    let crashed = std::fs::File::options()
        .write(true)
        .open(dir.join(".00000000000000aa.tmp"))
        .unwrap();
    crashed
        .set_modified(SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    drop(crashed);
    write(&dir, ".00000000000000bb.tmp", &sample[..100]);
    assert!(dir.join(&sample_name).exists());

    good.restart();
    gone.set_mode(Mode::Status(403, Vec::new()));
    gone.restart();
    let run = child("replay", &good.dsn(), &spool, "replay");
    assert!(run.succeeded(), "{}", run.describe());

    let delivered = good.delivered_events();
    let mut messages: Vec<String> = delivered
        .iter()
        .filter(|e| !is_usage(e))
        .map(message)
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            "after the replay",
            "good error 0",
            "good error 1",
            "good error 2"
        ],
        "the good envelopes, once each, and nothing else"
    );
    assert!(twice(&delivered).is_empty(), "{delivered:#?}");
    let refused = gone.requests();
    assert_eq!(refused.len(), 1, "the deleted project was asked once");
    let left: Vec<String> = files(&dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        left,
        [".00000000000000bb.tmp"],
        "everything removed but the write in progress"
    );
    assert!(envelope_names(&dir).is_empty());

    // Counted: the unreadable files, the refused and unsendable ones, the expired one.
    let reports = good.delivered_client_reports();
    let lost = discarded_by_reason(&reports, "error");
    let count = |reason: &str| {
        lost.iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(
        count("internal_sdk_error"),
        5,
        "4 corrupt, 1 garbage: {lost:?}"
    );
    assert_eq!(count("send_error"), 2, "403 and a bad DSN: {lost:?}");
    assert_eq!(count("cache_overflow"), 1, "older than 30 days: {lost:?}");
}
