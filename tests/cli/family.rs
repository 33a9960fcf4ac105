//! One family with the Python packages (issue 13), as a user meets it: the
//! shared config file and the XDG one, a file Python wrote, CI, a repository
//! opt-out, and one install id.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;
use crate::common;

use cli_support::{Run, Sandbox, finish, text};
use common::capture::{FLUSH, builder, run, start};
use openadapt_telemetry::TelemetryBuilder;
use serde_json::{Value, json};

const DSN: &str = "https://key@errors.example/1";

fn status_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:#?}"))
}

#[test]
fn an_opt_out_in_the_shared_file_holds_with_xdg_elsewhere() {
    let sandbox = Sandbox::new("family-xdg");
    let xdg = sandbox.xdg();
    let with_xdg = [("XDG_CONFIG_HOME", text(&xdg))];
    sandbox.write_config(r#"{"enabled": false}"#);
    std::fs::create_dir_all(sandbox.xdg_config_file().parent().unwrap()).unwrap();
    std::fs::write(
        sandbox.xdg_config_file(),
        r#"{"enabled": true, "environment": "xdg"}"#,
    )
    .unwrap();
    let run = sandbox.run(&["status"], &with_xdg).expect_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "Telemetry is OFF, decided by: config file {} (\"enabled\": false).",
            sandbox.config_file().display()
        )),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "Config file:  {} (read too: its keys win",
            sandbox.xdg_config_file().display()
        )),
        "{run:#?}"
    );
    // its other keys still win
    assert!(run.stdout.contains("environment           xdg"), "{run:#?}");

    // and the other way round
    sandbox.write_config(r#"{"enabled": true}"#);
    std::fs::write(sandbox.xdg_config_file(), r#"{"enabled": false}"#).unwrap();
    let status = status_json(&sandbox.run(&["status", "--json"], &with_xdg));
    assert_eq!(status["enabled"], false);
    assert_eq!(
        status["config_files"][1]["path"],
        text(&sandbox.xdg_config_file())
    );
}

#[test]
fn disable_writes_the_shared_file_and_the_xdg_one_if_it_exists() {
    let sandbox = Sandbox::new("family-disable");
    let xdg = sandbox.xdg();
    let with_xdg = [("XDG_CONFIG_HOME", text(&xdg))];
    // no XDG file: the shared file only
    let run = sandbox.run(&["disable"], &with_xdg).expect_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "Telemetry disabled in the config file {0}.\n\
             Telemetry is now off: config file {0} (\"enabled\": false).\n",
            sandbox.config_file().display()
        )
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": false}));
    assert!(!sandbox.xdg().exists());

    // an XDG file: both
    std::fs::create_dir_all(sandbox.xdg_config_file().parent().unwrap()).unwrap();
    std::fs::write(
        sandbox.xdg_config_file(),
        r#"{"enabled": false, "environment": "xdg"}"#,
    )
    .unwrap();
    let run = sandbox.run(&["enable"], &with_xdg).expect_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "Telemetry enabled in the config file {}.\nTelemetry enabled in the config file {}.\n",
            sandbox.config_file().display(),
            sandbox.xdg_config_file().display()
        )),
        "{run:#?}"
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": true}));
    let xdg: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.xdg_config_file()).unwrap()).unwrap();
    assert_eq!(xdg, json!({"enabled": true, "environment": "xdg"}));
    let status = status_json(&sandbox.run(&["status", "--json"], &with_xdg));
    assert_eq!(status["enabled"], true);
}

#[test]
fn a_python_written_config_loads_and_ci_is_internal() {
    let sandbox = Sandbox::new("family-python");
    // Python's save_config: every key, "internal": false, and json.dump's NaN
    sandbox.write_config(
        r#"{
  "enabled": true,
  "internal": false,
  "dsn": null,
  "environment": "production",
  "sample_rate": NaN,
  "traces_sample_rate": 0.01,
  "error_tracking": true,
  "performance_tracking": true,
  "feature_usage": true,
  "send_default_pii": false
}"#,
    );
    let run = sandbox
        .run(&["status", "--json"], &[("CI", "true")])
        .expect_code(0);
    let status = status_json(&run);
    assert_eq!(status["config_file"]["state"], "loaded");
    assert_eq!(status["enabled"], true);
    assert_eq!(status["internal"]["value"], true);
    assert_eq!(status["internal"]["reason"], "CI variable CI is set");
    assert_eq!(status["ci"]["value"], true);
    assert_eq!(status["ci"]["source"], "environment variable CI");
    assert_eq!(status["settings"]["sample_rate"]["value"], 1.0);
    assert_eq!(
        status["warnings"],
        json!([format!(
            "invalid \"sample_rate\" in config file {}: NaN: expected a number from 0.0 to 1.0; using 1.0",
            sandbox.config_file().display()
        )])
    );
    // a rewrite keeps Python's NaN
    sandbox.run(&["disable"], &[]).expect_code(0);
    let text = std::fs::read_to_string(sandbox.config_file()).unwrap();
    assert!(text.contains("\"sample_rate\": NaN"), "{text}");
}

#[test]
fn usage_events_are_off_in_ci_unless_asked_for() {
    let sandbox = Sandbox::new("family-ci-usage");
    let usage = |env: &[(&str, &str)]| {
        let status = status_json(&sandbox.run(&["status", "--json"], env));
        (
            status["settings"]["feature_usage"]["value"].clone(),
            status["settings"]["feature_usage"]["source"].clone(),
            status["settings"]["error_tracking"]["value"].clone(),
        )
    };
    assert_eq!(usage(&[]), (json!(true), json!("default"), json!(true)));
    assert_eq!(
        usage(&[("GITHUB_ACTIONS", "true")]),
        (
            json!(false),
            json!(
                "CI (GITHUB_ACTIONS is set; OPENADAPT_TELEMETRY_IN_CI=true sends usage events there)"
            ),
            json!(true)
        )
    );
    assert_eq!(
        usage(&[
            ("GITHUB_ACTIONS", "true"),
            ("OPENADAPT_TELEMETRY_IN_CI", "1")
        ]),
        (json!(true), json!("default"), json!(true))
    );

    // through the pipeline: no usage event in CI, the error still goes
    for (vars, usage_events) in [
        (&[("CI", "true")][..], 0),
        (&[("CI", "true"), ("OPENADAPT_TELEMETRY_IN_CI", "true")], 1),
    ] {
        let (telemetry, captured) = start(builder(vars).dsn(DSN));
        run(&telemetry, || {
            tracing::info!(feature = "family.test", "used");
            tracing::error!("boom");
        });
        assert!(telemetry.flush(FLUSH));
        drop(telemetry);
        let items = captured.items();
        let features = items
            .iter()
            .filter(|(_, item)| item["tags"]["feature"] == "family.test")
            .count();
        assert_eq!(features, usage_events, "{vars:?}: {items:#?}");
        assert_eq!(items.len(), 1 + usage_events, "{vars:?}");
    }
}

/// `status` run from `dir` (under the sandbox).
fn status_from(sandbox: &Sandbox, dir: &std::path::Path) -> Run {
    let mut command = sandbox.command(cli_support::BIN, &["status"]);
    command.current_dir(dir);
    finish(&mut command)
}

#[test]
fn a_repository_opt_out_two_levels_up_turns_it_off() {
    let sandbox = Sandbox::new("family-repository");
    let repo = sandbox.root.join("repo");
    let deep = repo.join("crates").join("tool");
    std::fs::create_dir_all(&deep).unwrap();
    let run = status_from(&sandbox, &deep);
    assert!(run.stdout.starts_with("Telemetry is ON"), "{run:#?}");

    let pyproject = repo.join("pyproject.toml");
    std::fs::write(
        &pyproject,
        "[project]\nname = \"tool\"\n\n[tool.openadapt]\ntelemetry = false\n",
    )
    .unwrap();
    let run = status_from(&sandbox, &deep);
    assert!(
        run.stdout.starts_with(&format!(
            "Telemetry is OFF, decided by: repository opt-out [tool.openadapt] telemetry = false in {}.",
            pyproject.display()
        )),
        "{run:#?}"
    );
    std::fs::remove_file(&pyproject).unwrap();

    let cargo = repo.join("Cargo.toml");
    std::fs::write(
        &cargo,
        "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.metadata.openadapt]\ntelemetry = false\n",
    )
    .unwrap();
    // a crate's own Cargo.toml on the way, without the table
    std::fs::write(deep.join("Cargo.toml"), "[package]\nname = \"tool\"\n").unwrap();
    let run = status_from(&sandbox, &deep);
    assert!(
        run.stdout.starts_with(&format!(
            "Telemetry is OFF, decided by: repository opt-out [workspace.metadata.openadapt] telemetry = false in {}.",
            cargo.display()
        )),
        "{run:#?}"
    );
    // `enable` cannot undo it, and says so
    let mut command = sandbox.command(cli_support::BIN, &["enable"]);
    command.current_dir(&deep);
    let run = finish(&mut command);
    assert!(
        run.stdout
            .contains("overrides the config file: telemetry stays off while it is set."),
        "{run:#?}"
    );
}

#[test]
fn a_git_checkout_is_not_internal_unless_asked() {
    let sandbox = Sandbox::new("family-git");
    let repo = sandbox.root.join("checkout");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let mut command = sandbox.command(cli_support::BIN, &["status", "--json"]);
    command.current_dir(&repo);
    let status = status_json(&finish(&mut command));
    // this binary is a debug build: that is the reason, not the .git
    assert_eq!(status["internal"]["reason"], "debug build");
    command.env("OPENADAPT_INTERNAL_FROM_GIT", "true");
    let status = status_json(&finish(&mut command));
    assert_eq!(
        status["internal"]["reason"],
        ".git in the working directory (OPENADAPT_INTERNAL_FROM_GIT is true)"
    );
}

/// The common test builder, reading the sandbox's config file, with the
/// sandbox's home.
fn with_home(sandbox: &Sandbox, vars: &[(&str, &str)]) -> TelemetryBuilder {
    let home = sandbox.home();
    let mut all = vec![("HOME", text(&home))];
    all.extend_from_slice(vars);
    builder(&all).config_file(sandbox.config_file())
}

/// The `user` of an error sent by `builder`.
fn user(builder: TelemetryBuilder) -> Value {
    let (telemetry, captured) = start(builder.dsn(DSN));
    run(&telemetry, || tracing::error!("boom"));
    assert!(telemetry.flush(FLUSH));
    let items = captured.items();
    assert_eq!(items.len(), 1);
    items[0].1["user"].clone()
}

#[test]
fn one_install_one_id_with_the_python_packages() {
    let sandbox = Sandbox::new("family-id");
    // the Python package's id is reused as it is
    let python = "3f0e8a51-61a4-4bd6-9c38-5b8d1c9b6c2e";
    sandbox.write_id(python);
    assert_eq!(user(with_home(&sandbox, &[])), json!({ "id": python }));
    assert_eq!(std::fs::read_to_string(sandbox.id_file()).unwrap(), python);

    // made in Python's format when there is none
    std::fs::remove_file(sandbox.id_file()).unwrap();
    let made = user(with_home(&sandbox, &[]));
    let id = std::fs::read_to_string(sandbox.id_file()).unwrap();
    assert_eq!(made, json!({ "id": id }));
    assert_eq!(id.len(), 36);
    assert_eq!(
        sentry::types::Uuid::parse_str(&id)
            .unwrap()
            .get_version_num(),
        4
    );

    // OPENADAPT_TELEMETRY_DISTINCT_ID wins, and makes no file
    std::fs::remove_file(sandbox.id_file()).unwrap();
    assert_eq!(
        user(with_home(
            &sandbox,
            &[("OPENADAPT_TELEMETRY_DISTINCT_ID", "ci-runner-7")]
        )),
        json!({ "id": "ci-runner-7" })
    );
    assert!(!sandbox.id_file().exists());
    let run = sandbox
        .run(
            &["status"],
            &[("OPENADAPT_TELEMETRY_DISTINCT_ID", "ci-runner-7")],
        )
        .expect_code(0);
    assert!(
        run.stdout
            .contains("Anonymous id: ci-runner-7 (from OPENADAPT_TELEMETRY_DISTINCT_ID)"),
        "{run:#?}"
    );

    // the crate's former anonymous_id is migrated once
    let old = "0b7c2a8e-4f5d-4c1e-9a3b-2d6f8e1c5a70";
    std::fs::create_dir_all(sandbox.config_dir()).unwrap();
    std::fs::write(sandbox.legacy_id_file(), format!("{old}\n")).unwrap();
    let run = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        run.stdout.contains(&format!("Anonymous id: {old}")),
        "{run:#?}"
    );
    assert_eq!(user(with_home(&sandbox, &[])), json!({ "id": old }));
    assert_eq!(std::fs::read_to_string(sandbox.id_file()).unwrap(), old);
    assert!(!sandbox.legacy_id_file().exists());

    // reset-id works on the shared file
    let run = sandbox.run(&["reset-id"], &[]).expect_code(0);
    assert!(
        run.stdout
            .starts_with(&format!("Old anonymous id: {old}\n")),
        "{run:#?}"
    );
    let new = std::fs::read_to_string(sandbox.id_file()).unwrap();
    assert_ne!(new, old);
    assert_eq!(user(with_home(&sandbox, &[])), json!({ "id": new }));
}
