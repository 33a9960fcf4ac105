//! The quick start tells the truth about what the server did (issue 12.8): "sent; the error's event id is …"
//! only when the server took the error, "refused" when it refused it (403). The example runs as a user would
//! run it, against a loopback server, with a home folder of its own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::faults::{Injector, Mode};

/// The example's binary, built by the cargo that runs this test (so it is never stale), once per run.
fn quickstart() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_quickstart).clone()
}

fn build_quickstart() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--example", "quickstart"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Without the variables cargo sets for a test run: build scripts that watch them (ring's watches
    // CARGO_MANIFEST_DIR) would rebuild, and the next `cargo test` would rebuild them back.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command
        .status()
        .expect("run cargo build --example quickstart");
    assert!(
        status.success(),
        "cargo build --example quickstart: {status}"
    );
    // This test runs from target/<profile>/deps/; examples are in target/<profile>/examples/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Runs the quick start with `dsn`, in an environment of its own; returns its stderr.
fn run_quickstart(name: &str, dsn: &str) -> String {
    let home = std::env::temp_dir().join(format!(
        "openadapt-telemetry-quickstart-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(quickstart());
    command
        .env_clear()
        .env("HOME", &home)
        .env("OPENADAPT_TELEMETRY_DSN", dsn)
        .current_dir(&home);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let output = command.output().expect("run the quick start");
    let _ = std::fs::remove_dir_all(&home);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{}\n{stderr}", output.status);
    stderr
}

#[test]
fn the_quickstart_says_refused_when_the_server_refuses() {
    let server = Injector::start(Mode::Status(403, Vec::new()));
    let stderr = run_quickstart("refused", &server.dsn());
    assert!(
        server
            .events()
            .iter()
            .any(|e| e["message"] == "recording failed"),
        "the error was offered"
    );
    assert!(
        !stderr.contains("sent; the error's event id is"),
        "a refused event is not sent: {stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
}

#[test]
fn the_quickstart_gives_the_id_the_server_took() {
    let server = Injector::start(Mode::Healthy);
    let stderr = run_quickstart("accepted", &server.dsn());
    let event = server
        .delivered_events()
        .into_iter()
        .find(|e| e["message"] == "recording failed")
        .unwrap_or_else(|| panic!("the error did not arrive: {stderr}"));
    let id = event["event_id"].as_str().unwrap();
    assert!(
        stderr.contains(&format!("sent; the error's event id is {id}")),
        "{stderr}"
    );
    assert!(!stderr.contains("refused"), "{stderr}");
}
