//! Every way of turning telemetry off turns it off, and then nothing is captured.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

const DSN: &str = "https://public@127.0.0.1:9/1";

fn assert_off(
    vars: &[(&str, &str)],
    adjust: impl FnOnce(openadapt_telemetry::TelemetryBuilder) -> openadapt_telemetry::TelemetryBuilder,
) {
    let (telemetry, captured) = start(adjust(builder(vars).dsn(DSN)));
    assert!(
        !telemetry.is_enabled(),
        "{vars:?} should turn telemetry off"
    );
    assert!(!telemetry.config().enabled().value);
    run(&telemetry, || {
        tracing::error!(feature = "x", "boom");
        let _s = tracing::info_span!("work").entered();
    });
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);
    assert!(captured.items().is_empty(), "{vars:?}: nothing captured");
}

#[test]
fn every_opt_out_path() {
    let same = |b| b;
    assert_off(&[("DO_NOT_TRACK", "1")], same);
    assert_off(&[("DO_NOT_TRACK", "true")], same);
    assert_off(
        &[
            ("DO_NOT_TRACK", "TRUE"),
            ("OPENADAPT_TELEMETRY_ENABLED", "true"),
        ],
        |b| b.enabled(true),
    );
    assert_off(&[("OPENADAPT_TELEMETRY_ENABLED", "false")], same);
    assert_off(&[("OPENADAPT_TELEMETRY_ENABLED", "0")], same);
    assert_off(&[], |b| b.enabled(false));
    assert_off(&[("OPENADAPT_TELEMETRY_DSN", "not a dsn")], same);
    assert_off(&[], |b| b.send_default_pii(true));
}

#[test]
fn do_not_track_names_its_source() {
    let (telemetry, _) = start(builder(&[("DO_NOT_TRACK", "1")]).dsn(DSN));
    assert_eq!(
        telemetry.config().enabled().source,
        openadapt_telemetry::Source::DoNotTrack
    );
}

#[test]
fn a_file_can_turn_it_off() {
    let dir = std::env::temp_dir().join(format!("oat-optout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("telemetry.json");
    std::fs::write(&file, r#"{"enabled": false, "some_python_key": 1}"#).unwrap();
    let (telemetry, captured) = start(builder(&[]).dsn(DSN).config_file(&file));
    assert!(!telemetry.is_enabled());
    run(&telemetry, || tracing::error!("boom"));
    drop(telemetry);
    assert!(captured.items().is_empty());

    std::fs::write(&file, "{not json").unwrap();
    let (telemetry, _) = start(builder(&[]).dsn(DSN).config_file(&file));
    assert!(
        !telemetry.is_enabled(),
        "a malformed file turns telemetry off"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_dsn_and_no_preview_is_off() {
    let (telemetry, _) = start_without_capture();
    assert!(!telemetry.is_enabled());
}

fn start_without_capture() -> (openadapt_telemetry::Telemetry, ()) {
    (builder(&[]).init(), ())
}
