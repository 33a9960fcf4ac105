//! `openadapt-telemetry status`: on or off and why, every value with its
//! source, the DSN without its key, the config file's state, and bad files.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use cli_support::{Sandbox, text};
use openadapt_telemetry::TELEMETRY_HELP;
use serde_json::Value;

fn json(run: &cli_support::Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status --json is not one JSON object ({e}): {run:#?}"))
}

#[test]
fn defaults_say_on_by_default_and_no_dsn_here() {
    let sandbox = Sandbox::new("status-defaults");
    let run = sandbox.run(&["status"], &[]).expect_code(0);
    let out = &run.stdout;
    assert!(
        out.starts_with("Telemetry is ON, decided by: default."),
        "{out}"
    );
    assert!(
        out.contains("no DSN configured (packages bring their own)"),
        "{out}"
    );
    assert!(out.contains("traces_sample_rate    0.01"), "{out}");
    assert!(out.contains("send_default_pii      false"), "{out}");
    // a debug build, run from a folder with no .git and no CI variable
    assert!(out.contains("internal              yes"), "{out}");
    assert!(out.contains("detected: debug build"), "{out}");
    let file = sandbox.config_file();
    assert!(
        out.contains(&format!("Config file:  {} (does not exist", file.display())),
        "{out}"
    );
    assert!(out.contains("Anonymous id: none yet"), "{out}");
    assert!(out.contains(TELEMETRY_HELP), "{out}");
    assert!(run.stderr.is_empty(), "{run:#?}");
    // status only reads
    assert!(!sandbox.config_dir().exists());
}

#[test]
fn precedence_do_not_track_over_variable_over_file_over_default() {
    let sandbox = Sandbox::new("status-precedence");
    let file = sandbox.config_file();
    sandbox.write_config(r#"{"enabled": true, "environment": "from-file"}"#);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[],
            &format!(
                "Telemetry is ON, decided by: config file {} (\"enabled\": true).",
                file.display()
            ),
        ),
        (
            &[("OPENADAPT_TELEMETRY_ENABLED", "false")],
            "Telemetry is OFF, decided by: environment variable OPENADAPT_TELEMETRY_ENABLED=false.",
        ),
        (
            &[
                ("DO_NOT_TRACK", "1"),
                ("OPENADAPT_TELEMETRY_ENABLED", "true"),
            ],
            "Telemetry is OFF, decided by: DO_NOT_TRACK=1.",
        ),
    ];
    for (env, headline) in cases {
        let run = sandbox.run(&["status"], env).expect_code(0);
        assert!(run.stdout.starts_with(headline), "{env:?}: {}", run.stdout);
        assert!(
            run.stdout.contains(&format!(
                "environment           from-file                config file {}",
                file.display()
            )),
            "{}",
            run.stdout
        );
    }
    sandbox.write_config(r#"{"enabled": false}"#);
    let run = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "Telemetry is OFF, decided by: config file {} (\"enabled\": false).",
            file.display()
        )),
        "{}",
        run.stdout
    );
    let run = sandbox
        .run(&["status"], &[("DO_NOT_TRACK", "0")])
        .expect_code(0);
    assert!(
        run.stdout
            .starts_with("Telemetry is OFF, decided by: config file")
    );
}

#[test]
fn every_value_with_its_source_and_the_dsn_without_its_key() {
    let sandbox = Sandbox::new("status-values");
    let file = sandbox.config_file();
    sandbox.write_config(
        r#"{"sample_rate": 0.5, "feature_usage": false, "dsn": "https://filekey@errors.example/9"}"#,
    );
    let env = [
        (
            "OPENADAPT_TELEMETRY_DSN",
            "http://supersecretkey@127.0.0.1:9000/42",
        ),
        ("OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE", "0.25"),
        ("OPENADAPT_INTERNAL", "false"),
        ("CI", "true"),
    ];
    let run = sandbox.run(&["status"], &env).expect_code(0);
    let out = &run.stdout;
    for line in [
        "dsn                   127.0.0.1:9000, project 42 environment variable OPENADAPT_TELEMETRY_DSN (key not shown)".to_owned(),
        "traces_sample_rate    0.25                     environment variable OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE".to_owned(),
        format!("sample_rate           0.5                      config file {}", file.display()),
        format!("feature_usage         false                    config file {}", file.display()),
        "error_tracking        true                     default".to_owned(),
        "internal              no                       environment variable OPENADAPT_INTERNAL: OPENADAPT_INTERNAL=false (overrides detection)".to_owned(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("No DSN"), "{out}");
    assert!(
        !out.contains("supersecretkey") && !out.contains("filekey"),
        "{out}"
    );

    let run = sandbox.run(&["status", "--json"], &env).expect_code(0);
    assert!(!run.stdout.contains("supersecretkey"), "{}", run.stdout);
    let status = json(&run);
    assert_eq!(status["enabled"], true);
    assert_eq!(
        status["settings"]["dsn"]["value"],
        serde_json::json!({"host": "127.0.0.1:9000", "project_id": "42"})
    );
    assert_eq!(
        status["settings"]["dsn"]["source"],
        "environment variable OPENADAPT_TELEMETRY_DSN"
    );
    assert_eq!(status["settings"]["traces_sample_rate"]["value"], 0.25);
    assert_eq!(status["settings"]["sample_rate"]["value"], 0.5);
    assert_eq!(
        status["settings"]["sample_rate"]["source"],
        format!("config file {}", file.display())
    );
    assert_eq!(status["internal"]["value"], false);
    assert_eq!(
        status["internal"]["reason"],
        "OPENADAPT_INTERNAL=false (overrides detection)"
    );
    assert_eq!(status["config_file"]["state"], "loaded");
    assert_eq!(status["config_file"]["path"], text(&file));
    assert_eq!(status["anonymous_id"]["value"], Value::Null);
    assert_eq!(status["help"], TELEMETRY_HELP);
}

#[test]
fn json_says_why_it_is_off_and_shows_the_anonymous_id() {
    let sandbox = Sandbox::new("status-json-off");
    sandbox.write_config("{}");
    let id = "0b7c2a8e-4f5d-4c1e-9a3b-2d6f8e1c5a70";
    sandbox.write_id(id);
    let run = sandbox
        .run(&["status", "--json"], &[("DO_NOT_TRACK", "true")])
        .expect_code(0);
    let status = json(&run);
    assert_eq!(status["enabled"], false);
    assert_eq!(status["why"], "DO_NOT_TRACK=true");
    assert_eq!(status["settings"]["enabled"]["source"], "DO_NOT_TRACK=true");
    assert_eq!(status["anonymous_id"]["value"], id);
    assert_eq!(status["anonymous_id"]["path"], text(&sandbox.id_file()));
    assert_eq!(status["settings"]["dsn"]["value"], Value::Null);
}

#[test]
fn the_config_variable_names_the_file() {
    let sandbox = Sandbox::new("status-config-var");
    let named = sandbox.root.join("elsewhere.json");
    std::fs::write(&named, r#"{"environment": "named"}"#).unwrap();
    let run = sandbox
        .run(&["status"], &[("OPENADAPT_TELEMETRY_CONFIG", text(&named))])
        .expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("Config file:  {} (read)", named.display())),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("environment           named"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "Anonymous id: none yet ({} is made",
            sandbox.id_file().display()
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_files_are_named_exactly_and_exit_non_zero() {
    let sandbox = Sandbox::new("status-bad");
    let file = sandbox.config_file();
    let cases: &[(&dyn Fn(), &str)] = &[
        (
            &|| sandbox.write_config("{\"enabled\": true,}"),
            "trailing comma at line 1 column 18",
        ),
        (
            &|| sandbox.write_config("not json"),
            "expected ident at line 1 column 2",
        ),
        (
            &|| sandbox.write_config("[\"enabled\"]"),
            "expected a JSON object, found an array",
        ),
        (
            &|| {
                std::fs::create_dir_all(sandbox.config_dir()).unwrap();
                std::fs::write(sandbox.config_file(), [0xff, 0xfe, 0x00]).unwrap();
            },
            "cannot read it: stream did not contain valid UTF-8",
        ),
        (
            &|| std::fs::create_dir_all(sandbox.config_file()).unwrap(),
            "it is a directory",
        ),
    ];
    for (make, reason) in cases {
        let _ = std::fs::remove_dir_all(sandbox.config_dir());
        make();
        let run = sandbox.run(&["status"], &[]).expect_code(1);
        let headline = format!(
            "Telemetry is OFF, decided by: config file {} is invalid: {reason}.",
            file.display()
        );
        assert!(
            run.stdout.starts_with(&headline),
            "{reason}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!(
                "Config file:  {} (invalid: {reason};",
                file.display()
            )),
            "{}",
            run.stdout
        );
        assert_eq!(
            run.stderr,
            format!(
                "openadapt-telemetry: invalid config file {}: {reason}; telemetry is off\n",
                file.display()
            )
        );
        let run = sandbox.run(&["status", "--json"], &[]).expect_code(1);
        let status = json(&run);
        assert_eq!(status["config_file"]["state"], "invalid");
        assert_eq!(status["config_file"]["error"], *reason);
        assert_eq!(status["enabled"], false);
    }
}
