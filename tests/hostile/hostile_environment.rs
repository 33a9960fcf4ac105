//! Every sent string goes through the privacy gate, the crate's own tags and
//! top-level fields included (issue 14): an `environment` that holds the login
//! name, an email and a token leaves none of them in any item, in its
//! top-level field nor in `tags.environment`. A child process, so that the
//! login name (`USER`) is the one the privacy rules detect at start.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly"
)]
use crate::common;

use common::capture::{FLUSH, builder, run, start};

const CHILD_ROLE: &str = "OPENADAPT_HOSTILE_ENVIRONMENT_CHILD";
const LOGIN: &str = "zedplanted";
const EMAIL: &str = "zed.planted@example.com";
const TOKEN: &str = "ghp_PlantedGithubToken0123456789abcdefgh";

/// The child: its `USER` is [`LOGIN`]; it prints every item it would send.
#[test]
fn environment_child() {
    if std::env::var(CHILD_ROLE).is_err() {
        return;
    }
    let environment = format!("dev-{LOGIN} {EMAIL} {TOKEN}");
    let (telemetry, captured) = start(
        builder(&[("OPENADAPT_TELEMETRY_ENVIRONMENT", environment.as_str())])
            .traces_sample_rate(1.0)
            .tag("owner", &environment),
    );
    run(&telemetry, || {
        let _span = tracing::info_span!("work").entered();
        tracing::info!(feature = "hostile.env", "used");
        tracing::error!("boom");
    });
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);
    println!("{}", captured.serialized());
}

#[test]
fn an_environment_with_a_login_an_email_and_a_token_leaks_none_of_them() {
    let run = common::child::run_self(
        "hostile::hostile_environment::environment_child",
        &[(CHILD_ROLE, "1"), ("USER", LOGIN)],
        &["USERNAME", "LOGNAME"],
    );
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    let wire = run.stdout;
    assert!(
        wire.contains("\"type\":\"event\"") && wire.contains("\"type\":\"transaction\""),
        "an error, a transaction and a usage event were sent: {wire}"
    );
    for secret in [LOGIN, EMAIL, TOKEN] {
        assert!(!wire.contains(secret), "{secret:?} was sent: {wire}");
    }
    // What is left of the environment is there, in both places, scrubbed.
    let items: Vec<serde_json::Value> = wire
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|v: &serde_json::Value| v.get("environment").is_some())
        .collect();
    assert!(!items.is_empty(), "{wire}");
    for item in &items {
        let top = item["environment"].as_str().unwrap_or_default();
        let tag = item["tags"]["environment"].as_str().unwrap_or_default();
        assert!(top.starts_with("dev-<user>"), "{top}");
        assert_eq!(top, tag, "the tag is scrubbed as the field is");
        assert!(tag.contains("[email]"), "{tag}");
        let owner = item["tags"]["owner"].as_str().unwrap_or_default();
        assert!(
            owner.starts_with("dev-<user>"),
            "a builder tag too: {owner}"
        );
    }
}
