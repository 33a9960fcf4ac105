//! Long values are cut to fit GlitchTip (issue 14.2), read back from the Bugsink test server: GlitchTip refuses
//! to store an event whose `release` is over 255 characters (while answering 200) and cuts tag values at 255 in
//! its index, so the release, the environment and every tag value leave at 200 characters at most.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, env, run};
use openadapt_telemetry::Telemetry;

/// GlitchTip keeps up to 255; the crate cuts at 200.
const MOST: usize = 200;

fn chars(value: &serde_json::Value) -> usize {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .chars()
        .count()
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_a_300_character_release_is_cut_and_the_event_stored() {
    let bugsink = Bugsink::require();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // name@version: 300 characters.
    let package = format!(
        "openadapt-{nanos}-{}",
        "x".repeat(283 - nanos.to_string().len())
    );
    let version = "1.2.3";
    assert_eq!(format!("{package}@{version}").chars().count(), 300);
    let long = "v".repeat(300);
    let environment = format!("staging-{}", "e".repeat(292));
    let telemetry = Telemetry::builder(package.as_str(), version)
        .env_lookup(env(&[(
            "OPENADAPT_TELEMETRY_ENVIRONMENT",
            environment.as_str(),
        )]))
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .dsn(&bugsink.dsn)
        .tag("team", long.as_str())
        .init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || {
        tracing::error!(tags.detail = long.as_str(), "server test: long values");
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry.last_event_id().expect("an event id");
    let event = bugsink
        .event(&id)
        .unwrap_or_else(|| panic!("the event with a long release was not stored"));

    let release = event["release"].as_str().unwrap();
    assert!(chars(&event["release"]) <= MOST, "release: {release}");
    assert!(
        release.starts_with(&package[..100]),
        "the release keeps its start: {release}"
    );
    assert!(chars(&event["environment"]) <= MOST, "{event:#}");
    assert!(
        event["environment"]
            .as_str()
            .unwrap()
            .starts_with("staging-")
    );
    let tags = event["tags"].as_object().unwrap();
    for (key, value) in tags {
        assert!(
            chars(value) <= MOST,
            "tag {key} is {} characters",
            chars(value)
        );
    }
    for key in ["package", "team", "detail", "environment"] {
        let value = tags[key]
            .as_str()
            .unwrap_or_else(|| panic!("tag {key}: {event:#}"));
        assert!(
            value.chars().count() > 100,
            "{key} is cut, not dropped: {value}"
        );
    }
}
