//! Scrubbing one serialized envelope item (a Sentry event, transaction or client
//! report) in place.
//!
//! The walk knows the parts of the Sentry protocol that must survive byte for
//! byte (ids, timestamps, levels, exception type names, the SDK description, the
//! crate's own tags) and the parts that never leave (`request`, `debug_meta`, every
//! `user` field but the anonymous `id`). Everything else gets the key rule on each
//! object key and the value rules on each string, keys included.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::values::{FILTERED, card_valid};
use super::{Redactions, Rule, Scrubber, keys};

/// Top-level fields of events and transactions that are sent unchanged.
const KEEP: &[&str] = &[
    "event_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "timestamp",
    "start_timestamp",
    "type",
    "platform",
    "level",
    "sdk",
];

/// Top-level fields that are never sent.
const REMOVE: &[&str] = &["request", "debug_meta"];

/// The crate's own tags: never filtered by key, values unchanged (but `feature`,
/// which comes from the caller's code, gets the value rules).
pub(crate) const OWN_TAGS: &[&str] = &[
    "internal",
    "package",
    "package_version",
    "environment",
    "os",
    "os_version",
    "arch",
    "session_id",
    "feature",
    "repeat_count",
];

/// The crate's own extra fields, as [`OWN_TAGS`].
pub(crate) const OWN_EXTRA: &[&str] = &["count", "session_duration_s", "repeat_count", "feature"];

/// Span and trace-context fields that are sent unchanged.
const SPAN_KEEP: &[&str] = &[
    "span_id",
    "trace_id",
    "parent_span_id",
    "timestamp",
    "start_timestamp",
    "same_process_as_parent",
    "status",
    "type",
];

/// Stack frame fields that are sent unchanged (numbers and addresses).
const FRAME_KEEP: &[&str] = &[
    "lineno",
    "colno",
    "in_app",
    "instruction_addr",
    "symbol_addr",
    "image_addr",
    "addr_mode",
    "platform",
];

/// Stack frame fields that name code: unchanged unless they hold a path.
const FRAME_CODE: &[&str] = &["function", "module", "package", "symbol", "raw_function"];

fn has(list: &[&str], key: &str) -> bool {
    list.contains(&key)
}

impl Scrubber {
    /// Scrub one serialized envelope item in place. `item_type` is the envelope
    /// item type (`"event"`, `"transaction"`, `"client_report"`); events and
    /// transactions get the protocol-aware walk, anything else the generic one
    /// (key rule and value rules everywhere; numbers are only touched under a
    /// sensitive key).
    pub(crate) fn scrub_item(&self, item_type: &str, value: &mut Value, counts: &mut Redactions) {
        match (item_type, value) {
            ("event" | "transaction", Value::Object(map)) => self.event(map, counts),
            ("event" | "transaction", value) => self.walk(value, counts),
            (_, value) => self.walk_with(value, counts, false),
        }
    }

    fn event(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for key in REMOVE {
            if map.remove(*key).is_some() {
                counts.bump(Rule::Removed);
            }
        }
        if let Some(user) = map.get_mut("user") {
            self.user(user, counts);
        }
        for (key, value) in map.iter_mut() {
            match key.as_str() {
                k if has(KEEP, k) => {}
                "user" => {}
                "tags" => self.tags(value, counts),
                "extra" => self.extra(value, counts),
                "contexts" => self.contexts(value, counts),
                "exception" => self.each_value(value, counts, Self::exception),
                "threads" => self.each_value(value, counts, Self::thread),
                "stacktrace" | "raw_stacktrace" => self.stacktrace(value, counts),
                "breadcrumbs" => self.each_value(value, counts, Self::breadcrumb),
                "spans" => self.each_value(value, counts, Self::span),
                k => self.field(k, value, counts),
            }
        }
    }

    /// `user` keeps only `id`, unchanged (the crate's anonymous id).
    fn user(&self, user: &mut Value, counts: &mut Redactions) {
        match user {
            Value::Object(map) => {
                let before = map.len();
                map.retain(|k, _| k == "id");
                for _ in map.len()..before {
                    counts.bump(Rule::Removed);
                }
            }
            other => {
                *other = Value::Null;
                counts.bump(Rule::Removed);
            }
        }
    }

    /// A `{"values": [...]}` container (or a bare array) of protocol objects.
    fn each_value(
        &self,
        value: &mut Value,
        counts: &mut Redactions,
        each: fn(&Self, &mut Map<String, Value>, &mut Redactions),
    ) {
        let list = match value {
            Value::Object(map) => {
                let mut list = None;
                for (k, v) in map.iter_mut() {
                    if k == "values" && v.is_array() {
                        list = Some(v);
                    } else {
                        self.field(k, v, counts);
                    }
                }
                list
            }
            array @ Value::Array(_) => Some(array),
            other => {
                self.walk(other, counts);
                None
            }
        };
        if let Some(Value::Array(items)) = list {
            for item in items {
                match item {
                    Value::Object(map) => each(self, map, counts),
                    other => self.walk(other, counts),
                }
            }
        }
    }

    fn exception(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                "type" | "thread_id" => {}
                "module" => self.code_name(v, counts),
                "stacktrace" | "raw_stacktrace" => self.stacktrace(v, counts),
                "mechanism" => self.keep_some(v, &["type", "handled", "synthetic"], counts),
                _ => self.field(k, v, counts),
            }
        }
    }

    fn thread(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                "id" | "crashed" | "current" => {}
                "stacktrace" | "raw_stacktrace" => self.stacktrace(v, counts),
                _ => self.field(k, v, counts),
            }
        }
    }

    fn stacktrace(&self, value: &mut Value, counts: &mut Redactions) {
        let Value::Object(map) = value else {
            return self.walk(value, counts);
        };
        for (k, v) in map.iter_mut() {
            match (k.as_str(), v) {
                ("frames", Value::Array(frames)) => {
                    for frame in frames {
                        match frame {
                            Value::Object(frame) => self.frame(frame, counts),
                            other => self.walk(other, counts),
                        }
                    }
                }
                ("frames_omitted" | "registers", _) => {}
                (k, v) => self.field(k, v, counts),
            }
        }
    }

    /// A stack frame: paths are sanitized (with every value rule), code names
    /// survive unless they hold a path, line numbers and addresses survive.
    fn frame(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                k if has(FRAME_KEEP, k) => {}
                k if has(FRAME_CODE, k) => self.code_name(v, counts),
                _ => self.field(k, v, counts),
            }
        }
    }

    /// A function, module or package name: unchanged unless it holds a path.
    fn code_name(&self, value: &mut Value, counts: &mut Redactions) {
        match value {
            Value::String(s) if !s.contains(['/', '\\']) => {}
            other => self.walk(other, counts),
        }
    }

    fn breadcrumb(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                "timestamp" | "type" | "level" => {}
                _ => self.field(k, v, counts),
            }
        }
    }

    fn span(&self, map: &mut Map<String, Value>, counts: &mut Redactions) {
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                k if has(SPAN_KEEP, k) => {}
                "tags" => self.tags(v, counts),
                _ => self.field(k, v, counts),
            }
        }
    }

    /// `contexts`: every context is walked; the trace context keeps its ids.
    fn contexts(&self, value: &mut Value, counts: &mut Redactions) {
        let Value::Object(map) = value else {
            return self.walk(value, counts);
        };
        self.rename_keys(map, &[], counts);
        for (name, context) in map.iter_mut() {
            if keys::is_sensitive(name) {
                filter(context, counts);
            } else if name == "trace" {
                self.keep_some(context, SPAN_KEEP, counts);
            } else {
                self.keep_some(context, &["type"], counts);
            }
        }
    }

    /// An object whose `keep` fields survive unchanged; the rest is walked.
    fn keep_some(&self, value: &mut Value, keep: &[&str], counts: &mut Redactions) {
        let Value::Object(map) = value else {
            return self.walk(value, counts);
        };
        self.rename_keys(map, keep, counts);
        for (k, v) in map.iter_mut() {
            if !has(keep, k) {
                self.field(k, v, counts);
            }
        }
    }

    /// Tags (event, transaction or span): the crate's own keep their key and value
    /// (`feature` gets the value rules); the others get the key and value rules.
    fn tags(&self, value: &mut Value, counts: &mut Redactions) {
        self.own_fields(value, OWN_TAGS, counts);
    }

    /// `extra`: as [`tags`](Self::tags), with the crate's own extra fields.
    fn extra(&self, value: &mut Value, counts: &mut Redactions) {
        self.own_fields(value, OWN_EXTRA, counts);
    }

    fn own_fields(&self, value: &mut Value, own: &[&str], counts: &mut Redactions) {
        let Value::Object(map) = value else {
            return self.walk(value, counts);
        };
        self.rename_keys(map, own, counts);
        for (k, v) in map.iter_mut() {
            match k.as_str() {
                "feature" => self.walk(v, counts),
                k if has(own, k) => {}
                k => self.field(k, v, counts),
            }
        }
    }

    /// One field: filtered whole if its key is sensitive, else walked.
    fn field(&self, key: &str, value: &mut Value, counts: &mut Redactions) {
        if keys::is_sensitive(key) {
            filter(value, counts);
        } else {
            self.walk(value, counts);
        }
    }

    /// The generic walk: key rule on every key (and value rules on the key's text),
    /// value rules on every string, booleans untouched, and numbers untouched
    /// unless they are card numbers (13 to 19 digits, Luhn-valid, card network).
    pub(crate) fn walk(&self, value: &mut Value, counts: &mut Redactions) {
        self.walk_with(value, counts, true);
    }

    fn walk_with(&self, value: &mut Value, counts: &mut Redactions, numbers: bool) {
        match value {
            Value::String(s) => {
                if let Cow::Owned(new) = self.scrub_str(s, counts) {
                    *s = new;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk_with(item, counts, numbers);
                }
            }
            Value::Object(map) => {
                self.rename_keys(map, &[], counts);
                for (k, v) in map.iter_mut() {
                    if keys::is_sensitive(k) {
                        filter(v, counts);
                    } else {
                        self.walk_with(v, counts, numbers);
                    }
                }
            }
            Value::Number(n) => {
                if numbers
                    && let Some(u) = n.as_u64()
                    && u >= 1_000_000_000_000
                    && card_valid(&u.to_string())
                {
                    *value = Value::String("[card]".to_owned());
                    counts.bump(Rule::Card);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// Keys are text too: a key holding a path, an email or a host name is
    /// rewritten (the value moves to the scrubbed key; on a clash, the later one
    /// wins). Keys in `keep` are left alone.
    fn rename_keys(&self, map: &mut Map<String, Value>, keep: &[&str], counts: &mut Redactions) {
        let renames: Vec<(String, String)> = map
            .keys()
            .filter(|k| !has(keep, k))
            .filter_map(|k| match self.scrub_str(k, counts) {
                Cow::Owned(new) => Some((k.clone(), new)),
                Cow::Borrowed(_) => None,
            })
            .collect();
        for (old, new) in renames {
            if let Some(v) = map.remove(&old) {
                map.insert(new, v);
            }
        }
    }
}

/// Replace a value under a sensitive key with `"[Filtered]"`, whatever its type.
fn filter(value: &mut Value, counts: &mut Redactions) {
    if value.as_str() != Some(FILTERED) {
        *value = Value::String(FILTERED.to_owned());
        counts.bump(Rule::Key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Local;
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(Local {
            home: Some("/home/alice".to_owned()),
            user: Some("alice".to_owned()),
            host: Some("alice-laptop.corp.example".to_owned()),
        })
    }

    fn frames(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| {
                json!({
                    "function": format!("openadapt_capture::record::step{i}"),
                    "module": "openadapt_capture::record",
                    "filename": format!("src/record/step{i}.rs"),
                    "abs_path": format!("/home/alice/code/openadapt-capture/src/record/step{i}.rs"),
                    "lineno": 40 + i,
                    "colno": 9,
                    "in_app": true,
                    "instruction_addr": "0x55d5c0a1b2c3",
                })
            })
            .collect()
    }

    /// A realistic event, with a secret planted in every part that can hold one.
    fn event() -> Value {
        let mut frames = frames(30);
        frames[29] = json!({
            "function": "sentry_core::hub::Hub::capture_event",
            "abs_path": "/home/alice/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs",
            "filename": "sentry-core-0.49.5/src/hub.rs",
            "lineno": 123,
            "vars": {"password": "hunter2", "n": 3},
        });
        json!({
            "event_id": "550e8400e29b41d4a716446655440000",
            "level": "error",
            "platform": "native",
            "timestamp": 1_705_312_200.123,
            "server_name": "alice-laptop",
            "release": "openadapt-capture@0.1.0",
            "environment": "production",
            "message": "capture failed for alice@example.com: token=tok_SECRET123 at /home/alice/data/rec.db",
            "logentry": {
                "message": "upload to https://bob:pw123@api.example.com/v1/upload?sig=QUERYSECRET failed",
                "params": ["+44 20 7946 0958", 4_111_111_111_111_111_u64]
            },
            "exception": {"values": [
                {
                    "type": "std::io::Error",
                    "value": "No such file or directory (os error 2): /Users/carol/Library/x.plist",
                    "module": "std::io",
                    "mechanism": {"type": "generic", "handled": true, "data": {"apiKey": "AK-PLANTED"}},
                },
                {
                    "type": "ParseIntError",
                    "value": "invalid digit in card 4111 1111 1111 1111 from 192.168.1.23 (alice)",
                    "stacktrace": {"frames": frames},
                }
            ]},
            "threads": {"values": [{"id": 1, "name": "main", "crashed": true, "stacktrace": {"frames": [
                {"function": "main", "abs_path": r"C:\Users\Dave\proj\src\main.rs", "lineno": 7}
            ]}}]},
            "breadcrumbs": {"values": [
                {"timestamp": 1_705_312_100.5, "type": "default", "level": "info", "category": "http",
                 "message": "GET https://api.example.com/items?api_key=QSECRET2 -> 200 with Bearer zyx987654321abc",
                 "data": {"Authorization": "Bearer abcdef123456", "cookie": "sid=COOKIESECRET", "url": "https://eve@example.org/x", "elapsed_ms": 12}},
                {"timestamp": 1_705_312_150.0, "type": "default", "level": "warning",
                 "message": "retrying as alice on alice-laptop (ssn 078-05-1120)", "data": {"attempt": 2, "session_count": 4}},
            ]},
            "tags": {
                "internal": "true",
                "package": "openadapt-capture",
                "package_version": "0.1.0",
                "environment": "production",
                "os": "linux",
                "os_version": "6.1.0-18-amd64",
                "arch": "x86_64",
                "session_id": "7b6c5d4e-3f2a-1b0c-9d8e-7f6a5b4c3d2e",
                "feature": "capture.record",
                "repeat_count": "3",
                "user_email": "frank@example.com",
                "db_host": "10.0.0.5",
            },
            "extra": {
                "count": 5,
                "session_duration_s": 12.5,
                "repeat_count": 3,
                "feature": "capture.record",
                "config": {"secret_key": {"nested": "NESTEDSECRET"}, "paths": ["/home/alice/a", "~grace/b"]},
                "/home/alice/keyed": 1,
                "note": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
                "gh": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
                "ipv6": "peer 2001:db8::8a2e:370:7334",
                "bank": "DE89 3704 0044 0532 0130 00",
            },
            "contexts": {
                "trace": {"type": "trace", "trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "op": "capture.record"},
                "os": {"type": "os", "name": "Linux", "version": "6.1.0-18-amd64", "kernel_version": "6.1.0-18-amd64"},
                "rust": {"type": "runtime", "name": "rustc", "version": "1.95.0"},
                "Rust Tracing Fields": {"password": "FIELDSECRET", "path": "/home/alice/x", "count": 1},
            },
            "user": {"id": "anon-1234", "ip_address": "{{auto}}", "email": "alice@example.com", "username": "alice"},
            "request": {"url": "https://example.com/?q=REQSECRET", "headers": {"Cookie": "REQCOOKIE"}},
            "debug_meta": {"images": [{"code_file": "/home/alice/bin/app"}]},
            "sdk": {"name": "sentry.rust", "version": "0.49.5", "integrations": ["contexts"]},
        })
    }

    #[test]
    fn realistic_event() {
        let mut value = event();
        let mut counts = Redactions::default();
        scrubber().scrub_item("event", &mut value, &mut counts);
        let text = serde_json::to_string(&value).unwrap_or_default();
        for secret in [
            "alice",
            "bob",
            "carol",
            "Dave",
            "eve@",
            "frank",
            "grace",
            "hunter2",
            "tok_SECRET123",
            "pw123",
            "QUERYSECRET",
            "7946",
            "4111",
            "192.168.1.23",
            "10.0.0.5",
            "AK-PLANTED",
            "QSECRET2",
            "abcdef123456",
            "zyx987654321abc",
            "COOKIESECRET",
            "078-05-1120",
            "NESTEDSECRET",
            "eyJhbGci",
            "ghp_",
            "2001:db8",
            "DE89",
            "FIELDSECRET",
            "REQSECRET",
            "REQCOOKIE",
            "ip_address",
            "{{auto}}",
            "debug_meta",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        for kept in [
            "\"event_id\":\"550e8400e29b41d4a716446655440000\"",
            "\"type\":\"std::io::Error\"",
            "\"type\":\"ParseIntError\"",
            "openadapt_capture::record::step7",
            "\"module\":\"openadapt_capture::record\"",
            "\"filename\":\"src/record/step3.rs\"",
            "/home/<user>/code/openadapt-capture/src/record/step3.rs",
            "/home/<user>/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs",
            r"C:\\Users\\<user>\\proj\\src\\main.rs",
            "\"lineno\":45",
            "\"instruction_addr\":\"0x55d5c0a1b2c3\"",
            "\"id\":\"anon-1234\"",
            "\"package\":\"openadapt-capture\"",
            "\"package_version\":\"0.1.0\"",
            "\"os_version\":\"6.1.0-18-amd64\"",
            "\"arch\":\"x86_64\"",
            "\"session_id\":\"7b6c5d4e-3f2a-1b0c-9d8e-7f6a5b4c3d2e\"",
            "\"feature\":\"capture.record\"",
            "\"repeat_count\":\"3\"",
            "\"internal\":\"true\"",
            "\"count\":5",
            "\"session_duration_s\":12.5",
            "\"session_count\":4",
            "\"elapsed_ms\":12",
            "\"trace_id\":\"0123456789abcdef0123456789abcdef\"",
            "\"span_id\":\"0123456789abcdef\"",
            "\"version\":\"1.95.0\"",
            "\"release\":\"openadapt-capture@0.1.0\"",
            "\"timestamp\":1705312200.123",
            "\"level\":\"error\"",
            "\"sdk\":{",
            "\"server_name\":\"<host>\"",
            "[email]",
            "[card]",
            "[ip]",
            "[phone]",
            "[ssn]",
            "[jwt]",
            "[api-key]",
            "[iban]",
            "Bearer [Filtered]",
            "\"password\":\"[Filtered]\"",
            "\"secret_key\":\"[Filtered]\"",
            "\"user_email\":\"[Filtered]\"",
            "/home/<user>/keyed",
            "~<user>/b",
            "retrying as <user> on <host>",
            "os error 2",
        ] {
            assert!(text.contains(kept), "{kept} missing: {text}");
        }
        for rule in [
            Rule::Removed,
            Rule::Key,
            Rule::PathUser,
            Rule::Email,
            Rule::Ip,
            Rule::HostName,
            Rule::UserName,
        ] {
            assert!(counts.get(rule) > 0, "{rule:?}: {counts:?}");
        }
    }

    #[test]
    fn transaction_with_spans() {
        let spans: Vec<Value> = (0..50)
            .map(|i| {
                json!({
                    "span_id": format!("{i:016x}"),
                    "trace_id": "0123456789abcdef0123456789abcdef",
                    "parent_span_id": "0000000000000001",
                    "op": "db.query",
                    "description": format!("SELECT * FROM t WHERE owner = 'user{i}@example.com'"),
                    "start_timestamp": 1_705_312_200.0,
                    "timestamp": 1_705_312_200.5,
                    "status": "ok",
                    "tags": {"feature": "capture.record", "token": "SPANTOKEN"},
                    "data": {
                        "code.file.path": "/home/alice/.cargo/registry/src/index.crates.io-xxx/sentry-core-0.49.5/src/hub.rs",
                        "code.filepath": "/Users/alice/proj/src/lib.rs",
                        "code.line.number": 42,
                        "code.module.name": "openadapt_capture::record",
                        "thread.name": "main",
                        "sessionToken": "SESSIONSECRET",
                    },
                })
            })
            .collect();
        let mut value = json!({
            "type": "transaction",
            "event_id": "550e8400e29b41d4a716446655440000",
            "transaction": "record /home/alice/recording-1",
            "start_timestamp": 1_705_312_200.0,
            "timestamp": 1_705_312_201.0,
            "contexts": {"trace": {"type": "trace", "trace_id": "0123456789abcdef0123456789abcdef", "span_id": "00000000000000ff", "data": {"thread.name": "main"}}},
            "measurements": {"session_duration": {"value": 1.5, "unit": "second"}},
            "spans": spans,
            "server_name": "alice-laptop.corp.example",
            "request": {"url": "https://x"},
        });
        let mut counts = Redactions::default();
        scrubber().scrub_item("transaction", &mut value, &mut counts);
        let text = serde_json::to_string(&value).unwrap_or_default();
        for secret in [
            "alice",
            "example.com",
            "SPANTOKEN",
            "SESSIONSECRET",
            "request",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        for kept in [
            "\"transaction\":\"record /home/<user>/recording-1\"",
            "\"type\":\"transaction\"",
            "sentry-core-0.49.5/src/hub.rs",
            "/Users/<user>/proj/src/lib.rs",
            "\"code.line.number\":42",
            "\"code.module.name\":\"openadapt_capture::record\"",
            "\"span_id\":\"0000000000000031\"",
            "\"op\":\"db.query\"",
            "\"value\":1.5",
            "\"unit\":\"second\"",
            "\"server_name\":\"<host>\"",
        ] {
            assert!(text.contains(kept), "{kept} missing: {text}");
        }
        assert_eq!(counts.get(Rule::Email), 50);
        assert_eq!(counts.get(Rule::Key), 100);
    }

    #[test]
    fn sensitive_keys_filter_any_value() {
        let mut value = json!({"extra": {
            "password": 1234,
            "token": {"a": "b"},
            "secret": ["x", "y"],
            "api_key": true,
            "cookie": null,
            "already": "[Filtered]",
            "session_count": 7,
        }});
        let mut counts = Redactions::default();
        scrubber().scrub_item("event", &mut value, &mut counts);
        assert_eq!(
            value,
            json!({"extra": {
                "password": "[Filtered]",
                "token": "[Filtered]",
                "secret": "[Filtered]",
                "api_key": "[Filtered]",
                "cookie": "[Filtered]",
                "already": "[Filtered]",
                "session_count": 7,
            }})
        );
        assert_eq!(counts.get(Rule::Key), 5);
        assert_eq!(counts.to_json(), json!({"key": 5}));
    }

    #[test]
    fn user_keeps_only_id() {
        let mut value = json!({"user": {"id": "anon", "ip_address": "1.2.3.4", "email": "a@b.co", "username": "x", "other": {"k": 1}}});
        let mut counts = Redactions::default();
        scrubber().scrub_item("event", &mut value, &mut counts);
        assert_eq!(value, json!({"user": {"id": "anon"}}));
        assert_eq!(counts.get(Rule::Removed), 4);
        let mut value = json!({"user": "alice"});
        scrubber().scrub_item("transaction", &mut value, &mut Redactions::default());
        assert_eq!(value, json!({"user": null}));
    }

    #[test]
    fn own_tags_survive_byte_for_byte() {
        // A machine whose names collide with the crate's tag values.
        let s = Scrubber::new(Local {
            home: None,
            user: Some("production".to_owned()),
            host: Some("openadapt-capture".to_owned()),
        });
        let mut value = json!({
            "message": "production run of openadapt-capture",
            "tags": {"environment": "production", "package": "openadapt-capture", "feature": "/home/alice/x", "other": "production"},
            "extra": {"count": 4_111_111_111_111_111_u64, "feature": "production", "total": 4_111_111_111_111_111_u64},
        });
        s.scrub_item("event", &mut value, &mut Redactions::default());
        assert_eq!(
            value,
            json!({
                "message": "<user> run of <host>",
                "tags": {"environment": "production", "package": "openadapt-capture", "feature": "/home/<user>/x", "other": "<user>"},
                "extra": {"count": 4_111_111_111_111_111_u64, "feature": "<user>", "total": "[card]"},
            })
        );
    }

    #[test]
    fn client_report_numbers_untouched() {
        let report = json!({
            "timestamp": 1_705_312_200,
            "discarded_events": [{"reason": "ratelimit_backoff", "category": "error", "quantity": 4_111_111_111_111_111_u64}],
        });
        let mut value = report.clone();
        let mut counts = Redactions::default();
        scrubber().scrub_item("client_report", &mut value, &mut counts);
        assert_eq!(value, report);
        assert!(counts.is_empty());
    }

    #[test]
    fn non_object_items_are_walked() {
        let mut value = json!(["alice@example.com", 1]);
        scrubber().scrub_item("event", &mut value, &mut Redactions::default());
        assert_eq!(value, json!(["[email]", 1]));
        let mut value = json!({"exception": "alice@example.com", "breadcrumbs": [{"message": "to bob@example.com"}]});
        scrubber().scrub_item("event", &mut value, &mut Redactions::default());
        assert_eq!(
            value,
            json!({"exception": "[email]", "breadcrumbs": [{"message": "to [email]"}]})
        );
    }
}
