//! What reaches a real Sentry-protocol server, read back from it: the Bugsink test server that `scripts/test`
//! starts (see `common::bugsink`). Each test sends through the crate's real transport, flushes, and looks its
//! event up in Bugsink by `event_id`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use std::error::Error;
use std::fmt;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder, run};
use openadapt_telemetry::Telemetry;
use serde_json::Value;

#[derive(Debug)]
struct LoadError(FrameError);
#[derive(Debug)]
struct FrameError(std::num::ParseIntError);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the recording")
    }
}
impl Error for LoadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad frame header")
    }
}
impl Error for FrameError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// Flushes `telemetry` and returns the event it sent last, as Bugsink stored it.
fn stored_last_event(bugsink: &Bugsink, telemetry: &Telemetry) -> Value {
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry
        .last_event_id()
        .expect("last_event_id after a flush");
    assert_eq!(id.len(), 32, "32 hex digits: {id:?}");
    bugsink
        .event(&id)
        .unwrap_or_else(|| panic!("event {id} never arrived at Bugsink"))
}

/// The running user's name, as far as the environment tells.
fn user_names() -> Vec<String> {
    let mut names: Vec<String> = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .collect();
    if let Some(home) = std::env::var_os("HOME")
        && let Some(last) = std::path::Path::new(&home).file_name()
    {
        names.push(last.to_string_lossy().into_owned());
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Every `/home/NAME` and `/Users/NAME` in `text` whose NAME is not the `<user>` marker.
fn unscrubbed_home_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["/home/", "/Users/"] {
        for (at, _) in text.match_indices(prefix) {
            let rest = &text[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| !matches!(c, '/' | '\\' | '"' | ' ' | ':'))
                .collect();
            if !name.is_empty() && name != "<user>" {
                found.push(format!("{prefix}{name}"));
            }
        }
    }
    found
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_error_arrives_as_an_exception_chain_with_sanitized_frames() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    assert!(telemetry.is_enabled());
    let err = LoadError(FrameError("x".parse::<u32>().unwrap_err()));
    run(&telemetry, || {
        tracing::error!(error = &err as &dyn Error, "server test: loading failed");
    });
    let event = stored_last_event(&bugsink, &telemetry);

    // sentry-types leaves `level` out when it is the protocol's default, "error".
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "{event:#}"
    );
    let values = event["exception"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no exception.values in {event:#}"));
    let types: Vec<&str> = values
        .iter()
        .map(|v| v["type"].as_str().unwrap_or(""))
        .collect();
    let texts: Vec<&str> = values
        .iter()
        .map(|v| v["value"].as_str().unwrap_or(""))
        .collect();
    // Innermost cause first, the error raised last; the standard library's errors by their real name.
    assert_eq!(
        types,
        ["std::num::ParseIntError", "FrameError", "LoadError"],
        "{event:#}"
    );
    assert_eq!(
        texts,
        [
            "invalid digit found in string",
            "bad frame header",
            "could not load the recording"
        ]
    );

    let frames = values[2]["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no stack trace on the raised error: {event:#}"));
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .unwrap_or("")
            .contains("server_error_arrives_as_an_exception_chain")),
        "the stack trace reaches the test function: {frames:#?}"
    );
    let paths: Vec<&str> = frames
        .iter()
        .flat_map(|f| [&f["abs_path"], &f["filename"]])
        .filter_map(Value::as_str)
        .collect();
    assert!(!paths.is_empty(), "frames carry file paths: {frames:#?}");
    for path in &paths {
        assert!(
            unscrubbed_home_paths(path).is_empty(),
            "a user name in a frame path: {path}"
        );
    }
    // `run` calls tracing's `with_default`, so the trace holds frames of a crate in the cargo registry, which is
    // under the home directory unless CARGO_HOME says otherwise: there the home part is replaced by a marker.
    let registry: Vec<&str> = frames
        .iter()
        .filter(|f| {
            f["filename"]
                .as_str()
                .is_some_and(|p| p.starts_with("tracing-core-"))
        })
        .filter_map(|f| f["abs_path"].as_str())
        .collect();
    assert!(!registry.is_empty(), "a frame of tracing-core: {frames:#?}");
    if let Ok(home) = std::env::var("HOME") {
        let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{home}/.cargo"));
        if home.trim_end_matches('/').len() >= 3 && cargo_home.starts_with(&home) {
            for path in &registry {
                assert!(
                    ["<home>/", "/home/<user>/", "/Users/<user>/"]
                        .iter()
                        .any(|marker| path.starts_with(marker)),
                    "the registry path under {home} starts with a marker: {path}"
                );
            }
        }
    }
    // Nowhere in the stored event: the real home directory or a /home/<real user> path.
    let text = event.to_string();
    if let Ok(home) = std::env::var("HOME") {
        let home = home.trim_end_matches('/');
        if home.len() >= 3 {
            assert!(
                !text.contains(home),
                "the home directory {home} was stored: {event:#}"
            );
        }
    }
    for name in user_names() {
        let path = format!("/home/{name}");
        assert!(!text.contains(&path), "{path} was stored: {event:#}");
    }
    assert_eq!(
        unscrubbed_home_paths(&text),
        Vec::<String>::new(),
        "{event:#}"
    );
}

/// The CI variables the crate knows (the Python package's 13, then four more).
const CI_VARIABLES: [&str; 17] = [
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "CIRCLECI",
    "BUILDKITE",
    "AZURE_PIPELINES",
    "TF_BUILD",
    "CODEBUILD_BUILD_ID",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
    "DRONE",
    "APPVEYOR",
    "CIRRUS_CI",
    "BITRISE_IO",
];

/// A command's first line of output, if it runs.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_tags_are_stored_as_the_python_packages_are() {
    let bugsink = Bugsink::require();
    // The CI variables of this process, so the `ci` tag is what the environment gives.
    let ci_vars: Vec<(&str, String)> = CI_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (*name, v)))
        .collect();
    let in_ci = ci_vars
        .iter()
        .any(|(_, v)| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    let python_bool = |b: bool| if b { "True" } else { "False" };
    for internal in ["false", "true"] {
        let mut vars: Vec<(&str, &str)> = vec![
            ("OPENADAPT_INTERNAL", internal),
            ("OPENADAPT_TELEMETRY_ENVIRONMENT", "server-test"),
        ];
        vars.extend(ci_vars.iter().map(|(k, v)| (*k, v.as_str())));
        let telemetry = builder(&vars).dsn(&bugsink.dsn).init();
        run(&telemetry, || {
            tracing::error!("server test: tags with OPENADAPT_INTERNAL={internal}")
        });
        let event = stored_last_event(&bugsink, &telemetry);
        let tags = &event["tags"];
        // Stored as the Python package's booleans are (GlitchTip turns `false` into `False`), so one query
        // (`internal:False`) covers both.
        assert_eq!(
            tags["internal"],
            python_bool(internal == "true"),
            "{event:#}"
        );
        assert_eq!(
            tags["ci"],
            python_bool(in_ci),
            "CI variables {ci_vars:?}: {event:#}"
        );
        assert_eq!(tags["package"], "openadapt-test", "{event:#}");
        assert_eq!(tags["package_version"], "1.2.3", "{event:#}");
        assert_eq!(tags["environment"], "server-test", "{event:#}");
        let os = match std::env::consts::OS {
            "linux" => "Linux",
            "macos" => "Darwin",
            "windows" => "Windows",
            other => other,
        };
        assert_eq!(tags["os"], os, "as Python's platform.system(): {event:#}");
        if cfg!(unix) {
            let release = output_of("uname", &["-r"]).expect("uname -r");
            assert_eq!(
                tags["os_version"], release,
                "as Python's platform.release(): {event:#}"
            );
        }
        assert!(
            tags["os_version"].as_str().is_some_and(|v| !v.is_empty()),
            "{event:#}"
        );
        let rust = tags["rust_version"].as_str().unwrap_or_default();
        assert!(
            rust.split('.').count() == 3 && rust.split('.').all(|p| p.parse::<u32>().is_ok()),
            "rust_version beside Python's python_version: {event:#}"
        );
        if let Some(rustc) = output_of("rustc", &["--version"]) {
            assert!(
                rustc.starts_with(&format!("rustc {rust}")),
                "{rustc} compiled it: {event:#}"
            );
        }
        assert_eq!(tags["arch"], std::env::consts::ARCH, "{event:#}");
        assert_eq!(
            tags["session_id"].as_str().map(str::len),
            Some(32),
            "{event:#}"
        );
        assert_eq!(event["environment"], "server-test");
        assert_eq!(event["release"], "openadapt-test@1.2.3");
    }
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_a_feature_used_1000_times_arrives_as_one_event_with_its_count() {
    // Unique on the server, even one kept running across test runs (`scripts/test --serve`).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let feature = format!("server_test.used_1000_times.{}_{nanos}", std::process::id());
    let feature = feature.as_str();
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    run(&telemetry, || {
        for _ in 0..1000 {
            tracing::info!(feature = feature, "exported");
        }
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    // A usage count is not an event a user would report: no last event id.
    assert_eq!(telemetry.last_event_id(), None);
    let found = bugsink.find_events(|e| e["tags"]["feature"] == feature);
    let event = found
        .first()
        .unwrap_or_else(|| panic!("the usage event of {feature} never arrived at Bugsink"));
    assert_eq!(event["extra"]["count"], 1000, "{event:#}");
    let message = event["message"]["formatted"]
        .as_str()
        .or_else(|| event["message"].as_str());
    assert_eq!(
        message,
        Some(format!("feature:{feature}").as_str()),
        "{event:#}"
    );
    drop(telemetry); // shutdown flushes again: the counts were reset, so nothing more for this feature

    let all = bugsink.find_events(|e| e["tags"]["feature"] == feature);
    assert_eq!(
        all.len(),
        1,
        "one usage event for the feature, not one per use: {all:#?}"
    );
}
