//! The telemetry layer never narrows what the program's other layers see: an
//! unfiltered `fmt` layer beside it prints DEBUG, INFO and WARN lines whether
//! telemetry is off, on or never initialised, however the subscriber is built
//! (plain, global `EnvFilter`, per-layer filters, `reload`, `with_default` or the
//! global default).
//!
//! The level tracing lets through first is global to the process (the maximum of
//! every live subscriber's hint, and a cached interest per call site), so each
//! case runs alone in a child process: this binary again, `--exact host::neighbour_fmt::fmt_child`,
//! with `OPENADAPT_NEIGHBOUR_FMT_CASE` naming the case. No other subscriber in
//! that process can raise the level and hide the bug.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;
use crate::within;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::capture::{FLUSH, builder, start};
use openadapt_telemetry::testing::Captured;
use openadapt_telemetry::{Telemetry, TelemetryLayer};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

const CASE_ENV: &str = "OPENADAPT_NEIGHBOUR_FMT_CASE";
/// A bound on hangs, not a speed claim.
const BOUND: Duration = Duration::from_secs(60);

/// What `fmt` writes, in memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The program's own logging, one line per level.
fn program_logs(phase: &str) {
    tracing::debug!("{phase}: the program's debug line");
    tracing::info!("{phase}: the program's info line");
    tracing::warn!("{phase}: the program's warn line");
    tracing::error!("{phase}: the program's error line");
}

/// Fails unless `fmt` printed this phase's DEBUG, INFO and WARN lines.
fn assert_printed(out: &Buffer, phase: &str, case: &str) {
    let text = out.text();
    for (level, what) in [("DEBUG", "debug"), ("INFO", "info"), ("WARN", "warn")] {
        let message = format!("{phase}: the program's {what} line");
        assert!(
            text.lines()
                .any(|l| l.contains(level) && l.contains(&message)),
            "{case}: fmt did not print the {level} line {message:?}; fmt printed:\n{text}"
        );
    }
}

/// With telemetry on, the composition still reports: the error became one
/// event, with the info and warn lines as its breadcrumbs.
fn assert_reported(telemetry: &Telemetry, captured: &Captured, phase: &str, case: &str) {
    assert!(telemetry.flush(FLUSH), "{case}: flush");
    let events = captured.events();
    let message = format!("{phase}: the program's error line");
    let event = events
        .iter()
        .find(|e| e["message"] == message.as_str())
        .unwrap_or_else(|| panic!("{case}: no event {message:?}: {events:#?}"));
    let crumbs: Vec<&str> = event["breadcrumbs"]["values"]
        .as_array()
        .map(|v| v.iter().filter_map(|c| c["message"].as_str()).collect())
        .unwrap_or_default();
    for what in ["info", "warn"] {
        let crumb = format!("{phase}: the program's {what} line");
        assert!(
            crumbs.contains(&crumb.as_str()),
            "{case}: no breadcrumb {crumb:?}: {crumbs:?}"
        );
    }
}

/// Which telemetry the case puts beside `fmt`.
enum Mode {
    /// Opted out with `DO_NOT_TRACK=1`.
    Off,
    /// Running, with a capture sink.
    On,
    /// `openadapt_telemetry::layer()`, no instance ever initialised.
    Uninitialised,
}

/// The telemetry layer for `mode`, the guard (kept alive by the caller) and the capture.
fn telemetry(mode: &Mode) -> (TelemetryLayer, Option<(Telemetry, Captured)>) {
    match mode {
        Mode::Off => {
            let t = builder(&[("DO_NOT_TRACK", "1")]).init();
            assert!(!t.is_enabled(), "DO_NOT_TRACK=1 turns telemetry off");
            (t.layer(), Some((t, Captured::new())))
        }
        Mode::On => {
            let (t, captured) = start(builder(&[]));
            assert!(t.is_enabled());
            (t.layer(), Some((t, captured)))
        }
        Mode::Uninitialised => (openadapt_telemetry::layer(), None),
    }
}

fn mode_of(name: &str) -> Mode {
    match name {
        "off" => Mode::Off,
        "on" => Mode::On,
        "uninit" => Mode::Uninitialised,
        other => panic!("unknown mode {other}"),
    }
}

/// The child: runs the case named in `OPENADAPT_NEIGHBOUR_FMT_CASE`. In the parent
/// (the variable unset) it does nothing and passes.
#[test]
fn fmt_child() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    let (shape, mode) = case.split_once('/').expect("shape/mode");
    let out = Buffer::default();
    // A macro, not a value: each subscriber shape gives `fmt` its own type.
    macro_rules! fmt {
        () => {
            tracing_subscriber::fmt::layer().with_writer(out.clone())
        };
    }
    let (layer, guard) = telemetry(&mode_of(mode));
    match shape {
        "plain" => {
            let subscriber = tracing_subscriber::registry().with(fmt!()).with(layer);
            tracing::subscriber::with_default(subscriber, || program_logs("plain"));
        }
        "plain_global" => {
            tracing_subscriber::registry()
                .with(fmt!())
                .with(layer)
                .init();
            program_logs("plain_global");
        }
        "telemetry_first" => {
            let subscriber = tracing_subscriber::registry().with(layer).with(fmt!());
            tracing::subscriber::with_default(subscriber, || program_logs("telemetry_first"));
        }
        "env_filter" => {
            let subscriber = tracing_subscriber::registry()
                .with(EnvFilter::new("debug"))
                .with(fmt!())
                .with(layer);
            tracing::subscriber::with_default(subscriber, || program_logs("env_filter"));
        }
        "env_filter_global" => {
            tracing_subscriber::registry()
                .with(EnvFilter::new("debug"))
                .with(fmt!())
                .with(layer)
                .init();
            program_logs("env_filter_global");
        }
        "per_layer" => {
            let subscriber = tracing_subscriber::registry()
                .with(fmt!().with_filter(LevelFilter::DEBUG))
                .with(layer.with_filter(LevelFilter::INFO));
            tracing::subscriber::with_default(subscriber, || program_logs("per_layer"));
        }
        "per_layer_fmt_only" => {
            let subscriber = tracing_subscriber::registry()
                .with(fmt!().with_filter(LevelFilter::DEBUG))
                .with(layer);
            tracing::subscriber::with_default(subscriber, || program_logs("per_layer_fmt_only"));
        }
        "reload" => {
            // The telemetry layer behind a reload handle, swapped for another
            // one halfway (the swap rebuilds every call site's interest).
            let (reloadable, handle) = reload::Layer::new(layer);
            let subscriber = tracing_subscriber::registry().with(fmt!()).with(reloadable);
            tracing::subscriber::with_default(subscriber, || {
                program_logs("reload_before");
                handle.reload(openadapt_telemetry::layer()).expect("reload");
                program_logs("reload_after");
            });
            assert_printed(&out, "reload_before", &case);
            assert_printed(&out, "reload_after", &case);
            if let Some((t, captured)) = &guard
                && t.is_enabled()
            {
                assert_reported(t, captured, "reload_before", &case);
            }
            println!("CASE OK {case}");
            return;
        }
        other => panic!("unknown shape {other}"),
    }
    assert_printed(&out, shape, &case);
    if let Some((t, captured)) = &guard
        && t.is_enabled()
    {
        assert_reported(t, captured, shape, &case);
    }
    println!("CASE OK {case}");
}

/// Runs `case` in a child process and fails with what it printed.
fn check(case: &str) {
    let run = within::run_self_within("host::neighbour_fmt::fmt_child", &[(CASE_ENV, case)], BOUND);
    assert!(
        run.succeeded() && run.stdout.contains(&format!("CASE OK {case}")),
        "{case}: {}",
        run.describe()
    );
}

#[test]
fn unfiltered_fmt_beside_telemetry_off() {
    check("plain/off");
}

#[test]
fn unfiltered_fmt_beside_telemetry_on() {
    check("plain/on");
}

#[test]
fn unfiltered_fmt_beside_the_uninitialised_free_layer() {
    check("plain/uninit");
}

#[test]
fn unfiltered_fmt_after_telemetry_off() {
    check("telemetry_first/off");
}

#[test]
fn unfiltered_fmt_after_telemetry_on() {
    check("telemetry_first/on");
}

#[test]
fn global_default_fmt_beside_telemetry_off() {
    check("plain_global/off");
}

#[test]
fn global_default_fmt_beside_telemetry_on() {
    check("plain_global/on");
}

#[test]
fn global_default_fmt_beside_the_uninitialised_free_layer() {
    check("plain_global/uninit");
}

#[test]
fn global_env_filter_with_telemetry_off() {
    check("env_filter/off");
}

#[test]
fn global_env_filter_with_telemetry_on() {
    check("env_filter/on");
}

#[test]
fn global_env_filter_with_the_uninitialised_free_layer() {
    check("env_filter/uninit");
}

#[test]
fn global_env_filter_as_global_default_with_telemetry_on() {
    check("env_filter_global/on");
}

#[test]
fn per_layer_filters_with_telemetry_off() {
    check("per_layer/off");
}

#[test]
fn per_layer_filters_with_telemetry_on() {
    check("per_layer/on");
}

#[test]
fn per_layer_filters_with_the_uninitialised_free_layer() {
    check("per_layer/uninit");
}

#[test]
fn filtered_fmt_beside_unfiltered_telemetry_off() {
    check("per_layer_fmt_only/off");
}

#[test]
fn filtered_fmt_beside_unfiltered_telemetry_on() {
    check("per_layer_fmt_only/on");
}

#[test]
fn reloaded_telemetry_layer_off() {
    check("reload/off");
}

#[test]
fn reloaded_telemetry_layer_on() {
    check("reload/on");
}

#[test]
fn reloaded_telemetry_layer_uninitialised() {
    check("reload/uninit");
}
