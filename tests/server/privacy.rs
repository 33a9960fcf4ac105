//! Planted secrets never reach a real server: what the Bugsink test server that `scripts/test` starts has stored
//! (events) or kept (raw envelopes, for what it drops) is searched for each of them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use std::error::Error;
use std::fmt;

use common::bugsink::{Bugsink, parse_envelope};
use common::capture::{FLUSH, builder, run};
use serde_json::Value;

const PASSWORD: &str = "hunter2";
const API_KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const BEARER: &str = "eyJhbGciOiJIUzI1NiJ9.c2VydmVyLXRlc3Q.QmVhcmVyVG9rZW4";
const MESSAGE_EMAIL: &str = "mallory.planted@example.com";
const ALICE_HOME: &str = "/home/alice";
const BREADCRUMB_IP: &str = "10.1.2.3";
const BREADCRUMB_EMAIL: &str = "carol.crumb@example.org";

/// An error whose Display carries a bearer token, as an HTTP client's error might.
#[derive(Debug)]
struct UploadError;

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "upload rejected: request had Authorization: Bearer {BEARER}"
        )
    }
}
impl Error for UploadError {}

/// The real home directory, when it is long enough to search for.
fn real_home() -> Option<String> {
    let home = std::env::var("HOME").ok()?;
    let home = home.trim_end_matches('/').to_owned();
    (home.len() >= 3).then_some(home)
}

/// Which of `secrets` occur in `text`.
fn leaked<'a>(text: &str, secrets: &[&'a str]) -> Vec<&'a str> {
    secrets
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_planted_secrets_are_not_stored() {
    let bugsink = Bugsink::require();
    let home = real_home();
    let home_file = format!(
        "{}/notes/plan.txt",
        home.as_deref().unwrap_or("/nonexistent-home")
    );
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let err = UploadError;
    run(&telemetry, || {
        tracing::info!(peer = BREADCRUMB_IP, "connected to {BREADCRUMB_IP}");
        tracing::warn!(user = BREADCRUMB_EMAIL, "retrying for {BREADCRUMB_EMAIL}");
        tracing::error!(
            password = PASSWORD,
            api_key = API_KEY,
            error = &err as &dyn Error,
            "server test: sync failed for {MESSAGE_EMAIL} reading {ALICE_HOME}/projects/draft.md and {home_file}"
        );
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry
        .last_event_id()
        .expect("last_event_id after a flush");
    let event = bugsink
        .event(&id)
        .unwrap_or_else(|| panic!("event {id} never arrived at Bugsink"));
    drop(telemetry);

    // The event did arrive with the planted parts, scrubbed (so the search below is not vacuous).
    let text = event.to_string();
    assert!(text.contains("sync failed for"), "{event:#}");
    assert!(text.contains("upload rejected"), "{event:#}");
    assert_eq!(event["extra"]["password"], "[Filtered]", "{event:#}");
    assert_eq!(event["extra"]["api_key"], "[Filtered]", "{event:#}");
    let crumbs = event["breadcrumbs"]["values"]
        .as_array()
        .or_else(|| event["breadcrumbs"].as_array())
        .unwrap_or_else(|| panic!("no breadcrumbs: {event:#}"));
    assert!(crumbs.len() >= 2, "both breadcrumbs arrived: {crumbs:#?}");

    let mut secrets = vec![
        PASSWORD,
        API_KEY,
        BEARER,
        MESSAGE_EMAIL,
        ALICE_HOME,
        "alice",
        BREADCRUMB_IP,
        BREADCRUMB_EMAIL,
    ];
    if let Some(home) = &home {
        secrets.push(home);
    }
    assert_eq!(
        leaked(&text, &secrets),
        Vec::<&str>::new(),
        "secrets stored by the server: {event:#}"
    );

    // Nor anywhere in the raw envelope that carried it.
    let envelopes: Vec<Vec<u8>> = bugsink
        .envelopes()
        .into_iter()
        .filter(|raw| {
            parse_envelope(raw)
                .iter()
                .any(|item| item.item_type() == "event" && item.json()["event_id"] == id.as_str())
        })
        .collect();
    assert_eq!(envelopes.len(), 1, "one envelope carried event {id}");
    let raw = String::from_utf8_lossy(&envelopes[0]);
    assert_eq!(leaked(&raw, &secrets), Vec::<&str>::new(), "{raw}");
}

/// The root span of the transaction below: its name is the transaction's name, unique on this server.
const TXN_NAME: &str = "server_test_scrubbed_transaction";
const SPAN_PASSWORD: &str = "span-hunter2-secret";
const SPAN_EMAIL: &str = "dave.span@example.net";
const CHILD_TOKEN: &str = "tok_child_span_8c1f0e";
const CHILD_IP: &str = "10.9.8.7";

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_a_transaction_is_sent_scrubbed() {
    // Bugsink accepts transactions and drops them (nothing to look up by id), but with KEEP_ENVELOPES it keeps
    // every raw envelope it received: the kept envelope is the proof that the transaction was sent, and of
    // what it contained.
    let bugsink = Bugsink::require();
    // Only envelopes from now on: the server may have been kept running across test runs (`scripts/test --serve`).
    let seen = bugsink.envelopes().len();
    let telemetry = builder(&[])
        .dsn(&bugsink.dsn)
        .traces_sample_rate(1.0)
        .init();
    run(&telemetry, || {
        let _root = tracing::info_span!(
            "server_test_scrubbed_transaction",
            password = SPAN_PASSWORD,
            contact = SPAN_EMAIL
        )
        .entered();
        let _child = tracing::info_span!(
            "server_test_child_span",
            token = CHILD_TOKEN,
            note = format!("fetched from {CHILD_IP}").as_str()
        )
        .entered();
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    drop(telemetry);

    let envelopes: Vec<Vec<u8>> = bugsink
        .envelopes()
        .into_iter()
        .skip(seen)
        .filter(|raw| {
            parse_envelope(raw).iter().any(|item| {
                item.item_type() == "transaction" && item.json()["transaction"] == TXN_NAME
            })
        })
        .collect();
    assert_eq!(
        envelopes.len(),
        1,
        "the transaction {TXN_NAME} reached the server once"
    );
    let raw = String::from_utf8_lossy(&envelopes[0]).into_owned();
    let items = parse_envelope(&envelopes[0]);
    let txn: Value = items
        .iter()
        .find(|item| item.item_type() == "transaction")
        .unwrap()
        .json();
    let spans = txn["spans"]
        .as_array()
        .unwrap_or_else(|| panic!("no spans: {txn:#}"));
    // Its description is `target::name`; its op a category (`function`), not the name.
    assert!(
        spans.iter().any(|s| s["description"]
            .as_str()
            .is_some_and(|d| d.ends_with("::server_test_child_span"))),
        "the child span was sent: {txn:#}"
    );
    // The planted fields were sent, scrubbed (so the search below is not vacuous).
    assert!(
        raw.contains("\"password\""),
        "the root span's fields were sent: {raw}"
    );
    assert!(
        raw.contains("\"token\""),
        "the child span's fields were sent: {raw}"
    );
    assert!(raw.contains("[Filtered]"), "{raw}");
    assert!(raw.contains("fetched from"), "{raw}");

    let secrets = [SPAN_PASSWORD, SPAN_EMAIL, CHILD_TOKEN, CHILD_IP];
    assert_eq!(leaked(&raw, &secrets), Vec::<&str>::new(), "{raw}");
}
