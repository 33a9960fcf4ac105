//! The first-run notice: `TELEMETRY_HELP` once per machine (per config folder),
//! never in CI, never when the output is not a terminal, never while off.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;
use crate::common;

use cli_support::Sandbox;
use common::capture::env;
use openadapt_telemetry::testing::write_first_run_notice;
use openadapt_telemetry::{TELEMETRY_HELP, Telemetry};

const DSN: &str = "https://key@errors.example/1";

/// Telemetry as a package starts it, with its config folder in the sandbox;
/// preview, so nothing is sent.
fn telemetry(sandbox: &Sandbox, vars: &[(&str, &str)]) -> Telemetry {
    Telemetry::builder("openadapt-notice-test", "1.0.0")
        .dsn(DSN)
        .config_file(sandbox.config_file())
        .env_lookup(env(vars))
        .preview(true)
        .global(false)
        .capture_panics(false)
        .init()
}

fn notice(telemetry: &Telemetry, vars: &[(&str, &str)], terminal: bool) -> Option<String> {
    let mut out = Vec::new();
    let shown = write_first_run_notice(telemetry.config(), &env(vars), terminal, &mut out);
    assert_eq!(shown, !out.is_empty());
    shown.then(|| String::from_utf8(out).unwrap())
}

#[test]
fn shown_once() {
    let sandbox = Sandbox::new("notice-once");
    let t = telemetry(&sandbox, &[]);
    assert_eq!(notice(&t, &[], true).as_deref(), Some(TELEMETRY_HELP));
    assert_eq!(notice(&t, &[], true), None);
    // another program on the same machine: not again
    let other = telemetry(&sandbox, &[]);
    assert_eq!(notice(&other, &[], true), None);
    assert_eq!(sandbox.config_dir_names(), ["notice_shown"]);
    // `disable` does not bring it back
    let run = sandbox.run(&["disable"], &[]).expect_code(0);
    assert_eq!(run.code, 0);
    assert_eq!(notice(&telemetry(&sandbox, &[]), &[], true), None);
}

#[test]
fn never_in_ci_and_not_recorded_there() {
    let sandbox = Sandbox::new("notice-ci");
    for ci in [
        ("CI", "true"),
        ("GITHUB_ACTIONS", "true"),
        ("GITLAB_CI", "1"),
        ("BUILDKITE", "true"),
    ] {
        let t = telemetry(&sandbox, &[ci]);
        assert_eq!(notice(&t, &[ci], true), None, "{ci:?}");
    }
    assert!(!sandbox.config_dir().exists());
    // the same machine outside CI: shown
    let t = telemetry(&sandbox, &[]);
    assert!(notice(&t, &[("CI", "false")], true).is_some());
}

#[test]
fn never_when_not_a_terminal_or_off() {
    let sandbox = Sandbox::new("notice-never");
    let on = telemetry(&sandbox, &[]);
    assert_eq!(notice(&on, &[], false), None, "not a terminal");
    let off = telemetry(&sandbox, &[("DO_NOT_TRACK", "1")]);
    assert_eq!(notice(&off, &[], true), None, "DO_NOT_TRACK");
    let off = telemetry(&sandbox, &[("OPENADAPT_TELEMETRY_ENABLED", "false")]);
    assert_eq!(notice(&off, &[], true), None, "disabled");
    sandbox.write_config(r#"{"enabled": false}"#);
    assert_eq!(notice(&telemetry(&sandbox, &[]), &[], true), None, "file");
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);
    let no_file = Telemetry::builder("openadapt-notice-test", "1.0.0")
        .dsn(DSN)
        .no_config_file()
        .env_lookup(env(&[]))
        .preview(true)
        .global(false)
        .capture_panics(false)
        .init();
    assert_eq!(notice(&no_file, &[], true), None, "no config folder");
}
