//! Bounded: whatever is logged, breadcrumbs hold a bounded amount of memory,
//! every event sent fits the Sentry protocol's 1 MiB item limit, and every cut
//! is marked in the sent text (`…[cut N bytes]`).
//!
//! The memory case runs in a child process (this binary again, `--exact
//! limits_child`), so the resident memory it reads from `/proc/self/statm` is
//! its own. Linux only, like `/proc`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::time::Duration;

use common::capture::{FLUSH, builder, run, start};
use serde_json::Value;

const CHILD_ENV: &str = "OPENADAPT_LIMITS_CHILD";
const MIB: usize = 1024 * 1024;
/// The Sentry protocol's limit on one item, uncompressed.
const ITEM_LIMIT: usize = MIB;
/// Resident growth allowed for 100 breadcrumbs of 1 MiB each and the next error.
const GROWTH_BOUND: u64 = 16 * MIB as u64;
/// A bound on hangs: today the 100 MiB event takes seconds to scrub.
const SLOW_FLUSH: Duration = Duration::from_secs(90);
const CHILD_BOUND: Duration = Duration::from_secs(240);

/// Resident memory of this process, from `/proc/self/statm` (pages × page size).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    // SAFETY: `sysconf` has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).expect("a page size")
}

/// Every `[cut N bytes]` marker in `text`, as N.
fn cut_markers(text: &str) -> Vec<u64> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[cut ") {
        rest = &rest[i + "[cut ".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with(" bytes]") {
            found.push(digits.parse().expect("a byte count"));
        }
    }
    found
}

/// `len` bytes of text that no scrubbing rule rewrites, starting with `start`.
fn filler(start: &str, len: usize) -> String {
    let mut text = String::with_capacity(len);
    text.push_str(start);
    let words = ["frame ", "decoded ", "buffer ", "queue ", "render "];
    let mut i = 0;
    while text.len() < len {
        text.push_str(words[i % words.len()]);
        i += 1;
    }
    text.truncate(len);
    text
}

/// The child: 100 `info!` of 1 MiB each, then an `error!`. In the parent (the
/// variable unset) it does nothing and passes.
#[test]
fn limits_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let (telemetry, captured) = start(builder(&[]));
    // Warm up first: the first error symbolises a backtrace (debug info is
    // loaded once), and the payload is built before the baseline.
    run(&telemetry, || {
        tracing::info!("warm-up crumb");
        tracing::error!("warm-up error");
    });
    assert!(telemetry.flush(FLUSH));
    captured.clear();
    let payload = filler("BIG-CRUMB ", MIB);
    let baseline = resident();

    run(&telemetry, || {
        for n in 0..100 {
            tracing::info!(n, "{payload}");
        }
    });
    let after_crumbs = resident();
    run(&telemetry, || {
        tracing::error!("failed after the big breadcrumbs")
    });
    assert!(telemetry.flush(SLOW_FLUSH), "flush");
    let after_error = resident();

    let events = captured.events();
    let event = events
        .iter()
        .find(|e| e.to_string().contains("failed after the big breadcrumbs"))
        .expect("the error event");
    let json = serde_json::to_string(event).expect("serialise");
    let crumbs = event["breadcrumbs"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let big: Vec<&Value> = crumbs
        .iter()
        .filter(|c| {
            c["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("BIG-CRUMB"))
        })
        .collect();
    let markers: Vec<Vec<u64>> = big
        .iter()
        .map(|c| cut_markers(c["message"].as_str().unwrap_or("")))
        .collect();
    let growth_crumbs = after_crumbs.saturating_sub(baseline);
    let growth_error = after_error.saturating_sub(baseline);
    println!(
        "resident growth: {} KiB after the crumbs, {} KiB after the error; \
         event {} bytes, {} crumbs ({} big), markers {:?}",
        growth_crumbs / 1024,
        growth_error / 1024,
        json.len(),
        crumbs.len(),
        big.len(),
        markers.first()
    );
    assert!(
        growth_crumbs < GROWTH_BOUND && growth_error < GROWTH_BOUND,
        "resident memory grew by {} KiB (crumbs) / {} KiB (after the error), bound {} KiB",
        growth_crumbs / 1024,
        growth_error / 1024,
        GROWTH_BOUND / 1024
    );
    assert!(
        json.len() < ITEM_LIMIT,
        "the event is {} bytes, over the {ITEM_LIMIT}-byte item limit",
        json.len()
    );
    assert!(
        !big.is_empty(),
        "the big breadcrumbs are sent, cut: {crumbs:#?}"
    );
    for (crumb, found) in big.iter().zip(&markers) {
        let message = crumb["message"].as_str().unwrap_or("");
        assert!(
            found.len() == 1 && found[0] >= (MIB / 2) as u64 && found[0] <= MIB as u64,
            "a cut breadcrumb says how many bytes were cut (`[cut N bytes]`, \
             N about 1 MiB); found {found:?} in a {}-byte message ending {:?}",
            message.len(),
            &message[message.len().saturating_sub(80)..]
        );
    }
    println!("CHILD OK");
}

#[test]
fn big_breadcrumbs_keep_memory_and_the_event_bounded() {
    let run = within::run_self_within(
        "host::limits::limits_child",
        &[(CHILD_ENV, "1")],
        CHILD_BOUND,
    );
    assert!(
        run.succeeded() && run.stdout.contains("CHILD OK"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_huge_error_message_and_field_are_cut_with_a_marker() {
    let (telemetry, captured) = start(builder(&[]));
    let message = filler("HUGE-MESSAGE ", 4 * MIB);
    let field = filler("HUGE-FIELD ", 2 * MIB);
    run(&telemetry, || {
        tracing::error!(payload = %field, "{message}");
    });
    assert!(telemetry.flush(SLOW_FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1, "one event");
    let event = &events[0];
    let json = serde_json::to_string(event).expect("serialise");
    assert!(
        json.len() < ITEM_LIMIT,
        "the event is {} bytes, over the {ITEM_LIMIT}-byte item limit",
        json.len()
    );
    assert!(
        json.contains("HUGE-MESSAGE frame decoded"),
        "the start of the message is kept"
    );
    let payload = event["extra"]["payload"].as_str().unwrap_or("");
    assert!(
        payload.starts_with("HUGE-FIELD frame decoded"),
        "the start of the field value is kept: {:?}",
        &payload[..payload.len().min(80)]
    );
    let field_cut = cut_markers(payload);
    assert!(
        field_cut.len() == 1 && field_cut[0] >= MIB as u64 && field_cut[0] <= 2 * MIB as u64,
        "the cut field value says how many bytes were cut: {field_cut:?} in {:?}",
        &payload[payload.len().saturating_sub(80)..]
    );
    // The message may be sent as `message` or as the exception's value: the
    // cut marker is in the sent text wherever the message is.
    let message_cuts: Vec<u64> = [&event["message"], &event["logentry"]["message"]]
        .into_iter()
        .chain(
            event["exception"]["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| &v["value"]),
        )
        .filter_map(Value::as_str)
        .filter(|t| t.starts_with("HUGE-MESSAGE"))
        .flat_map(cut_markers)
        .collect();
    assert!(
        !message_cuts.is_empty()
            && message_cuts
                .iter()
                .all(|&n| n >= 3 * MIB as u64 && n <= 4 * MIB as u64),
        "the cut message says how many bytes were cut: {message_cuts:?}"
    );
}
