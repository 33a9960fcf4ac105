//! What the privacy gate costs, beside what serialising the same item costs.
//!
//! Two groups, each with functions over the same JSON item, so that the ratios
//! are read off one run:
//!
//! | group | item |
//! |---|---|
//! | `gate/error_event` | a typical error event: a 3-link exception chain with a 30-frame stack trace (paths under a home directory, registry crates), 20 breadcrumbs, the crate's tags and contexts, a few extra fields, and a few secrets (an email, a home path, a `password=` pair) |
//! | `gate/transaction_50_spans` | a transaction with 50 child spans, each with its `code.*` data and two fields |
//!
//! | id | what |
//! |---|---|
//! | `scrub_seen` | the gate's scrubbing of the item (every rule on every string, on a fresh copy each time), its texts seen before: the gate remembers what each text of the program's telemetry became (frames, tags, contexts, categories, span names) |
//! | `scrub_new_messages` | (error event) the same, with the message, the exception values, the breadcrumb messages and the extra values new each time: another error of the same program |
//! | `scrub_first` | nothing seen before: the first item a process sends |
//! | `serialize` | `serde_json::to_vec` of the item (a fresh copy each time, like the scrubs), what the gate does next |
//!
//! The target: scrubbing / `serialize` < 1.0.
//!
//! ```text
//! cargo bench --bench gate      # prints the medians and the ratios at the end
//! cargo test --benches          # runs each function once
//! ```

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion};
use openadapt_telemetry::privacy::scrub_item_json;
use serde_json::{Value, json};

/// Where the paths of the planted frames start: the real home directory, so
/// that the home rule works as it does on this machine.
fn home() -> String {
    dirs::home_dir()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/home/alice".to_owned())
}

fn frames(home: &str) -> Vec<Value> {
    let registry = format!("{home}/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f");
    (0..30)
        .map(|i| {
            let (function, abs_path, in_app) = match i % 3 {
                0 => (
                    format!("tokio::runtime::task::harness::Harness<T,S>::poll_inner{i}"),
                    format!("{registry}/tokio-1.40.0/src/runtime/task/harness.rs"),
                    false,
                ),
                1 => (
                    format!("openadapt_capture::record::Recorder::step{i}"),
                    format!("{home}/code/openadapt-capture/src/record/step{i}.rs"),
                    true,
                ),
                _ => (
                    format!(
                        "<openadapt_capture::encode::Encoder as core::future::Future>::poll{i}"
                    ),
                    format!("{home}/code/openadapt-capture/src/encode.rs"),
                    true,
                ),
            };
            let filename = abs_path
                .rsplit_once("/src/")
                .map(|(pkg, file)| {
                    let pkg = pkg.rsplit('/').next().unwrap_or(pkg);
                    format!("{pkg}/src/{file}")
                })
                .unwrap_or_else(|| abs_path.clone());
            json!({
                "function": function,
                "filename": filename,
                "abs_path": abs_path,
                "lineno": 40 + 7 * i,
                "colno": 9 + i % 5,
                "in_app": in_app,
            })
        })
        .collect()
}

fn crumbs(home: &str) -> Vec<Value> {
    (0..20)
        .map(|i| {
            let (message, data) = match i % 5 {
                0 => (
                    format!("captured frame {} in {} ms", 120 + i, 11 + i % 4),
                    json!({"display": "1", "frame": (120 + i).to_string()}),
                ),
                1 => (
                    "encoder queue is 80% full, dropping to 24 fps".to_owned(),
                    json!({"queue_len": "96"}),
                ),
                2 => (
                    format!("wrote chunk {i} of recording rec-2024-01-15T10:30:00Z"),
                    json!({"bytes": "1048576", "codec": "h264"}),
                ),
                3 => (
                    format!("retry {}/5 after 250 ms: connection reset by peer", i % 5),
                    json!({"attempt": (i % 5).to_string()}),
                ),
                _ => (
                    format!("opened {home}/Videos/openadapt/rec-{i}.mp4"),
                    json!({"mode": "append"}),
                ),
            };
            json!({
                "timestamp": 1_705_312_200.0 + f64::from(i),
                "type": "default",
                "category": "openadapt_capture::record",
                "level": if i % 4 == 3 { "warning" } else { "info" },
                "message": message,
                "data": data,
            })
        })
        .collect()
}

fn tags() -> Value {
    json!({
        "internal": "false",
        "package": "openadapt-capture",
        "package_version": "0.3.1",
        "environment": "production",
        "os": "linux",
        "os_version": "6.1.0-18-amd64",
        "arch": "x86_64",
        "session_id": "98373492473049cfbd0a1c524aeacd1c",
    })
}

fn contexts() -> Value {
    json!({
        "os": {"type": "os", "name": "Linux", "version": "6.1.0", "kernel_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"},
        "rust": {"type": "runtime", "name": "rustc", "version": "1.89.0", "channel": "stable"},
    })
}

/// A typical error event, as the pipeline builds it and the gate receives it.
fn error_event() -> Value {
    let home = home();
    json!({
        "event_id": "0f3a3d6e2c5f4b9e8d7c6b5a49382716",
        "timestamp": 1_705_312_230.125,
        "platform": "native",
        "logger": "openadapt_capture::record",
        "culprit": "src/record/step1.rs:47",
        "transaction": "record",
        "release": "openadapt-capture@0.3.1",
        "environment": "production",
        "server_name": "openadapt-capture",
        "message": "recording stopped: could not upload the recording for ada@example.com",
        "exception": {"values": [
            {"type": "Os", "value": "Connection reset by peer (os error 104)"},
            {"type": "UploadError", "value": format!("upload of {home}/Videos/openadapt/rec-19.mp4 to https://api.openadapt.ai/v1/recordings failed after 5 attempts")},
            {"type": "RecordError", "value": "could not finish the recording",
             "stacktrace": {"frames": frames(&home)}},
        ]},
        "breadcrumbs": {"values": crumbs(&home)},
        "tags": tags(),
        "extra": {
            "frames_captured": "412",
            "duration_ms": "30125",
            "config": "Config { fps: 24, codec: \"h264\", password: \"hunter2\", upload: true }",
        },
        "contexts": contexts(),
        "user": {"id": "5c0c4dd0a0a84a4c9b8c2f3f2d1e0a9b"},
    })
}

/// A transaction with 50 child spans.
fn transaction() -> Value {
    let spans: Vec<Value> = (0..50)
        .map(|i| {
            json!({
                "span_id": format!("{:016x}", 0x5e5c_f9c1_5c3d_ed2e_u64.wrapping_mul(i + 3)),
                "parent_span_id": "5e5cf9c15c3ded2e",
                "trace_id": "8b97ad803cc9c69632fa45b467640978",
                "op": format!("encode_chunk{}", i % 7),
                "description": format!("openadapt_capture::encode::encode_chunk{}", i % 7),
                "start_timestamp": 1_705_312_200.0 + i as f64 * 0.01,
                "timestamp": "2024-01-15T10:30:00.512345678Z",
                "status": "ok",
                "data": {
                    "code.filepath": "src/encode.rs",
                    "code.namespace": "openadapt_capture::encode",
                    "code.lineno": 120 + i,
                    "chunk": i,
                    "codec": "h264",
                },
            })
        })
        .collect();
    let mut contexts = contexts();
    contexts["trace"] = json!({
        "type": "trace",
        "trace_id": "8b97ad803cc9c69632fa45b467640978",
        "span_id": "5e5cf9c15c3ded2e",
        "op": "record",
        "description": "openadapt_capture::record::record",
        "status": "ok",
        "data": {"code.filepath": "src/record.rs", "code.namespace": "openadapt_capture::record", "code.lineno": 33, "feature": "capture.record"},
    });
    json!({
        "event_id": "5f716ac3a27143a59fcf6e995ba112f4",
        "type": "transaction",
        "transaction": "record",
        "platform": "native",
        "release": "openadapt-capture@0.3.1",
        "environment": "production",
        "server_name": "openadapt-capture",
        "start_timestamp": 1_705_312_200.0,
        "timestamp": 1_705_312_230.5,
        "tags": tags(),
        "contexts": contexts,
        "spans": spans,
        "user": {"id": "5c0c4dd0a0a84a4c9b8c2f3f2d1e0a9b"},
        "measurements": {"memory_rss": {"value": 12_541_952, "unit": "byte"}},
    })
}

/// The event with its messages numbered `n`: the texts that differ from one
/// error to the next.
fn with_new_messages(item: &Value, n: u64) -> Value {
    let mut item = item.clone();
    let suffix = format!(" (#{n})");
    let renew = |value: &mut Value| {
        if let Value::String(s) = value {
            s.push_str(&suffix);
        }
    };
    renew(&mut item["message"]);
    for list in ["exception", "breadcrumbs"] {
        let field = if list == "exception" {
            "value"
        } else {
            "message"
        };
        if let Some(values) = item[list]["values"].as_array_mut() {
            values.iter_mut().for_each(|v| renew(&mut v[field]));
        }
    }
    if let Some(extra) = item["extra"].as_object_mut() {
        extra.values_mut().for_each(renew);
    }
    item
}

fn bench(c: &mut Criterion) {
    let items = [
        ("error_event", "event", error_event()),
        ("transaction_50_spans", "transaction", transaction()),
    ];
    for (name, kind, item) in &items {
        let mut group = c.benchmark_group(format!("gate/{name}"));
        group.bench_function("scrub_seen", |b| {
            b.iter_batched_ref(
                || item.clone(),
                |item| scrub_item_json(kind, black_box(item), true),
                BatchSize::SmallInput,
            );
        });
        if *kind == "event" {
            let mut n = 0;
            group.bench_function("scrub_new_messages", |b| {
                b.iter_batched_ref(
                    || {
                        n += 1;
                        with_new_messages(item, n)
                    },
                    |item| scrub_item_json(kind, black_box(item), true),
                    BatchSize::SmallInput,
                );
            });
        }
        group.bench_function("scrub_first", |b| {
            b.iter_batched_ref(
                || item.clone(),
                |item| scrub_item_json(kind, black_box(item), false),
                BatchSize::SmallInput,
            );
        });
        // On fresh copies too, so that both sides read memory laid out alike.
        group.bench_function("serialize", |b| {
            b.iter_batched_ref(
                || item.clone(),
                |item| serde_json::to_vec(black_box(item)).map(|v| v.len()),
                BatchSize::SmallInput,
            );
        });
        group.finish();
    }
}

/// The median of `group/id` in nanoseconds, if this run wrote it.
fn median(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group.replace('/', "_"))
        .join(id)
        .join("new")
        .join("estimates.json");
    let meta = std::fs::metadata(&path).ok()?;
    if meta.modified().ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn main() {
    let started = SystemTime::now() - Duration::from_secs(1);
    // What is scrubbed, for the record: the typical event holds a few secrets.
    let mut sample = error_event();
    let redacted = scrub_item_json("event", &mut sample, false);
    assert!(redacted > 0, "the typical event holds secrets to redact");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
    let mut rows = Vec::new();
    for name in ["error_event", "transaction_50_spans"] {
        let group = format!("gate/{name}");
        let Some(ser) = median(&group, "serialize", started) else {
            continue;
        };
        for id in ["scrub_seen", "scrub_new_messages", "scrub_first"] {
            if let Some(scrub) = median(&group, id, started) {
                rows.push(format!(
                    "| {name} | {id} | {:.1} µs | {:.1} µs | {:.2} |",
                    scrub / 1000.0,
                    ser / 1000.0,
                    scrub / ser
                ));
            }
        }
    }
    if !rows.is_empty() {
        println!(
            "\n| item | scrub | scrub time | serialize | ratio (target < 1.0) |\n|---|---|---|---|---|"
        );
        for row in rows {
            println!("{row}");
        }
        println!("\n(the typical event had {redacted} values redacted)");
    }
}
