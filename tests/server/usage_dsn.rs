//! Usage apart from errors (issue 12.5), read back from the Bugsink test server: with a usage DSN set
//! (`TelemetryBuilder::usage_dsn` or `OPENADAPT_TELEMETRY_USAGE_DSN`), usage events reach the second project and
//! none reach the first, where the errors still go.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder};
use openadapt_telemetry::TelemetryBuilder;

/// A text no other run has sent, even to a server kept running across runs (`scripts/test --serve`).
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}.{}_{nanos}", std::process::id())
}

/// Sends 3 uses of a new feature and one error through `builder`; checks where each landed.
fn usage_goes_apart(how: &str, make: impl Fn(&Bugsink, &Bugsink) -> TelemetryBuilder) {
    let errors = Bugsink::require();
    let usage = errors.usage_project();
    assert_ne!(errors.project(), usage.project());
    let feature = unique("server_test.usage_dsn");
    let message = format!("server test: usage apart, {}", unique("error"));
    let telemetry = make(&errors, &usage).init();
    assert!(telemetry.is_enabled(), "{how}");
    common::capture::run(&telemetry, || {
        for _ in 0..3 {
            tracing::info!(feature = feature.as_str(), "exported");
        }
        tracing::error!("{message}");
    });
    assert!(telemetry.flush(FLUSH), "{how}: flush timed out");
    drop(telemetry);

    let found = usage.find_events(|e| e["tags"]["feature"] == feature.as_str());
    assert_eq!(
        found.len(),
        1,
        "{how}: the usage event in the usage project: {found:#?}"
    );
    assert_eq!(found[0]["extra"]["count"], 3, "{how}: {:#}", found[0]);
    let error = errors.find_events(|e| e["message"] == message.as_str());
    assert_eq!(error.len(), 1, "{how}: the error in the error project");

    // Not one request about the feature reached the error project, and the error did not go to the usage one.
    let stray: Vec<String> = errors
        .envelopes()
        .iter()
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .filter(|text| text.contains(&feature))
        .collect();
    assert!(
        stray.is_empty(),
        "{how}: usage sent to the error project: {stray:#?}"
    );
    assert!(
        usage
            .events()
            .iter()
            .all(|e| e["message"] != message.as_str()),
        "{how}: the error went to the usage project"
    );
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_usage_events_go_to_the_builders_usage_dsn() {
    usage_goes_apart("TelemetryBuilder::usage_dsn", |errors, usage| {
        builder(&[]).dsn(&errors.dsn).usage_dsn(&usage.dsn)
    });
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_usage_events_go_to_the_variables_usage_dsn() {
    usage_goes_apart("OPENADAPT_TELEMETRY_USAGE_DSN", |errors, usage| {
        builder(&[("OPENADAPT_TELEMETRY_USAGE_DSN", &usage.dsn)]).dsn(&errors.dsn)
    });
}
