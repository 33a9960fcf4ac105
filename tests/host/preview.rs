//! Preview mode prints every item after the privacy gate and sends nothing.
use crate::common;

use std::net::TcpListener;
use std::time::Duration;

use common::capture::{FLUSH, builder, run};

#[test]
fn preview_file_is_json_per_line_and_nothing_is_sent() {
    // A server that must see no connection at all.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    server.set_nonblocking(true).unwrap();
    let dsn = format!("http://public@{}/1", server.local_addr().unwrap());
    let dir = std::env::temp_dir().join(format!("oat-preview-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("preview.jsonl");
    let telemetry = builder(&[
        ("OPENADAPT_TELEMETRY_DEBUG_FILE", file.to_str().unwrap()),
        ("OPENADAPT_TELEMETRY_DSN", &dsn),
    ])
    .traces_sample_rate(1.0)
    .init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || {
        let _s = tracing::info_span!("work", feature = "demo.work").entered();
        tracing::warn!("careful");
        tracing::error!(user_email = "ada@example.com", "failed for ada@example.com");
    });
    assert!(telemetry.flush(FLUSH));
    drop(telemetry);

    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 3,
        "an event, a transaction, a usage event: {text}"
    );
    let mut kinds = Vec::new();
    for line in &lines {
        let item: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        kinds.push(if item.get("spans").is_some() {
            "transaction"
        } else {
            "event"
        });
    }
    assert!(kinds.contains(&"transaction"));
    assert!(
        !text.contains("ada@example.com"),
        "the preview shows the scrubbed item"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(server.accept().is_err(), "nothing was sent");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn preview_works_without_a_dsn() {
    let dir = std::env::temp_dir().join(format!("oat-preview-nodsn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("preview.jsonl");
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DEBUG_FILE", file.to_str().unwrap())]).init();
    assert!(telemetry.is_enabled());
    run(&telemetry, || tracing::error!("boom"));
    assert!(telemetry.flush(FLUSH));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn send_test_event_reports_the_delivery() {
    use openadapt_telemetry::Delivery;
    let dir = std::env::temp_dir().join(format!("oat-preview-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("preview.jsonl");
    let telemetry = builder(&[("OPENADAPT_TELEMETRY_DEBUG_FILE", file.to_str().unwrap())]).init();
    assert_eq!(telemetry.send_test_event(FLUSH), Delivery::Accepted);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("openadapt-telemetry test event"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
