//! `openadapt-telemetry reset-id`: a new random id, the old one printed so its
//! data can be erased; `--delete`; no new id while telemetry is off.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use super::cli_support;

use cli_support::Sandbox;

const OLD: &str = "0b7c2a8e-4f5d-4c1e-9a3b-2d6f8e1c5a70";

fn stored(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.id_file())
        .unwrap()
        .trim()
        .to_owned()
}

fn is_v4(id: &str) -> bool {
    let bytes: Vec<char> = id.chars().collect();
    id.len() == 36
        && bytes[14] == '4'
        && "89ab".contains(bytes[19])
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[test]
fn reset_replaces_the_id_and_prints_the_old_one() {
    let sandbox = Sandbox::new("reset");
    sandbox.write_id(OLD);
    let run = sandbox.run(&["reset-id"], &[]).expect_code(0);
    let new = stored(&sandbox);
    assert!(is_v4(&new), "{new}");
    assert_ne!(new, OLD);
    assert_eq!(
        run.stdout,
        format!(
            "Old anonymous id: {OLD}\n\
             New anonymous id: {new} ({})\n\
             To have the data sent under {OLD} erased, send that id to the maintainers (https://docs.openadapt.ai/telemetry).\n",
            sandbox.id_file().display()
        )
    );
    // again: a different random id each time
    sandbox.run(&["reset-id"], &[]).expect_code(0);
    assert_ne!(stored(&sandbox), new);
    // the Python package's file, in its format: the UUID, no line break
    assert_eq!(
        cli_support::names(sandbox.id_file().parent().unwrap()),
        ["telemetry_distinct_id"]
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.id_file()).unwrap(),
        stored(&sandbox)
    );
    assert!(!sandbox.config_dir().exists());
}

#[test]
fn reset_without_an_id_makes_one() {
    let sandbox = Sandbox::new("reset-none");
    let run = sandbox.run(&["reset-id"], &[]).expect_code(0);
    assert!(
        run.stdout.starts_with("Old anonymous id: none\n"),
        "{}",
        run.stdout
    );
    assert!(is_v4(&stored(&sandbox)));
    let status = sandbox.run(&["status"], &[]).expect_code(0);
    assert!(
        status
            .stdout
            .contains(&format!("Anonymous id: {}", stored(&sandbox))),
        "{}",
        status.stdout
    );
}

#[test]
fn delete_removes_it() {
    let sandbox = Sandbox::new("reset-delete");
    sandbox.write_id(OLD);
    let run = sandbox.run(&["reset-id", "--delete"], &[]).expect_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "Deleted the anonymous id {OLD} ({}).\nTo have the data sent under {OLD} erased",
            sandbox.id_file().display()
        )),
        "{}",
        run.stdout
    );
    assert!(!sandbox.id_file().exists());
    let run = sandbox.run(&["reset-id", "--delete"], &[]).expect_code(0);
    assert!(
        run.stdout.starts_with("There is no anonymous id"),
        "{}",
        run.stdout
    );
}

#[test]
fn no_new_id_while_telemetry_is_off() {
    let sandbox = Sandbox::new("reset-off");
    sandbox.write_id(OLD);
    let run = sandbox
        .run(&["reset-id"], &[("DO_NOT_TRACK", "1")])
        .expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("Deleted the anonymous id {OLD}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Telemetry is off (DO_NOT_TRACK=1): no new id is made while it is off."),
        "{}",
        run.stdout
    );
    assert!(!sandbox.id_file().exists());
}
