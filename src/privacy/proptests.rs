//! Property tests of the scrubber on JSON items, as the gate calls it: random
//! secrets of every kind, in random surrounding text, planted at random places of
//! random events and transactions, on random machines, never survive; arbitrary
//! input never panics; and the cost is linear in the input.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::strategies::{Planted, generic_secret, in_text, name};
use super::tests::alice;
use super::{Local, Redactions, Scrubber};

/// `cases` cases, or `PROPTEST_CASES` for a deeper run.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// A random machine, and the secrets only it knows

/// A machine's identity, and secrets built from it.
#[derive(Debug, Clone)]
struct Machine {
    local: Local,
    secrets: Vec<Planted>,
}

fn machine() -> impl Strategy<Value = Machine> {
    let homes = vec![
        "/home/{u}",
        "/Users/{u}",
        r"C:\Users\{u}",
        "/var/lib/{u}",
        "/srv/{w}",
        r"D:\Profiles\{u}",
    ];
    let hosts = vec![
        "{w}-laptop",
        "{W}-MacBook-Pro.local",
        "DESKTOP-{X}",
        "{w}.corp.example.com",
        "{w}",
    ];
    (
        name(),
        name(),
        "[A-Z0-9]{7}",
        select(homes),
        select(hosts),
        "[a-z0-9_.-]{1,10}",
    )
        .prop_map(|(user, word, tag, home, host, sub)| {
            let cap = word[..1].to_ascii_uppercase() + &word[1..];
            let home = home.replace("{u}", &user).replace("{w}", &word);
            let host = host
                .replace("{w}", &word)
                .replace("{W}", &cap)
                .replace("{X}", &tag);
            let first_label = host.split('.').next().unwrap_or_default().to_owned();
            let sep = if home.contains('\\') { '\\' } else { '/' };
            let secrets = vec![
                Planted {
                    kind: "home",
                    text: format!("{home}{sep}{sub}{sep}notes.txt"),
                    forbidden: vec![user.clone(), home.clone()],
                },
                Planted {
                    kind: "login name",
                    text: user.clone(),
                    forbidden: vec![user.clone()],
                },
                Planted {
                    kind: "host name",
                    text: host.clone(),
                    forbidden: vec![host.clone(), first_label.clone()],
                },
                Planted {
                    kind: "host's first label",
                    text: first_label.clone(),
                    forbidden: vec![first_label],
                },
            ];
            Machine {
                local: Local {
                    home: Some(home),
                    user: Some(user),
                    host: Some(host),
                },
                secrets,
            }
        })
}

// ---------------------------------------------------------------------------
// Random events with a secret planted somewhere

fn frame(i: usize) -> Value {
    json!({
        "function": format!("openadapt_capture::record::step{i}"),
        "filename": format!("src/record/step{i}.rs"),
        "abs_path": format!("/work/openadapt-capture/src/record/step{i}.rs"),
        "lineno": 40 + i,
        "colno": 9,
        "in_app": true,
    })
}

/// A realistic event, with nothing to scrub.
fn base_event(frames: usize, crumbs: usize) -> Value {
    json!({
        "event_id": "0f3a3d6e2c5f4b9e8d7c6b5a49382716",
        "timestamp": 1_705_312_200.5,
        "level": "error",
        "platform": "native",
        "logger": "openadapt_capture::record",
        "culprit": "src/record/step0.rs:40",
        "transaction": "record",
        "release": "openadapt-capture@0.3.1",
        "environment": "production",
        "server_name": "openadapt-capture",
        "message": "recording stopped",
        "exception": {"values": [
            {"type": "ParseIntError", "value": "invalid digit found in string"},
            {"type": "CaptureError", "value": "could not start the recording",
             "mechanism": {"type": "generic", "handled": true},
             "stacktrace": {"frames": (0..frames).map(frame).collect::<Vec<_>>()}},
        ]},
        "threads": {"values": [{"id": 1, "name": "main", "current": true}]},
        "breadcrumbs": {"values": (0..crumbs).map(|i| json!({
            "timestamp": 1_705_312_199.0 + i as f64,
            "type": "default",
            "category": "openadapt_capture::record",
            "level": "info",
            "message": format!("step {i} done"),
            "data": {"step": i.to_string()},
        })).collect::<Vec<_>>()},
        "tags": {"package": "openadapt-capture", "os": "linux", "session_id": "98373492473049cfbd0a1c524aeacd1c", "device": "webcam"},
        "extra": {"detail": "none", "count": 3},
        "contexts": {
            "os": {"type": "os", "name": "Linux", "version": "6.1.0"},
            "trace": {"type": "trace", "trace_id": "8b97ad803cc9c69632fa45b467640978", "span_id": "5e5cf9c15c3ded2e"},
            "app": {"type": "app", "app_name": "openadapt-capture"},
        },
        "user": {"id": "anonymous-0123"},
    })
}

/// A realistic transaction, with nothing to scrub.
fn base_transaction(spans: usize) -> Value {
    json!({
        "event_id": "5f716ac3a27143a59fcf6e995ba112f4",
        "type": "transaction",
        "transaction": "record",
        "platform": "native",
        "start_timestamp": 1_705_312_200.0,
        "timestamp": 1_705_312_201.0,
        "release": "openadapt-capture@0.3.1",
        "tags": {"package": "openadapt-capture", "arch": "x86_64"},
        "contexts": {"trace": {
            "type": "trace", "trace_id": "8b97ad803cc9c69632fa45b467640978",
            "span_id": "5e5cf9c15c3ded2e", "op": "record", "status": "ok",
            "description": "openadapt_capture::record",
            "data": {"code.filepath": "src/record.rs", "code.lineno": 12},
        }},
        "spans": (0..spans).map(|i| json!({
            "span_id": format!("{:016x}", 0x5e5c_f9c1_5c3d_ed2e_u64.wrapping_mul(i as u64 + 3)), "parent_span_id": "5e5cf9c15c3ded2e",
            "trace_id": "8b97ad803cc9c69632fa45b467640978",
            "op": format!("step{i}"), "description": format!("openadapt_capture::record::step{i}"),
            "start_timestamp": 1_705_312_200.1, "timestamp": 1_705_312_200.2, "status": "ok",
            "data": {"code.filepath": format!("src/record/step{i}.rs"), "items": i},
        })).collect::<Vec<_>>(),
        "measurements": {"memory_rss": {"value": 12_541_952, "unit": "byte"}},
    })
}

/// Where a secret can be planted in an event.
const EVENT_SLOTS: &[&str] = &[
    "/message",
    "/logentry/formatted",
    "/culprit",
    "/transaction",
    "/logger",
    "/exception/values/0/value",
    "/exception/values/1/value",
    "/exception/values/1/mechanism/description",
    "/exception/values/1/stacktrace/frames/0/abs_path",
    "/exception/values/1/stacktrace/frames/0/filename",
    "/exception/values/1/stacktrace/frames/0/context_line",
    "/exception/values/1/stacktrace/frames/0/vars/arg",
    "/threads/values/0/name",
    "/breadcrumbs/values/0/message",
    "/breadcrumbs/values/0/category",
    "/breadcrumbs/values/0/data/step",
    "/breadcrumbs/values/0/data/nested/0/deep",
    "/tags/device",
    "/extra/detail",
    "/extra/nested/list/1",
    "/contexts/app/app_name",
    "/contexts/custom/field",
    "/fingerprint/1",
    "/user/email",
    "/request/url",
    // As a key.
    "/extra/{}",
    "/tags/{}",
    "/breadcrumbs/values/0/data/{}",
];

/// Where a secret can be planted in a transaction.
const TRANSACTION_SLOTS: &[&str] = &[
    "/transaction",
    "/contexts/trace/description",
    "/contexts/trace/op",
    "/contexts/trace/data/path",
    "/spans/0/description",
    "/spans/0/op",
    "/spans/0/data/path",
    "/spans/0/data/list/0",
    "/spans/0/tags/path",
    "/tags/upload",
    "/extra/detail",
    // As a key.
    "/spans/0/data/{}",
    "/contexts/trace/data/{}",
];

/// Set `text` at `slot` (a JSON pointer; `{}` as the last part plants it as a
/// key), creating objects and arrays on the way.
fn plant(item: &mut Value, slot: &str, text: &str) {
    let parts: Vec<&str> = slot.trim_start_matches('/').split('/').collect();
    let mut at = item;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last && *part == "{}" {
            if let Value::Object(map) = at {
                map.insert(text.to_owned(), json!("value under a planted key"));
            }
            return;
        }
        let next_is_index = parts.get(i + 1).is_some_and(|p| p.parse::<usize>().is_ok());
        let empty = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        at = match (part.parse::<usize>(), at) {
            (Ok(index), Value::Array(list)) => {
                while list.len() <= index {
                    list.push(json!("filler"));
                }
                if !last && !list[index].is_object() && !list[index].is_array() {
                    list[index] = empty();
                }
                &mut list[index]
            }
            (_, value) => {
                if !value.is_object() {
                    *value = Value::Object(Map::new());
                }
                let Value::Object(map) = value else {
                    unreachable!()
                };
                let entry = map.entry((*part).to_owned()).or_insert_with(empty);
                if !last && !entry.is_object() && !entry.is_array() {
                    *entry = empty();
                }
                entry
            }
        };
        if last {
            *at = Value::String(text.to_owned());
        }
    }
}

/// Every string of `value`, keys included.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// The planted secrets that survived scrubbing, with the string that holds each.
fn survivors(scrubbed: &Value, planted: &[Planted]) -> Vec<String> {
    let mut all = Vec::new();
    strings(scrubbed, &mut all);
    let mut found = Vec::new();
    for p in planted {
        for s in &all {
            for f in p.found_in(s) {
                found.push(format!("{} {f:?} survives in {s:?}", p.kind));
            }
        }
    }
    found
}

/// One item with secrets planted at random places.
#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    item: Value,
    planted: Vec<Planted>,
}

fn case(secret: impl Strategy<Value = Planted>) -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        0usize..40,
        0usize..12,
        prop::collection::vec((in_text(secret), any::<prop::sample::Index>()), 1..4),
    )
        .prop_map(|(is_event, frames, crumbs, planted)| {
            let (kind, mut item, slots) = if is_event {
                ("event", base_event(frames + 1, crumbs + 1), EVENT_SLOTS)
            } else {
                (
                    "transaction",
                    base_transaction(crumbs + 1),
                    TRANSACTION_SLOTS,
                )
            };
            for (p, at) in &planted {
                plant(&mut item, slots[at.index(slots.len())], &p.text);
            }
            Case {
                kind,
                item,
                planted: planted.into_iter().map(|(p, _)| p).collect(),
            }
        })
}

fn check(scrubber: &Scrubber, case: &Case) -> Result<(), TestCaseError> {
    let mut item = case.item.clone();
    let mut counts = Redactions::default();
    scrubber.scrub_item(case.kind, &mut item, &mut counts);
    let found = survivors(&item, &case.planted);
    prop_assert!(found.is_empty(), "{}\nscrubbed: {item:#}", found.join("\n"));
    prop_assert!(!counts.is_empty(), "something was redacted");
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Every kind of secret, in random text, at a random place of a random item.
    #[test]
    fn planted_secrets_never_survive(case in case(generic_secret())) {
        check(&alice(), &case)?;
    }

    /// One scrubber for every case, as the gate keeps one: what it remembers of
    /// earlier items (and forgets when full) never changes an item's result.
    #[test]
    fn remembered_texts_change_nothing(case in case(generic_secret())) {
        static SHARED: std::sync::LazyLock<Scrubber> = std::sync::LazyLock::new(alice);
        let mut fresh = case.item.clone();
        let mut fresh_counts = Redactions::default();
        alice().scrub_item(case.kind, &mut fresh, &mut fresh_counts);
        for _ in 0..2 {
            check(&SHARED, &case)?;
            let mut item = case.item.clone();
            let mut counts = Redactions::default();
            SHARED.scrub_item(case.kind, &mut item, &mut counts);
            prop_assert_eq!(&item, &fresh);
            prop_assert_eq!(&counts, &fresh_counts);
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// The home directory, login and host names of a random machine, with
    /// other secrets, at random places.
    #[test]
    fn machine_secrets_never_survive(
        machine in machine(),
        slots in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..4),
        other in in_text(generic_secret()),
        filler in "[a-z ]{0,12}",
        open in select(vec![" ", "(", "\"", ": ", "'"]),
        close in select(vec![" ", ")", "\"", ", ", ".\n"]),
    ) {
        let scrubber = Scrubber::new(machine.local.clone());
        let mut item = base_event(3, 2);
        let mut planted = vec![other.clone()];
        plant(&mut item, "/message", &other.text);
        for (which, slot) in slots {
            let secret = which.get(&machine.secrets).clone();
            let text = format!("{filler}{open}{}{close}{filler}", secret.text);
            plant(&mut item, EVENT_SLOTS[slot.index(EVENT_SLOTS.len())], &text);
            planted.push(secret);
        }
        check(&scrubber, &Case { kind: "event", item, planted })?;
    }

    /// Arbitrary text (any Unicode, lossy-decoded random bytes, or text dense in
    /// the characters the rules look for) never makes the scrubber panic.
    #[test]
    fn arbitrary_text_never_panics(
        text in prop_oneof![
            any::<String>(),
            prop::collection::vec(any::<u8>(), 0..200)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            "[0-9a-fA-Z@.:/\\\\=+~\"' \n_-é🎉١ß\u{200b}]{0,200}",
        ],
        cut in any::<prop::sample::Index>(),
    ) {
        let s = alice();
        let mut counts = Redactions::default();
        let _ = s.scrub_str(&text, &mut counts);
        let _ = s.sanitize_path(&text, &mut counts);
        // Every char boundary, as a prefix and a suffix.
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        if !boundaries.is_empty() {
            let i = boundaries[cut.index(boundaries.len())];
            let _ = s.scrub_str(&text[..i], &mut counts);
            let _ = s.scrub_str(&text[i..], &mut counts);
        }
        let mut item = json!({"message": text, "extra": {text.clone(): [text.clone(), 4_111_111_111_111_111_u64]}});
        s.scrub_item("event", &mut item, &mut counts);
    }

    /// Arbitrary JSON of any shape, as any item type, never makes it panic.
    #[test]
    fn arbitrary_json_never_panics(
        item in arbitrary_json(),
        kind in select(vec!["event", "transaction", "client_report", "other"]),
    ) {
        let mut item = item;
        alice().scrub_item(kind, &mut item, &mut Redactions::default());
    }
}

/// Text that helps debugging and holds no secret: versions, timestamps, ids,
/// hashes, code locations, module paths, durations, counts.
fn useful_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "v?[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-(alpha|beta|rc)\\.[0-9])?",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{3,6})?(Z|[+-][01][0-9]:00)",
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        "[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}",
        "(src|tests|examples)/[a-z_]{1,10}(/[a-z_]{1,10})?\\.rs(:[1-9][0-9]{0,3}(:[1-9][0-9]?)?)?",
        "[a-z_]{2,10}(::[a-z_]{2,10}){1,3}(::[A-Z][A-Za-z]{2,10})?",
        "[A-Z][A-Za-z]{2,12}(Error|Exception)",
        "[0-9]{1,4}(ms|s|µs|ns| KiB| MiB| bytes)",
        "[0-9]{1,12}",
        "(linux|macos|windows|x86_64|aarch64|arm64|production|staging)",
        "[a-z]{3,10}(\\.[a-z]{3,10}){0,2}",
        "127\\.0\\.0\\.1:[0-9]{2,5}",
        // Numbers with separators that are not phone numbers.
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
        "[0-3][0-9]\\.[01][0-9]\\.20[0-9]{2}",
        "[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?",
        "10\\.0\\.[0-9]{5}(\\.[0-9]{4})?",
        "(localhost|127\\.0\\.0\\.1|\\[::1\\]):[0-9]{2,5}",
        "[0-9]{1,2}h[0-9]{1,2}m[0-9]{1,2}s",
        "[a-z_]{1,10}\\.rs:[1-9][0-9]{0,3}:[1-9][0-9]?",
        "(order|id|#)[0-9]{6,12}",
        // Look-alikes of MAC addresses, webhooks, connection strings, UNC paths.
        "[0-9a-f]{2}(:[0-9a-f]{2}){3,4}",
        "[0-9a-f]{2}(:[0-9a-f]{2}){11}",
        "[1-9][0-9]{3}\\.[0-9]{4}\\.[0-9]{4}",
        "https://(api\\.slack\\.com/messaging|discord\\.com/channels|learn\\.microsoft\\.com/teams)/[a-z0-9]{3,10}",
        "(Server|Database|AccountName|EndpointSuffix)=[a-z0-9.]{3,12};",
        "sig=SIG(TERM|INT|KILL)",
        "\\\\\\\\(fileserver|nas)\\\\(builds|share)\\\\[a-z]{3,8}\\.(exe|dll)",
    ]
}

proptest! {
    #![proptest_config(config(128))]

    /// Over-scrubbing is a bug: text made only of useful tokens is sent as is.
    #[test]
    fn useful_text_survives(tokens in prop::collection::vec(useful_token(), 1..8)) {
        let text = tokens.join(" ");
        let mut counts = Redactions::default();
        let out = alice().scrub_str(&text, &mut counts);
        prop_assert_eq!(&out, &text);
        prop_assert!(counts.is_empty());
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        select(vec![
            "alice@example.com",
            "/home/bob/x",
            "4111 1111 1111 1111",
            "values",
            "frames",
        ])
        .prop_map(Value::from),
    ];
    let keys = prop_oneof![
        select(vec![
            "message",
            "exception",
            "values",
            "stacktrace",
            "frames",
            "breadcrumbs",
            "spans",
            "tags",
            "extra",
            "contexts",
            "trace",
            "user",
            "request",
            "data",
            "password",
            "function",
            "module",
            "mechanism",
            "threads",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    // Fixed: each case scrubs a mebibyte.
    #![proptest_config(ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() })]

    /// 1 MiB strings made of random secrets in random text: nothing survives,
    /// nothing panics.
    #[test]
    fn megabyte_strings(pieces in prop::collection::vec(in_text(generic_secret()), 1..6)) {
        let unit: String = pieces.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(" ");
        let big = format!("{} ", unit).repeat((1 << 20) / (unit.len() + 1) + 1);
        let s = alice();
        let out = s.scrub_str(&big, &mut Redactions::default());
        for p in &pieces {
            let found = p.found_in(&out);
            prop_assert!(found.is_empty(), "{} {found:?} survives", p.kind);
        }
        let _ = s.sanitize_path(&big, &mut Redactions::default());
    }
}
