//! Instrumented async functions on a multi-threaded runtime, whose spans are
//! entered and exited on different threads across `.await`, produce one
//! correct transaction tree (where sentry-tracing has open bugs).
use crate::common;

use std::collections::{HashMap, HashSet};

use common::capture::{FLUSH, builder, start};
use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[tracing::instrument]
async fn step(i: u32) -> Result<(), String> {
    for _ in 0..3 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    if i == 2 {
        tracing::error!(step = i, "step failed");
        return Err("failed".into());
    }
    Ok(())
}

#[tracing::instrument]
async fn pipeline() {
    let mut handles = Vec::new();
    for i in 0..4 {
        handles.push(tokio::spawn(step(i).in_current_span()));
    }
    for h in handles {
        let _ = h.await;
    }
}

#[test]
fn async_spans_across_threads_make_one_tree() {
    let (telemetry, captured) = start(builder(&[]).traces_sample_rate(1.0));
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let dispatch = tracing::Dispatch::new(subscriber);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start({
            let dispatch = dispatch.clone();
            move || {
                // Each worker thread uses the test's subscriber, nothing global.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            }
        })
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || rt.block_on(pipeline()));
    drop(rt);
    assert!(telemetry.flush(FLUSH));

    let txns = captured.transactions();
    assert_eq!(txns.len(), 1, "one tree: {txns:#?}");
    let txn = &txns[0];
    assert_eq!(txn["transaction"], "pipeline");
    let trace_id = txn["contexts"]["trace"]["trace_id"].clone();
    let root = txn["contexts"]["trace"]["span_id"].clone();
    let spans = txn["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let ids: HashSet<_> = spans
        .iter()
        .map(|s| s["span_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "distinct span ids");
    let by_step: HashMap<u64, &serde_json::Value> = spans
        .iter()
        .map(|s| (s["data"]["i"].as_u64().unwrap(), s))
        .collect();
    for s in spans {
        assert_eq!(s["parent_span_id"], root);
        assert_eq!(s["trace_id"], trace_id);
    }
    assert_eq!(by_step[&2]["status"], "internal_error");
    assert_eq!(by_step[&1]["status"], "ok");

    let events = captured.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["contexts"]["trace"]["trace_id"], trace_id);
    assert_eq!(
        events[0]["contexts"]["trace"]["span_id"],
        by_step[&2]["span_id"]
    );
}
