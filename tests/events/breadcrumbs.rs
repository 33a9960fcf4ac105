//! `info!`/`warn!` become breadcrumbs sent with the next error; `debug!` is ignored.
use crate::common;

use common::capture::{FLUSH, builder, run, start};

#[test]
fn info_and_warn_are_sent_with_the_next_error_only() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        tracing::info!(step = 1, "opened the device");
        tracing::warn!("frame dropped");
        tracing::debug!("noisy detail");
    });
    assert!(telemetry.flush(FLUSH));
    assert!(
        captured.items().is_empty(),
        "breadcrumbs alone send nothing"
    );

    run(&telemetry, || tracing::error!("capture failed"));
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    assert_eq!(events.len(), 1);
    let crumbs = events[0]["breadcrumbs"]["values"]
        .as_array()
        .expect("breadcrumbs");
    let messages: Vec<&str> = crumbs
        .iter()
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["opened the device", "frame dropped"]);
    // `info` is a breadcrumb's default level, left out of the JSON.
    assert!(crumbs[0].get("level").is_none_or(|l| l == "info"));
    assert_eq!(crumbs[1]["level"], "warning");
    assert_eq!(crumbs[0]["data"]["step"], "1");
}

#[test]
fn the_sdk_and_http_stack_are_never_captured() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        tracing::error!(target: "ureq::unversioned::transport", "connection refused");
        tracing::error!(target: "sentry_core", "queue full");
        tracing::error!(target: "rustls::conn", "bad record");
    });
    assert!(telemetry.flush(FLUSH));
    assert!(captured.items().is_empty(), "{:#?}", captured.items());
}

#[test]
fn error_tracking_off_sends_no_error_events() {
    let (telemetry, captured) = start(builder(&[]).error_tracking(false));
    run(&telemetry, || tracing::error!("capture failed"));
    assert!(telemetry.flush(FLUSH));
    assert!(captured.events().is_empty());
}

#[test]
fn a_breadcrumb_keeps_its_message_and_first_eight_fields() {
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        tracing::warn!(
            a = 1,
            b = -2,
            c = true,
            d = "four",
            e = 5.5,
            f = ?Some(6),
            g = 7,
            h = 8,
            i = 9,
            "many {}",
            "fields"
        );
        tracing::error!("boom");
    });
    assert!(telemetry.flush(FLUSH));
    let crumb = captured.events()[0]["breadcrumbs"]["values"][0].clone();
    assert_eq!(crumb["message"], "many fields");
    let data = crumb["data"].as_object().expect("data");
    assert_eq!(data.len(), 8, "{data:?}");
    assert_eq!(data["a"], "1");
    assert_eq!(data["b"], "-2");
    assert_eq!(data["c"], "true");
    assert_eq!(data["d"], "four");
    assert_eq!(data["e"], "5.5");
    assert_eq!(data["f"], "Some(6)");
    assert!(data.get("i").is_none(), "the ninth field is left out");
}

#[test]
fn a_full_ring_keeps_each_crumb_its_own() {
    // Crumbs of two shapes, well past the 100 kept; the first error holds its
    // crumbs while later ones are logged (and the ring evicts, and reuses).
    fn log(range: std::ops::Range<u32>) {
        for i in range {
            if i % 2 == 0 {
                tracing::info!(n = i, extra = "x", "with fields {i}");
            } else {
                tracing::warn!("plain {i}");
            }
        }
    }
    let (telemetry, captured) = start(builder(&[]));
    run(&telemetry, || {
        log(0..150);
        tracing::error!("first");
        log(150..300);
        tracing::error!("second");
    });
    assert!(telemetry.flush(FLUSH));
    let events = captured.events();
    for (message, last) in [("first", 149), ("second", 299)] {
        let event = events
            .iter()
            .find(|e| e["message"] == message)
            .unwrap_or_else(|| panic!("{message}: {events:#?}"));
        let crumbs = event["breadcrumbs"]["values"].as_array().expect("crumbs");
        assert_eq!(crumbs.len(), 100, "{message}");
        for (crumb, i) in crumbs.iter().zip(last - 99..=last) {
            if i % 2 == 0 {
                assert_eq!(crumb["message"], format!("with fields {i}"), "{message}");
                assert_eq!(crumb["data"]["n"], i.to_string(), "{message}");
                assert_eq!(crumb["data"]["extra"], "x", "{message}");
            } else {
                assert_eq!(crumb["message"], format!("plain {i}"), "{message}");
                assert!(
                    crumb
                        .get("data")
                        .is_none_or(|d| d.as_object().is_some_and(|d| d.is_empty())),
                    "{message}: {crumb}"
                );
            }
        }
    }
}
