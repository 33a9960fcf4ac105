//! Transactions that say something in GlitchTip (issue 12.6), read back from the Bugsink test server. Bugsink
//! drops transactions but keeps the raw envelopes (`KEEP_ENVELOPES`, set by `scripts/test`): the transaction is
//! read from there. GlitchTip keeps a transaction's name, `contexts.trace.op` and times: the op is a category
//! (`function`, or the span's `op`/`otel.kind` field), never the name again, and every timestamp is a number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use common::bugsink::Bugsink;
use common::capture::{FLUSH, builder, run};
use serde_json::Value;

/// A text no other run has sent, even to a server kept running across runs (`scripts/test --serve`).
fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

#[tracing::instrument(skip(id), fields(run = %id))]
fn export_recording(id: &str) {
    {
        let _upload = tracing::info_span!("upload", op = "http.client").entered();
    }
    {
        let _query = tracing::info_span!("query", otel.kind = "client").entered();
    }
    encode_frames();
}

#[tracing::instrument]
fn encode_frames() {}

/// A timestamp as a number of seconds since the epoch, not a string.
fn assert_seconds(what: &str, value: &Value) -> f64 {
    let secs = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(secs > 1.6e9, "{what} is seconds since the epoch: {secs}");
    secs
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_a_transactions_op_is_a_category_and_its_times_are_numbers() {
    let bugsink = Bugsink::require();
    // Bugsink answers every envelope with a 24 h rate limit on transactions: this instance sends nothing else first.
    let telemetry = builder(&[])
        .dsn(&bugsink.dsn)
        .traces_sample_rate(1.0)
        .init();
    let id = unique("txn");
    run(&telemetry, || export_recording(&id));
    assert!(telemetry.flush(FLUSH), "flush timed out");
    drop(telemetry);

    let txns: Vec<Value> = bugsink
        .envelope_items()
        .iter()
        .filter(|item| item.item_type() == "transaction")
        .map(|item| item.json())
        .filter(|txn| txn["contexts"]["trace"]["data"]["run"] == id.as_str())
        .collect();
    assert_eq!(txns.len(), 1, "the transaction's raw envelope is kept");
    let txn = &txns[0];
    assert_eq!(txn["transaction"], "export_recording");
    let trace = &txn["contexts"]["trace"];
    assert_eq!(trace["op"], "function", "{txn:#}");
    assert_ne!(trace["op"], txn["transaction"], "the op is not the name");
    let start = assert_seconds("start_timestamp", &txn["start_timestamp"]);
    let end = assert_seconds("timestamp", &txn["timestamp"]);
    assert!(start <= end);

    let spans = txn["spans"].as_array().expect("spans");
    let op_of = |name: &str| -> &Value {
        let suffix = format!("::{name}");
        let span = spans
            .iter()
            .find(|s| {
                s["description"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(&suffix))
            })
            .unwrap_or_else(|| panic!("no span {name}: {txn:#}"));
        &span["op"]
    };
    assert_eq!(op_of("upload"), "http.client", "the span's `op` field");
    assert_eq!(op_of("query"), "client", "the span's `otel.kind` field");
    assert_eq!(
        op_of("encode_frames"),
        "function",
        "an #[instrument] function"
    );
    for span in spans {
        let description = span["description"].as_str().unwrap();
        assert!(
            !description.ends_with(&format!("::{}", span["op"].as_str().unwrap())),
            "op is not the name: {span}"
        );
        let s = assert_seconds("a span's start_timestamp", &span["start_timestamp"]);
        let e = assert_seconds("a span's timestamp", &span["timestamp"]);
        assert!(start <= s && s <= e && e <= end, "{span}");
    }
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn server_an_errors_times_are_numbers() {
    let bugsink = Bugsink::require();
    let telemetry = builder(&[]).dsn(&bugsink.dsn).init();
    let message = format!("server test: times {}", unique("times"));
    run(&telemetry, || {
        tracing::warn!("disk space is low");
        tracing::error!("{message}");
    });
    assert!(telemetry.flush(FLUSH), "flush timed out");
    let id = telemetry.last_event_id().expect("an event id");
    let event = bugsink.event(&id).expect("stored");
    assert_seconds("timestamp", &event["timestamp"]);
    let crumbs = event["breadcrumbs"]["values"].as_array().expect("crumbs");
    assert!(!crumbs.is_empty());
    for crumb in crumbs {
        assert_seconds("a breadcrumb's timestamp", &crumb["timestamp"]);
    }
}
