//! Spans become sampled transactions with their child spans.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

#[tracing::instrument(fields(feature = "capture.record"))]
fn record(frames: u32) {
    for i in 0..frames {
        encode(i);
    }
}

#[tracing::instrument]
fn encode(frame: u32) {
    let _inner = tracing::info_span!("compress", level = 3).entered();
}

#[test]
fn rate_one_sends_a_transaction_tree() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    run(&telemetry, || record(2));
    assert!(telemetry.flush(FLUSH));
    let txns = captured.transactions();
    assert_eq!(txns.len(), 1, "{txns:#?}");
    let txn = &txns[0];
    assert_eq!(txn["transaction"], "record");
    let trace = &txn["contexts"]["trace"];
    let root_id = trace["span_id"].as_str().unwrap();
    let trace_id = trace["trace_id"].as_str().unwrap();
    assert_eq!(trace["status"], "ok");
    let spans = txn["spans"].as_array().unwrap();
    assert_eq!(
        spans.len(),
        4,
        "two encode spans, each with a compress span"
    );
    let named = |name: &str| {
        let suffix = format!("::{name}");
        spans
            .iter()
            .filter(|s| {
                s["description"]
                    .as_str()
                    .is_some_and(|d| d.ends_with(&suffix))
            })
            .collect::<Vec<_>>()
    };
    let encodes = named("encode");
    let compresses = named("compress");
    for s in spans {
        // A category (what GlitchTip groups by beside the name), never the name again.
        assert_eq!(s["op"], "function", "{s}");
    }
    assert_eq!(trace["op"], "function");
    assert_eq!(encodes.len(), 2);
    assert_eq!(compresses.len(), 2);
    for e in &encodes {
        assert_eq!(e["parent_span_id"], root_id);
        assert_eq!(e["trace_id"], trace_id);
    }
    let encode_ids: Vec<_> = encodes.iter().map(|e| e["span_id"].clone()).collect();
    for c in &compresses {
        assert!(encode_ids.contains(&c["parent_span_id"]));
        assert_eq!(c["data"]["level"], 3);
    }
    let rss = txn["measurements"]["memory_rss"]["value"].as_u64();
    if cfg!(target_os = "linux") {
        assert!(
            rss.is_some_and(|b| b > 1_000_000),
            "resident memory in bytes: {rss:?}"
        );
        assert_eq!(txn["measurements"]["memory_rss"]["unit"], "byte");
    }
    assert!(txn["start_timestamp"].as_f64().unwrap() <= txn["timestamp"].as_f64().unwrap());
}

#[test]
fn rate_zero_sends_no_transaction() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(0.0));
    run(&telemetry, || record(3));
    assert!(telemetry.flush(FLUSH));
    assert!(captured.transactions().is_empty());
}

#[test]
fn performance_tracking_off_sends_no_transaction() {
    let (telemetry, captured) = start(
        builder(&[])
            .traces_sample_rate(1.0)
            .performance_tracking(false),
    );
    run(&telemetry, || record(3));
    assert!(telemetry.flush(FLUSH));
    assert!(captured.transactions().is_empty());
}

#[test]
fn the_rate_is_honoured_for_roots() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(0.2));
    run(&telemetry, || {
        for _ in 0..1000 {
            record(1);
        }
    });
    assert!(telemetry.flush(FLUSH));
    let n = captured.transactions().len();
    // Binomial(1000, 0.2): mean 200, sd ~12.6; 120..280 is over 6 sd.
    assert!((120..280).contains(&n), "{n} transactions");
    for t in captured.transactions() {
        assert_eq!(
            t["spans"].as_array().unwrap().len(),
            2,
            "a sampled tree is whole"
        );
    }
}

#[test]
fn an_error_inside_a_sampled_span_carries_its_trace() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    run(&telemetry, || {
        let _root = tracing::info_span!("import").entered();
        let _child = tracing::info_span!("parse").entered();
        tracing::error!("bad header");
    });
    assert!(telemetry.flush(FLUSH));
    let event = &captured.events()[0];
    let txn = &captured.transactions()[0];
    assert_eq!(
        event["contexts"]["trace"]["trace_id"],
        txn["contexts"]["trace"]["trace_id"]
    );
    let parse = &txn["spans"][0];
    assert_eq!(event["contexts"]["trace"]["span_id"], parse["span_id"]);
    assert_eq!(parse["status"], "internal_error");
    assert_eq!(event["transaction"], "import");
}

/// What `testing::Captured` returns is what was sent, to the last digit of
/// every timestamp: each item, written out again, is found in the wire bytes.
#[test]
fn captured_items_are_the_numbers_sent() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    run(&telemetry, || {
        record(20);
        tracing::error!("after the spans");
    });
    assert!(telemetry.flush(FLUSH));
    let sent = captured.serialized();
    let items = captured.items();
    assert!(items.len() >= 2, "{items:#?}");
    for (kind, item) in items {
        let text = item.to_string();
        assert!(sent.contains(&text), "{kind} read back as {text}");
    }
}
