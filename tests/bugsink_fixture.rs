//! Proves the Bugsink test fixture itself works, without the crate: a hand-made Sentry envelope is posted to
//! the server `scripts/test` started, then read back through `common::bugsink`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::bugsink::Bugsink;

/// A fresh 32-hex event id (no uuid dependency: time, pid and a counter through a std hasher).
fn fresh_event_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(salt);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[test]
#[ignore = "needs the Bugsink test server: run scripts/test"]
fn bugsink_fixture_stores_and_returns_a_hand_made_event() {
    let bugsink = Bugsink::require();
    let before = bugsink.event_count();
    let envelopes_before = bugsink.envelopes().len();

    let event_id = fresh_event_id();
    let message = format!("bugsink fixture check {event_id}");
    let event = serde_json::json!({
        "event_id": event_id,
        "message": message,
        "level": "error",
        "platform": "other",
    });
    let body = format!(
        "{}\n{}\n{}\n",
        serde_json::json!({ "event_id": event_id }),
        r#"{"type":"event"}"#,
        event
    );

    let response = ureq::post(&bugsink.envelope_endpoint())
        .header("X-Sentry-Auth", &bugsink.sentry_auth())
        .header("Content-Type", "application/x-sentry-envelope")
        .send(body.as_bytes())
        .expect("POST to the envelope endpoint");
    assert_eq!(response.status(), 200);

    let stored = bugsink
        .event(&event_id)
        .expect("the event is stored under its event_id");
    assert_eq!(stored["message"], message);
    assert_eq!(stored, event, "stored exactly as sent");
    assert_eq!(bugsink.event_count(), before + 1);

    let envelopes = bugsink.envelopes();
    assert_eq!(
        envelopes.len(),
        envelopes_before + 1,
        "the raw envelope is kept"
    );
    assert_eq!(envelopes.last().unwrap(), body.as_bytes());
    let items = common::bugsink::parse_envelope(envelopes.last().unwrap());
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].item_type(), "event");
    assert_eq!(items[0].json(), event);
    assert_eq!(items[0].envelope_header["event_id"], event_id);
}
