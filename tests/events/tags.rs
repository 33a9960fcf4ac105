//! Every event and transaction carries the crate's tags; never the host name.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

#[test]
fn events_and_transactions_carry_the_tags() {
    let (telemetry, captured) = start(
        builder(&[
            ("OPENADAPT_INTERNAL", "false"),
            ("OPENADAPT_TELEMETRY_ENVIRONMENT", "staging"),
        ])
        .traces_sample_rate(1.0),
    );
    run(&telemetry, || {
        let _span = tracing::info_span!("work").entered();
        tracing::error!("boom");
    });
    assert!(telemetry.flush(FLUSH));
    let items = captured.items();
    assert_eq!(items.len(), 2, "{items:#?}");
    let mut session_ids = Vec::new();
    for (kind, item) in &items {
        let tags = &item["tags"];
        // Stored as the Python package's are: one GlitchTip query covers both.
        assert_eq!(tags["internal"], "False", "{kind}");
        assert_eq!(
            tags["ci"], "False",
            "no CI variable in the injected environment"
        );
        assert!(
            tags["rust_version"]
                .as_str()
                .is_some_and(|v| v.contains('.'))
        );
        assert_eq!(tags["package"], "openadapt-test");
        assert_eq!(tags["package_version"], "1.2.3");
        assert_eq!(tags["environment"], "staging");
        let os = match std::env::consts::OS {
            "linux" => "Linux",
            "macos" => "Darwin",
            "windows" => "Windows",
            other => other,
        };
        assert_eq!(tags["os"], os, "as Python's platform.system()");
        assert_eq!(tags["arch"], std::env::consts::ARCH);
        assert!(tags["os_version"].as_str().is_some_and(|v| !v.is_empty()));
        let session = tags["session_id"].as_str().expect("session id");
        assert_eq!(session.len(), 32);
        session_ids.push(session.to_owned());
        assert_eq!(item["environment"], "staging");
        assert_eq!(item["release"], "openadapt-test@1.2.3");
        assert_eq!(item["server_name"], "openadapt-test", "never the host name");
    }
    assert_eq!(session_ids[0], session_ids[1], "one session id per process");
}

#[test]
fn internal_is_true_when_set() {
    let (telemetry, captured) = start(builder(&[("OPENADAPT_INTERNAL", "true")]));
    run(&telemetry, || tracing::error!("boom"));
    assert!(telemetry.flush(FLUSH));
    assert_eq!(captured.events()[0]["tags"]["internal"], "True");
}

#[test]
fn ci_is_true_in_ci() {
    let (telemetry, captured) = start(builder(&[("GITHUB_ACTIONS", "true")]));
    run(&telemetry, || tracing::error!("boom"));
    assert!(telemetry.flush(FLUSH));
    let tags = &captured.events()[0]["tags"];
    assert_eq!(tags["ci"], "True", "{tags}");
    assert_eq!(tags["internal"], "True", "CI is internal: {tags}");
}

#[test]
fn tags_fields_become_tags_and_never_replace_the_crates() {
    let (telemetry, captured) = start(builder(&[("OPENADAPT_INTERNAL", "false")]));
    run(&telemetry, || {
        tracing::error!(tags.device = "webcam", tags.internal = "true", "boom");
    });
    assert!(telemetry.flush(FLUSH));
    let event = &captured.events()[0];
    assert_eq!(event["tags"]["device"], "webcam");
    assert_eq!(event["tags"]["internal"], "False", "the crate's tag wins");
    assert!(event["extra"].get("tags.device").is_none());
}
