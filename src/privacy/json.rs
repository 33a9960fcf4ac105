//! Scrubbing one serialized envelope item (a Sentry event, transaction or client
//! report) in place.
//!
//! The walk knows the parts of the Sentry protocol that must survive byte for
//! byte (ids, timestamps, levels, exception type names, the SDK description, the
//! crate's own tags) and the parts that never leave (`request`, `debug_meta`, every
//! `user` field but the anonymous `id`). Everything else gets the key rule on each
//! object key and the value rules on each string, keys included. A text seen
//! before is looked up in the [memo](super::memo), not scrubbed again.

use std::borrow::Cow;
use std::sync::TryLockError;

use serde_json::{Map, Value};

use super::memo::{MEMO_MAX_LEN, MEMO_MIN_LEN, Memo, text_hash};
use super::numbers::card_valid;
use super::rewrite::FILTERED;
use super::{Redactions, Rule, Scrubber, keys};

/// Top-level fields that are never sent.
const REMOVE: &[&str] = &["request", "debug_meta"];

/// The crate's own tags: never filtered by key (`session_id` would be); their
/// values get the value rules like every sent string (an `environment` can hold
/// a login name), except the closed-form ones, checked against their form
/// instead ([`closed_form`]).
pub(crate) const OWN_TAGS: &[&str] = &[
    "internal",
    "ci",
    "rust_version",
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

/// The form of the crate's own fields whose values it makes from a closed
/// set: `internal`/`ci` are `True` or `False`, `os` and `arch` a short
/// identifier, `session_id` 32 hex digits, the counts numbers. Checked instead
/// of scrubbed: anything else is filtered.
fn closed_form(key: &str) -> Option<fn(&Value) -> bool> {
    fn boolean(v: &Value) -> bool {
        v.as_str().is_some_and(|v| v == "True" || v == "False")
    }
    fn identifier(v: &Value) -> bool {
        v.as_str().is_some_and(|v| {
            !v.is_empty()
                && v.len() <= 32
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    }
    fn hex32(v: &Value) -> bool {
        v.as_str()
            .is_some_and(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    }
    fn number(v: &Value) -> bool {
        // As a tag, a count is a string of digits.
        v.is_number()
            || v.as_str().is_some_and(|v| {
                !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
            })
    }
    match key {
        "internal" | "ci" => Some(boolean),
        "os" | "arch" => Some(identifier),
        "session_id" => Some(hex32),
        // The crate's counts (`extra`): numbers it computed, never card numbers.
        "count" | "repeat_count" | "session_duration_s" => Some(number),
        _ => None,
    }
}

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

fn has(list: &[&str], key: &str) -> bool {
    list.contains(&key)
}

/// Field names of the Sentry protocol and of the crate's span data that name no
/// secret (a test proves the key rule agrees): the key rule and the value rules
/// are not run on the key itself. Their values are scrubbed as usual.
fn is_protocol_key(key: &str) -> bool {
    // Byte patterns: matched by length, then byte by byte.
    matches!(
        key.as_bytes(),
        b"op"
            | b"os"
            | b"id"
            | b"app"
            | b"type"
            | b"vars"
            | b"data"
            | b"dist"
            | b"name"
            | b"tags"
            | b"unit"
            | b"rust"
            | b"arch"
            | b"value"
            | b"colno"
            | b"level"
            | b"build"
            | b"spans"
            | b"extra"
            | b"trace"
            | b"model"
            | b"params"
            | b"values"
            | b"module"
            | b"symbol"
            | b"lineno"
            | b"in_app"
            | b"origin"
            | b"status"
            | b"logger"
            | b"frames"
            | b"device"
            | b"family"
            | b"message"
            | b"package"
            | b"culprit"
            | b"release"
            | b"version"
            | b"channel"
            | b"threads"
            | b"runtime"
            | b"span_id"
            | b"current"
            | b"crashed"
            | b"handled"
            | b"feature"
            | b"logentry"
            | b"filename"
            | b"abs_path"
            | b"function"
            | b"category"
            | b"platform"
            | b"contexts"
            | b"app_name"
            | b"event_id"
            | b"trace_id"
            | b"formatted"
            | b"timestamp"
            | b"mechanism"
            | b"exception"
            | b"synthetic"
            | b"thread.id"
            | b"stacktrace"
            | b"memory_rss"
            | b"pre_context"
            | b"description"
            | b"transaction"
            | b"environment"
            | b"server_name"
            | b"fingerprint"
            | b"breadcrumbs"
            | b"app_version"
            | b"code.lineno"
            | b"thread.name"
            | b"raw_function"
            | b"context_line"
            | b"post_context"
            | b"measurements"
            | b"code.filepath"
            | b"code.function"
            | b"kernel_version"
            | b"parent_span_id"
            | b"code.namespace"
            | b"code.file.path"
            | b"start_timestamp"
            | b"code.line.number"
    )
}

impl Scrubber {
    /// Scrub one serialized envelope item in place. `item_type` is the envelope
    /// item type (`"event"`, `"transaction"`, `"client_report"`); events and
    /// transactions get the protocol-aware walk, anything else the generic one
    /// (key rule and value rules everywhere; numbers are only touched under a
    /// sensitive key).
    pub(crate) fn scrub_item(&self, item_type: &str, value: &mut Value, counts: &mut Redactions) {
        // The texts scrubbed before, by earlier items too: one lock per item,
        // never waited for (a scrub on another thread gets a memo of its own).
        match self.memo.try_lock() {
            Ok(mut memo) => self.scrub_item_with(item_type, value, counts, &mut memo),
            Err(TryLockError::Poisoned(poisoned)) => {
                // A scrub panicked while it held the memo: start it again, and
                // use it from now on.
                let mut memo = poisoned.into_inner();
                memo.clear();
                self.memo.clear_poison();
                self.scrub_item_with(item_type, value, counts, &mut memo);
            }
            Err(TryLockError::WouldBlock) => {
                self.scrub_item_with(item_type, value, counts, &mut Memo::default());
            }
        }
    }

    /// [`scrub_item`](Self::scrub_item) with a memo of the caller's.
    pub(crate) fn scrub_item_with(
        &self,
        item_type: &str,
        value: &mut Value,
        counts: &mut Redactions,
        memo: &mut Memo,
    ) {
        let cx = &mut Walk { counts, memo };
        match (item_type, value) {
            ("event" | "transaction", Value::Object(map)) => self.event(map, cx),
            ("event" | "transaction", value) => self.walk(value, cx),
            (_, value) => self.walk_with(value, cx, false),
        }
    }

    fn event(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for key in REMOVE {
            if map.remove(*key).is_some() {
                cx.counts.bump(Rule::Removed);
            }
        }
        if let Some(user) = map.get_mut("user") {
            self.user(user, cx);
        }
        for (key, value) in map.iter_mut() {
            match key.as_bytes() {
                // Sent unchanged.
                b"event_id" | b"trace_id" | b"span_id" | b"parent_span_id" | b"timestamp"
                | b"start_timestamp" | b"type" | b"platform" | b"level" | b"sdk" => {}
                b"user" => {}
                b"tags" => self.tags(value, cx),
                b"extra" => self.extra(value, cx),
                b"contexts" => self.contexts(value, cx),
                b"exception" => self.each_value(value, cx, Self::exception),
                b"threads" => self.each_value(value, cx, Self::thread),
                b"stacktrace" | b"raw_stacktrace" => self.stacktrace(value, cx),
                b"breadcrumbs" => self.each_value(value, cx, Self::breadcrumb),
                b"spans" => self.each_value(value, cx, Self::span),
                _ => self.field(key, value, cx),
            }
        }
    }

    /// `user` keeps only `id`, unchanged (the crate's anonymous id).
    fn user(&self, user: &mut Value, cx: &mut Walk<'_>) {
        match user {
            Value::Object(map) => {
                let before = map.len();
                map.retain(|k, _| k == "id");
                for _ in map.len()..before {
                    cx.counts.bump(Rule::Removed);
                }
            }
            other => {
                *other = Value::Null;
                cx.counts.bump(Rule::Removed);
            }
        }
    }

    /// A `{"values": [...]}` container (or a bare array) of protocol objects.
    fn each_value(
        &self,
        value: &mut Value,
        cx: &mut Walk<'_>,
        each: fn(&Self, &mut Map<String, Value>, &mut Walk<'_>),
    ) {
        let list = match value {
            Value::Object(map) => {
                let mut list = None;
                for (k, v) in map.iter_mut() {
                    if k == "values" && v.is_array() {
                        list = Some(v);
                    } else {
                        self.field(k, v, cx);
                    }
                }
                list
            }
            array @ Value::Array(_) => Some(array),
            other => {
                self.walk(other, cx);
                None
            }
        };
        if let Some(Value::Array(items)) = list {
            for item in items {
                match item {
                    Value::Object(map) => each(self, map, cx),
                    other => self.walk(other, cx),
                }
            }
        }
    }

    fn exception(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for (k, v) in map.iter_mut() {
            match k.as_bytes() {
                b"type" | b"thread_id" => {}
                b"module" => self.code_name(v, cx),
                b"stacktrace" | b"raw_stacktrace" => self.stacktrace(v, cx),
                b"mechanism" => self.keep_some(v, &["type", "handled", "synthetic"], cx),
                _ => self.field(k, v, cx),
            }
        }
    }

    fn thread(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for (k, v) in map.iter_mut() {
            match k.as_bytes() {
                b"id" | b"crashed" | b"current" => {}
                b"stacktrace" | b"raw_stacktrace" => self.stacktrace(v, cx),
                _ => self.field(k, v, cx),
            }
        }
    }

    fn stacktrace(&self, value: &mut Value, cx: &mut Walk<'_>) {
        let Value::Object(map) = value else {
            return self.walk(value, cx);
        };
        for (k, v) in map.iter_mut() {
            match (k.as_str(), v) {
                ("frames", Value::Array(frames)) => {
                    for frame in frames {
                        match frame {
                            Value::Object(frame) => self.frame(frame, cx),
                            other => self.walk(other, cx),
                        }
                    }
                }
                ("frames_omitted" | "registers", _) => {}
                (k, v) => self.field(k, v, cx),
            }
        }
    }

    /// A stack frame: paths are sanitized (with every value rule), code names
    /// survive unless they hold a path, line numbers and addresses survive.
    fn frame(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for (k, v) in map.iter_mut() {
            match k.as_bytes() {
                // Numbers and addresses: unchanged.
                b"lineno" | b"colno" | b"in_app" | b"instruction_addr" | b"symbol_addr"
                | b"image_addr" | b"addr_mode" | b"platform" => {}
                // Code names: unchanged unless they hold a path.
                b"function" | b"module" | b"package" | b"symbol" | b"raw_function" => {
                    self.code_name(v, cx)
                }
                _ => self.field(k, v, cx),
            }
        }
    }

    /// A function, module or package name: unchanged unless it holds a path.
    fn code_name(&self, value: &mut Value, cx: &mut Walk<'_>) {
        match value {
            Value::String(s) if memchr::memchr2(b'/', b'\\', s.as_bytes()).is_none() => {}
            other => self.walk(other, cx),
        }
    }

    fn breadcrumb(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for (k, v) in map.iter_mut() {
            match k.as_bytes() {
                b"timestamp" | b"type" | b"level" => {}
                _ => self.field(k, v, cx),
            }
        }
    }

    fn span(&self, map: &mut Map<String, Value>, cx: &mut Walk<'_>) {
        for (k, v) in map.iter_mut() {
            match k.as_bytes() {
                // SPAN_KEEP
                b"span_id"
                | b"trace_id"
                | b"parent_span_id"
                | b"timestamp"
                | b"start_timestamp"
                | b"same_process_as_parent"
                | b"status"
                | b"type" => {}
                b"tags" => self.tags(v, cx),
                _ => self.field(k, v, cx),
            }
        }
    }

    /// `contexts`: every context is walked; the trace context keeps its ids.
    fn contexts(&self, value: &mut Value, cx: &mut Walk<'_>) {
        let Value::Object(map) = value else {
            return self.walk(value, cx);
        };
        self.object(map, &[], cx, |this, name, context, cx| {
            if name == "trace" {
                this.keep_some(context, SPAN_KEEP, cx);
            } else {
                this.keep_some(context, &["type"], cx);
            }
        });
    }

    /// An object whose `keep` fields survive unchanged; the rest is walked.
    fn keep_some(&self, value: &mut Value, keep: &[&str], cx: &mut Walk<'_>) {
        let Value::Object(map) = value else {
            return self.walk(value, cx);
        };
        self.object(map, keep, cx, |this, k, v, cx| {
            if !has(keep, k) {
                this.walk(v, cx);
            }
        });
    }

    /// Tags (event, transaction or span): the crate's own keep their key and value
    /// (`feature` gets the value rules); the others get the key and value rules.
    fn tags(&self, value: &mut Value, cx: &mut Walk<'_>) {
        self.own_fields(value, OWN_TAGS, cx);
    }

    /// `extra`: as [`tags`](Self::tags), with the crate's own extra fields.
    fn extra(&self, value: &mut Value, cx: &mut Walk<'_>) {
        self.own_fields(value, OWN_EXTRA, cx);
    }

    fn own_fields(&self, value: &mut Value, own: &[&str], cx: &mut Walk<'_>) {
        let Value::Object(map) = value else {
            return self.walk(value, cx);
        };
        self.object(map, own, cx, |this, k, v, cx| match closed_form(k) {
            // A value the crate made, of a known form: anything else is filtered.
            Some(form) => {
                if !form(v) {
                    filter(v, cx.counts);
                }
            }
            None => this.walk(v, cx),
        });
    }

    /// One field: filtered whole if its key is sensitive, else walked.
    fn field(&self, key: &str, value: &mut Value, cx: &mut Walk<'_>) {
        if !is_protocol_key(key) && keys::is_sensitive(key) {
            filter(value, cx.counts);
        } else {
            self.walk(value, cx);
        }
    }

    /// The generic walk: key rule on every key (and value rules on the key's text),
    /// value rules on every string, booleans untouched, and numbers untouched
    /// unless they are card numbers (13 to 19 digits, Luhn-valid, card network).
    pub(crate) fn walk(&self, value: &mut Value, cx: &mut Walk<'_>) {
        self.walk_with(value, cx, true);
    }

    fn walk_with(&self, value: &mut Value, cx: &mut Walk<'_>, numbers: bool) {
        match value {
            Value::String(s) => self.scrub_string(s, cx),
            Value::Array(items) => {
                for item in items {
                    self.walk_with(item, cx, numbers);
                }
            }
            Value::Object(map) => {
                self.object(map, &[], cx, |this, _, v, cx| {
                    this.walk_with(v, cx, numbers)
                });
            }
            Value::Number(n) => {
                if numbers
                    && let Some(u) = n.as_u64()
                    && u >= 1_000_000_000_000
                    && card_valid(&u.to_string())
                {
                    *value = Value::String("[card]".to_owned());
                    cx.counts.bump(Rule::Card);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// The entries of an object. A key in `keep` is left as it is, and `each`
    /// gets its entry. Any other key is text too: a key holding a path, an email
    /// or a host name is rewritten (the value moves to the scrubbed key; on a
    /// clash, the later one wins); then, if the key (as rewritten) is sensitive,
    /// its value becomes `[Filtered]`, and otherwise `each` gets the entry. (On a
    /// clash, the value that is dropped was scrubbed too, and its redactions are
    /// counted.)
    fn object(
        &self,
        map: &mut Map<String, Value>,
        keep: &[&str],
        cx: &mut Walk<'_>,
        mut each: impl FnMut(&Self, &str, &mut Value, &mut Walk<'_>),
    ) {
        let mut renames: Vec<(String, String)> = Vec::new();
        for (k, v) in map.iter_mut() {
            if has(keep, k) {
                each(self, k, v, cx);
                continue;
            }
            let (renamed, sensitive) = self.key_rules(k, cx);
            if sensitive {
                filter(v, cx.counts);
            } else {
                each(self, k, v, cx);
            }
            if let Some(new) = renamed {
                renames.push((k.clone(), new));
            }
        }
        for (old, new) in renames {
            if let Some(v) = map.remove(&old) {
                map.insert(new, v);
            }
        }
    }

    /// What the value rules make of a key (`None`: unchanged), and whether the
    /// key rule filters its value (judged on the key as rewritten). Protocol keys
    /// are neither. Remembered like texts: keys repeat more than anything.
    fn key_rules(&self, k: &str, cx: &mut Walk<'_>) -> (Option<String>, bool) {
        if is_protocol_key(k) {
            return (None, false);
        }
        if k.len() > MEMO_MAX_LEN {
            let renamed = self.scrub_str(k, cx.counts);
            let sensitive = keys::is_sensitive(&renamed);
            return (
                match renamed {
                    Cow::Owned(new) => Some(new),
                    Cow::Borrowed(_) => None,
                },
                sensitive,
            );
        }
        let hash = text_hash(k);
        if let Some(index) = cx.memo.find(hash, k) {
            let renamed = cx.memo.entry(index, cx.counts).map(str::to_owned);
            let sensitive = match cx.memo.sensitive(index) {
                Some(sensitive) => sensitive,
                None => {
                    let sensitive = keys::is_sensitive(renamed.as_deref().unwrap_or(k));
                    cx.memo.set_sensitive(index, sensitive);
                    sensitive
                }
            };
            return (renamed, sensitive);
        }
        let mut delta = Redactions::default();
        let renamed = match self.scrub_str(k, &mut delta) {
            Cow::Owned(new) => Some(new),
            Cow::Borrowed(_) => None,
        };
        cx.counts.add(&delta);
        let sensitive = keys::is_sensitive(renamed.as_deref().unwrap_or(k));
        if cx.memo.admit(hash)
            && let Some(index) = cx.memo.insert(hash, k, renamed.as_deref(), delta)
        {
            cx.memo.set_sensitive(index, sensitive);
        }
        (renamed, sensitive)
    }

    /// A string value of the item, rewritten in place (in its own buffer when
    /// it fits) when a rule matched.
    fn scrub_string(&self, s: &mut String, cx: &mut Walk<'_>) {
        match self.scrub_cached(s, cx) {
            Scrubbed::Same => {}
            Scrubbed::New(new) => *s = new,
            Scrubbed::Known(out) => {
                s.clear();
                s.push_str(out);
            }
        }
    }

    /// The value rules, once per distinct text: a stack trace repeats its files,
    /// breadcrumbs their category, spans their names and data, and the events of
    /// one program their frames, tags and contexts.
    fn scrub_cached<'m>(&self, s: &str, cx: &'m mut Walk<'_>) -> Scrubbed<'m> {
        if !(MEMO_MIN_LEN..=MEMO_MAX_LEN).contains(&s.len()) {
            return self.scrub_str(s, cx.counts).into();
        }
        let hash = text_hash(s);
        if let Some(index) = cx.memo.find(hash, s) {
            return cx
                .memo
                .entry(index, cx.counts)
                .map_or(Scrubbed::Same, Scrubbed::Known);
        }
        let mut delta = Redactions::default();
        let out = self.scrub_str(s, &mut delta);
        cx.counts.add(&delta);
        if cx.memo.admit(hash) {
            let kept = match &out {
                Cow::Owned(out) => Some(out.as_str()),
                Cow::Borrowed(_) => None,
            };
            cx.memo.insert(hash, s, kept, delta);
        }
        out.into()
    }
}

/// What became of one text.
enum Scrubbed<'m> {
    /// Unchanged.
    Same,
    /// Rewritten now.
    New(String),
    /// Rewritten before, to this.
    Known(&'m str),
}

impl From<Cow<'_, str>> for Scrubbed<'_> {
    fn from(out: Cow<'_, str>) -> Self {
        match out {
            Cow::Borrowed(_) => Scrubbed::Same,
            Cow::Owned(new) => Scrubbed::New(new),
        }
    }
}

/// What the walk of one item carries: the counts, and the texts already scrubbed.
pub(crate) struct Walk<'c> {
    counts: &'c mut Redactions,
    memo: &'c mut Memo,
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
    use crate::privacy::tests::alice as scrubber;

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
                "internal": "True",
                "package": "openadapt-capture",
                "package_version": "0.1.0",
                "environment": "production",
                "os": "Linux",
                "os_version": "6.1.0-18-amd64",
                "arch": "x86_64",
                "session_id": "7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e",
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
            "\"session_id\":\"7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e\"",
            "\"feature\":\"capture.record\"",
            "\"repeat_count\":\"3\"",
            "\"internal\":\"True\"",
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
    fn protocol_keys_are_not_sensitive() {
        for key in [
            "message",
            "value",
            "filename",
            "abs_path",
            "data",
            "code.filepath",
            "thread.name",
            "feature",
            "id",
            "app_name",
            "kernel_version",
        ] {
            assert!(is_protocol_key(key), "{key}");
        }
        // Every protocol key, checked against the key rule and the value rules.
        let all: Vec<&str> = include_str!("json.rs")
            .split("fn is_protocol_key")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .unwrap_or_default()
            .split('"')
            .skip(1)
            .step_by(2)
            .collect();
        assert!(all.len() > 50, "{all:?}");
        for key in all {
            assert!(is_protocol_key(key), "{key}");
            assert!(!keys::is_sensitive(key), "{key} is sensitive");
            assert_eq!(scrubber().scrub_str(key, &mut Redactions::default()), key);
        }
        assert!(!is_protocol_key("password"));
        assert!(!is_protocol_key("hostname"));
    }

    /// An event whose texts need rules, in places the walk treats differently.
    fn event_with_secrets(n: usize) -> Value {
        json!({
            "message": format!("upload {n} for ada@example.com failed"),
            "exception": {"values": [{"type": "Io", "value": "open /home/alice/.ssh/id_rsa: denied",
                "stacktrace": {"frames": frames(3)}}]},
            "breadcrumbs": {"values": [{"category": "app::net", "message": "GET https://u:pw@api.example.com/v1?token=x"}]},
            "tags": {"region": "eu", "client_ip": "203.0.113.7"},
            "extra": {"note": "password=hunter2 retries=3"},
        })
    }

    #[test]
    fn texts_are_remembered_across_items_with_the_same_result() {
        let s = scrubber();
        let mut first = event_with_secrets(1);
        let mut first_counts = Redactions::default();
        s.scrub_item("event", &mut first, &mut first_counts);
        // Seen once: only noted; seen twice: remembered.
        let remembered = |s: &Scrubber| s.memo.lock().map(|m| m.len()).unwrap_or(0);
        assert_eq!(remembered(&s), 0);
        for round in 0..3 {
            let mut again = event_with_secrets(1);
            let mut counts = Redactions::default();
            s.scrub_item("event", &mut again, &mut counts);
            assert_eq!(again, first, "round {round}");
            assert_eq!(counts, first_counts, "round {round}");
            assert!(remembered(&s) > 0, "round {round}");
        }
        // What a fresh scrubber makes of it: the same.
        let mut fresh = event_with_secrets(1);
        let mut fresh_counts = Redactions::default();
        scrubber().scrub_item("event", &mut fresh, &mut fresh_counts);
        assert_eq!(fresh, first);
        assert_eq!(fresh_counts, first_counts);
        let text = first.to_string();
        for secret in [
            "ada@example.com",
            "alice",
            "hunter2",
            "pw@",
            "token=x",
            "203.0.113.7",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn keys_are_rewritten_and_judged_as_rewritten() {
        let s = scrubber();
        // First sight, second (remembered), third (from the memo): the same.
        for round in 0..3 {
            let mut value = json!({
                "extra": {"bob@example.com": "x", "/home/bob/notes": "kept", "alice": 1, "plain": "y"},
                "contexts": {"app": {"/home/bob/x": "v", "type": "app"}},
                "tags": {"package": "p", "apiKey": "k"},
            });
            let mut counts = Redactions::default();
            s.scrub_item("event", &mut value, &mut counts);
            assert_eq!(
                value,
                json!({
                    "extra": {"[email]": "[Filtered]", "/home/<user>/notes": "kept", "<user>": 1, "plain": "y"},
                    "contexts": {"app": {"/home/<user>/x": "v", "type": "app"}},
                    "tags": {"package": "p", "apiKey": "[Filtered]"},
                }),
                "round {round}"
            );
            assert_eq!(counts.get(Rule::Email), 1, "round {round}");
            assert_eq!(counts.get(Rule::PathUser), 2, "round {round}");
            assert_eq!(counts.get(Rule::UserName), 1, "round {round}");
            assert_eq!(counts.get(Rule::Key), 2, "round {round}");
        }
    }

    #[test]
    fn a_busy_or_poisoned_memo_is_not_waited_for() {
        let s = scrubber();
        let mut want = event_with_secrets(2);
        let mut want_counts = Redactions::default();
        scrubber().scrub_item("event", &mut want, &mut want_counts);
        // Held elsewhere: the scrub takes a memo of its own, and does not wait.
        {
            let _held = s.memo.lock().unwrap();
            let mut item = event_with_secrets(2);
            let mut counts = Redactions::default();
            s.scrub_item("event", &mut item, &mut counts);
            assert_eq!((item, counts), (want.clone(), want_counts.clone()));
        }
        // Poisoned by a panic: started again.
        std::thread::scope(|scope| {
            let _ = scope
                .spawn(|| {
                    let _held = s.memo.lock().unwrap();
                    panic!("poison the memo");
                })
                .join();
        });
        assert!(s.memo.is_poisoned());
        for _ in 0..2 {
            let mut item = event_with_secrets(2);
            let mut counts = Redactions::default();
            s.scrub_item("event", &mut item, &mut counts);
            assert_eq!((item, counts), (want.clone(), want_counts.clone()));
        }
        // And remembered again from then on.
        assert!(!s.memo.is_poisoned());
        assert!(s.memo.lock().map(|m| !m.is_empty()).unwrap_or(false));
    }

    #[test]
    fn repeated_texts_are_scrubbed_once_and_counted_each_time() {
        // More distinct texts than the memo keeps, and texts that repeat.
        let crumbs: Vec<Value> = (0..600)
            .map(|i| {
                let message = match i % 3 {
                    0 => "mail ada@example.com".to_owned(),
                    1 => "plain text, nothing to hide".to_owned(),
                    _ => format!("opened /home/bob{i}/notes.txt"),
                };
                json!({"message": message, "category": "app::module"})
            })
            .collect();
        let mut value = json!({"breadcrumbs": {"values": crumbs}});
        let mut counts = Redactions::default();
        scrubber().scrub_item("event", &mut value, &mut counts);
        let values = value["breadcrumbs"]["values"].as_array().unwrap();
        for (i, crumb) in values.iter().enumerate() {
            let want = match i % 3 {
                0 => "mail [email]",
                1 => "plain text, nothing to hide",
                _ => "opened /home/<user>/notes.txt",
            };
            assert_eq!(crumb["message"], want, "{i}");
            assert_eq!(crumb["category"], "app::module");
        }
        assert_eq!(counts.get(Rule::Email), 200);
        assert_eq!(counts.get(Rule::PathUser), 200);
        // Texts of the same length and hash bucket are told apart.
        let mut memo = Memo::default();
        memo.insert(
            text_hash("abcdefgh"),
            "abcdefgh",
            Some("x"),
            Redactions::default(),
        );
        assert!(memo.get("abcdefgi").is_none());
        assert_eq!(memo.get("abcdefgh").map(|(out, _)| out), Some(Some("x")));
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
    fn own_tags_get_the_value_rules_and_closed_forms_are_checked() {
        // A machine whose names collide with the crate's tag values: the
        // environment and package are sent strings like any other (an
        // environment can hold a login name); counts stay numbers.
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
                "tags": {"environment": "<user>", "package": "<host>", "feature": "/home/<user>/x", "other": "<user>"},
                "extra": {"count": 4_111_111_111_111_111_u64, "feature": "<user>", "total": "[card]"},
            })
        );
        // Closed forms: kept when they have their form, filtered otherwise.
        let mut value = json!({"tags": {
            "internal": "False", "ci": "True", "os": "Linux", "arch": "x86_64",
            "session_id": "7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e",
        }});
        let kept = value.clone();
        s.scrub_item("event", &mut value, &mut Redactions::default());
        assert_eq!(value, kept);
        let mut value = json!({"tags": {
            "internal": "alice@example.com", "os": "Linux alice", "session_id": "production",
        }});
        s.scrub_item("event", &mut value, &mut Redactions::default());
        assert_eq!(
            value,
            json!({"tags": {"internal": "[Filtered]", "os": "[Filtered]", "session_id": "[Filtered]"}})
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
