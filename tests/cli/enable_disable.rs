//! `openadapt-telemetry enable` / `disable`: an atomic rewrite that keeps every
//! other key, the anonymous id removed by `disable`, a note when a variable
//! still overrides the file, and unparseable files left alone unless `--force`.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use cli_support::Sandbox;
use serde_json::json;

const ID: &str = "0b7c2a8e-4f5d-4c1e-9a3b-2d6f8e1c5a70";

#[test]
fn disable_creates_the_folder_and_enable_turns_it_back_on() {
    let sandbox = Sandbox::new("toggle-new");
    let file = sandbox.config_file();
    let run = sandbox.run(&["disable"], &[]).expect_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "Telemetry disabled in the config file {0}.\n\
             Telemetry is now off: config file {0} (\"enabled\": false).\n",
            file.display()
        )
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": false}));
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);

    let run = sandbox.run(&["enable"], &[]).expect_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "Telemetry enabled in the config file {0}.\n\
             Telemetry is now on: config file {0} (\"enabled\": true).\n",
            file.display()
        )
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": true}));
    // enabling makes no anonymous id: a program makes it when it first sends
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);
    let status = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        status
            .stdout
            .starts_with("Telemetry is ON, decided by: config file")
    );
}

#[test]
fn rewrite_keeps_unknown_keys_and_leaves_no_temporary_file() {
    let sandbox = Sandbox::new("toggle-keep");
    sandbox.write_config(
        r#"{
  "environment": "staging",
  "sample_rate": 0.5,
  "future_key": {"nested": [1, 2, {"deep": null}]},
  "python_only": "kept",
  "enabled": true
}"#,
    );
    sandbox.run(&["disable"], &[]).expect_code(0);
    assert_eq!(
        sandbox.config_json(),
        json!({
            "environment": "staging",
            "sample_rate": 0.5,
            "future_key": {"nested": [1, 2, {"deep": null}]},
            "python_only": "kept",
            "enabled": false
        })
    );
    assert_eq!(sandbox.config_dir_names(), ["telemetry.json"]);
}

#[test]
fn disable_deletes_the_anonymous_id_and_prints_it() {
    let sandbox = Sandbox::new("toggle-id");
    sandbox.write_config("{}");
    sandbox.write_id(ID);
    let run = sandbox.run(&["disable"], &[]).expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("Deleted the anonymous id {ID}.")),
        "{}",
        run.stdout
    );
    assert!(!sandbox.id_file().exists());
    let status = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        status.stdout.contains("Anonymous id: none yet"),
        "{}",
        status.stdout
    );
}

#[test]
fn says_when_a_variable_still_overrides_the_file() {
    let sandbox = Sandbox::new("toggle-override");
    let run = sandbox
        .run(&["enable"], &[("DO_NOT_TRACK", "1")])
        .expect_code(0);
    assert!(
        run.stdout.contains(
            "Note: DO_NOT_TRACK=1 overrides the config file: telemetry stays off while it is set.\n\
             Telemetry is now off: DO_NOT_TRACK=1.\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": true}));

    let run = sandbox
        .run(&["enable"], &[("OPENADAPT_TELEMETRY_ENABLED", "no")])
        .expect_code(0);
    assert!(
        run.stdout.contains(
            "Note: environment variable OPENADAPT_TELEMETRY_ENABLED=no overrides the config file: telemetry stays off while it is set."
        ),
        "{}",
        run.stdout
    );

    let run = sandbox
        .run(&["disable"], &[("OPENADAPT_TELEMETRY_ENABLED", "true")])
        .expect_code(0);
    assert!(
        run.stdout.contains(
            "Note: environment variable OPENADAPT_TELEMETRY_ENABLED=true overrides the config file: telemetry stays on while it is set.\n\
             Telemetry is now on: environment variable OPENADAPT_TELEMETRY_ENABLED=true.\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.config_json(), json!({"enabled": false}));

    // no note when nothing overrides
    let run = sandbox
        .run(&["disable"], &[("DO_NOT_TRACK", "1")])
        .expect_code(0);
    assert!(!run.stdout.contains("Note:"), "{}", run.stdout);
}

#[test]
fn the_config_variable_names_the_file_to_rewrite() {
    let sandbox = Sandbox::new("toggle-named");
    let named = sandbox.root.join("sub").join("named.json");
    sandbox
        .run(
            &["disable"],
            &[("OPENADAPT_TELEMETRY_CONFIG", cli_support::text(&named))],
        )
        .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&named).unwrap(),
        "{\n  \"enabled\": false\n}\n"
    );
    assert!(!sandbox.config_dir().exists());
}

#[test]
fn unparseable_files_are_left_alone_unless_forced() {
    let sandbox = Sandbox::new("toggle-force");
    let file = sandbox.config_file();
    let broken = "{\"enabled\": true, \"environment\": \"dev\",}";
    sandbox.write_config(broken);
    for command in ["enable", "disable"] {
        let run = sandbox.run(&[command], &[]).expect_code(1);
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            format!(
                "openadapt-telemetry: cannot update config file {}: trailing comma at line 1 column 40; \
                 fix it, or replace it with `openadapt-telemetry {command} --force` (a copy is kept)\n",
                file.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
    }

    let run = sandbox.run(&["disable", "--force"], &[]).expect_code(0);
    let backup = sandbox.config_dir().join("telemetry.json.bak");
    assert!(
        run.stdout.starts_with(&format!(
            "Kept a copy of the unparseable config file as {}.\n",
            backup.display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), broken);
    assert_eq!(sandbox.config_json(), json!({"enabled": false}));
    assert_eq!(
        sandbox.config_dir_names(),
        ["telemetry.json", "telemetry.json.bak"]
    );

    // not an object
    sandbox.write_config("[1, 2]");
    let run = sandbox.run(&["enable"], &[]).expect_code(1);
    assert!(
        run.stderr
            .contains("expected a JSON object, found an array"),
        "{}",
        run.stderr
    );
    sandbox.run(&["enable", "--force"], &[]).expect_code(0);
    assert_eq!(sandbox.config_json(), json!({"enabled": true}));
    assert_eq!(
        std::fs::read_to_string(sandbox.config_dir().join("telemetry.json.bak.2")).unwrap(),
        "[1, 2]"
    );
}

#[test]
fn a_directory_is_never_replaced() {
    let sandbox = Sandbox::new("toggle-dir");
    std::fs::create_dir_all(sandbox.config_file()).unwrap();
    for args in [&["disable"][..], &["disable", "--force"]] {
        let run = sandbox.run(args, &[]).expect_code(1);
        assert_eq!(
            run.stderr,
            format!(
                "openadapt-telemetry: config file {} is a directory\n",
                sandbox.config_file().display()
            ),
            "{args:?}"
        );
        assert!(sandbox.config_file().is_dir());
    }
}
