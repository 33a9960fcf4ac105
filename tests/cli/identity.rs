//! The install id a package sends as the Sentry user id: a random UUID v4 in
//! `~/.openadapt/telemetry_distinct_id` (the Python packages' file), made the
//! first time telemetry runs with a DSN, never while off, never in preview,
//! never without a config file; `OPENADAPT_TELEMETRY_DISTINCT_ID` instead when
//! it is set; the crate's former `anonymous_id` migrated once.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;
use crate::common;

use cli_support::Sandbox;
use common::capture::{FLUSH, builder, run, start};
use openadapt_telemetry::TelemetryBuilder;
use openadapt_telemetry::cli::AnonymousId;
use serde_json::{Value, json};

const DSN: &str = "https://key@errors.example/1";

/// The common test builder, reading the sandbox's config file, with the
/// sandbox's home.
fn with_file(sandbox: &Sandbox, vars: &[(&str, &str)]) -> TelemetryBuilder {
    let home = sandbox.home();
    let mut all = vec![("HOME", cli_support::text(&home))];
    all.extend_from_slice(vars);
    builder(&all).config_file(sandbox.config_file())
}

/// Starts `builder` with a capture sink, sends an error and a span, and
/// returns the `user` of each item.
fn users(builder: TelemetryBuilder) -> Vec<Value> {
    let (telemetry, captured) = start(builder.traces_sample_rate(1.0));
    run(&telemetry, || {
        let _span = tracing::info_span!("work").entered();
        tracing::error!("boom");
    });
    assert!(telemetry.flush(FLUSH));
    let items = captured.items();
    assert_eq!(items.len(), 2, "{items:#?}");
    items
        .into_iter()
        .map(|(_, item)| item["user"].clone())
        .collect()
}

#[test]
fn made_once_and_sent_as_the_user_id() {
    let sandbox = Sandbox::new("identity-sent");
    let sent = users(with_file(&sandbox, &[]).dsn(DSN));
    let stored = std::fs::read_to_string(sandbox.id_file()).unwrap();
    let id = stored.trim();
    let uuid = sentry::types::Uuid::parse_str(id).unwrap();
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(sent, [json!({ "id": id }), json!({ "id": id })]);
    // Python's format: the UUID, no line break
    assert_eq!(stored, id);
    assert!(!sandbox.config_dir().exists());

    // the next start keeps it
    assert_eq!(
        users(with_file(&sandbox, &[]).dsn(DSN)),
        [json!({ "id": id }), json!({ "id": id })]
    );
    // after `disable` (which deletes it) and `enable`, a new one
    sandbox.run(&["disable"], &[]).expect_code(0);
    assert!(!sandbox.id_file().exists());
    sandbox.run(&["enable"], &[]).expect_code(0);
    let again = users(with_file(&sandbox, &[]).dsn(DSN));
    let new = AnonymousId::in_home(&sandbox.home())
        .load()
        .unwrap()
        .unwrap();
    assert_ne!(new, id);
    assert_eq!(again[0], json!({ "id": new }));
}

#[test]
fn the_id_status_shows_is_the_one_sent() {
    let sandbox = Sandbox::new("identity-status");
    let sent = users(with_file(&sandbox, &[("OPENADAPT_TELEMETRY_DSN", DSN)]));
    let id = sent[0]["id"].as_str().unwrap().to_owned();
    let status = sandbox.run(&["status", "--json"], &[]).expect_code(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["anonymous_id"]["value"], id.as_str());
}

#[test]
fn never_made_while_off_in_preview_or_without_a_dsn_or_file() {
    let sandbox = Sandbox::new("identity-never");
    let cases: [(&str, TelemetryBuilder); 4] = [
        ("no DSN", with_file(&sandbox, &[])),
        ("preview", with_file(&sandbox, &[]).dsn(DSN).preview(true)),
        (
            "preview variable",
            with_file(&sandbox, &[("OPENADAPT_TELEMETRY_DEBUG", "1")]).dsn(DSN),
        ),
        ("no config file", builder(&[]).dsn(DSN)),
    ];
    for (name, builder) in cases {
        let sent = users(builder);
        assert_eq!(sent, [Value::Null, Value::Null], "{name}");
        assert!(!sandbox.id_file().exists(), "{name}");
    }
    for vars in [
        &[("DO_NOT_TRACK", "1")][..],
        &[("OPENADAPT_TELEMETRY_ENABLED", "false")],
    ] {
        let (telemetry, _) = start(with_file(&sandbox, vars).dsn(DSN));
        assert!(!telemetry.is_enabled());
    }
    sandbox.write_config(r#"{"enabled": false}"#);
    let (telemetry, _) = start(with_file(&sandbox, &[]).dsn(DSN));
    assert!(!telemetry.is_enabled());
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);
}
