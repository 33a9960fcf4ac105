//! The memory case of issue 10 ("bounded"), as a program to rerun: 100 `info!`
//! of 1 MiB each, then an `error!`; how much resident memory the 100
//! breadcrumbs hold, and how large the event built from them is. Then a 10 MB
//! `error!` message: how long until it is scrubbed and handed to the sink, and
//! how large it is when sent.
//!
//! ```text
//! cargo run --release --example bench_memory
//! ```
//!
//! Nothing goes to the network: envelopes are captured in memory
//! (`testing::Captured`, after the privacy gate) and measured there. Resident
//! memory is read from `/proc/self/statm` (Linux). It uses only API that the
//! crate had before the breadcrumb rebuild, so the same file builds against
//! the earlier commit for a before/after.

use std::time::{Duration, Instant};

use openadapt_telemetry::{Telemetry, testing::Captured};
use tracing::{error, info};
use tracing_subscriber::prelude::*;

const MIB: usize = 1024 * 1024;

/// Resident memory of this process, in bytes (0 where `/proc` is missing).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // 4 KiB pages (x86_64 Linux); no `libc`, which the earlier commit lacks.
    pages * 4096
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Words and blanks, `len` bytes: text as a program would log it (a cut backs
/// off to a blank, so the text is not one unbroken word).
fn text(len: usize) -> String {
    let words = [
        "frame", "captured", "encoder", "queue", "chunk", "written", "ok",
    ];
    let mut s = String::with_capacity(len + 16);
    let mut i = 0;
    while s.len() < len {
        s.push_str(words[i % words.len()]);
        s.push(' ');
        i += 1;
    }
    s.truncate(len);
    s
}

fn main() {
    let captured = Captured::new();
    let telemetry = Telemetry::builder("bench-memory", "0.1.0")
        .env_lookup(|_| None)
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .traces_sample_rate(0.0)
        .capture(&captured)
        .init();
    assert!(
        telemetry.is_enabled(),
        "telemetry must be on to be measured"
    );
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let flush = || assert!(telemetry.flush(Duration::from_secs(600)), "flush timed out");

    tracing::subscriber::with_default(subscriber, || {
        // Warm up: the worker, the gate's patterns, the first event built.
        info!("warming up");
        error!("warm-up error");
        flush();
        captured.clear();

        // Case 1: 100 breadcrumbs of 1 MiB each, then an error.
        let big = text(MIB);
        let before = resident();
        for i in 0..100 {
            info!("{i} {big}");
        }
        let after_crumbs = resident();
        let started = Instant::now();
        error!("request failed after 100 large log lines");
        flush();
        let built_in = started.elapsed();
        let after_error = resident();
        let events = captured.events();
        let event = events.last().expect("the error was captured");
        let event_bytes = serde_json::to_vec(event).map(|v| v.len()).unwrap_or(0);
        let envelope_bytes = captured.serialized().len();
        let crumbs = event["breadcrumbs"]["values"].as_array();
        let crumb_count = crumbs.map_or(0, Vec::len);
        let longest_crumb = crumbs
            .into_iter()
            .flatten()
            .filter_map(|c| c["message"].as_str())
            .map(str::len)
            .max()
            .unwrap_or(0);
        drop(big);
        captured.clear();

        // Case 2: one error with a 10 MB message.
        let huge = text(10 * 1000 * 1000);
        let started = Instant::now();
        error!("{huge}");
        flush();
        let huge_in = started.elapsed();
        let events = captured.events();
        let huge_event = events.last().expect("the large error was captured");
        let huge_message = huge_event["message"].as_str().map_or(0, str::len);
        let huge_event_bytes = serde_json::to_vec(huge_event).map(|v| v.len()).unwrap_or(0);

        println!("| measure | value |");
        println!("|---|---|");
        println!(
            "| resident growth, 100 `info!` of 1 MiB held as breadcrumbs | {} |",
            mib(after_crumbs.saturating_sub(before))
        );
        println!(
            "| resident growth after the `error!` was built and captured | {} |",
            mib(after_error.saturating_sub(before))
        );
        println!(
            "| the error event (JSON) | {event_bytes} B ({}) |",
            mib(event_bytes)
        );
        println!(
            "| its envelope, serialised | {envelope_bytes} B ({}) |",
            mib(envelope_bytes)
        );
        println!("| breadcrumbs in it; longest message | {crumb_count}; {longest_crumb} B |");
        println!(
            "| `error!` to captured (build, scrub, serialise) | {:.1} ms |",
            built_in.as_secs_f64() * 1000.0
        );
        println!(
            "| 10 MB `error!`: to captured | {:.1} ms |",
            huge_in.as_secs_f64() * 1000.0
        );
        println!(
            "| 10 MB `error!`: message sent; event | {huge_message} B; {huge_event_bytes} B |"
        );
    });
}
