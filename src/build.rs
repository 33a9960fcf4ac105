//! Records → Sentry items (JSON), on the worker thread or an exit path.
//!
//! Shaped for what GlitchTip keeps (`shared/notes/glitchtip.md`): an error's
//! stack is always inside `exception.values[*].stacktrace` (GlitchTip drops
//! `threads`); an `error!` without an error value becomes an exception whose
//! type says where it came from; a transaction's `op` is a category, not its
//! name; every timestamp is seconds since the epoch.

use std::fmt::Write as _;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::backtrace::parse_backtrace;
use crate::crumbs::View;
use crate::gate::{EVENT, Envelope, Gate, TRANSACTION, secs};
use crate::limits::{self, TAG_KEY, TAG_VALUE, TAGS};
use crate::outbox::Outbox;
use crate::queue::{ErrorRecord, Origin, SpanRecord, TxnRecord};

const SDK_NAME: &str = "openadapt-telemetry";

/// Everything needed to build and deliver items: shared by the worker and the
/// exit paths (which build what is left in memory themselves).
#[derive(Debug)]
pub(crate) struct Assembly {
    pub(crate) gate: Gate,
    pub(crate) outbox: Outbox,
    /// The crate's own tags and the program's (`TelemetryBuilder::tag`), already cut.
    pub(crate) tags: Map<String, Value>,
    pub(crate) contexts: Map<String, Value>,
    pub(crate) release: String,
    pub(crate) environment: String,
    pub(crate) server_name: String,
    pub(crate) user_id: Option<String>,
    /// Where errors and transactions go.
    pub(crate) dsn: Option<String>,
    /// Where usage events go: `usage_dsn`, else `dsn`; `None`: not sent.
    pub(crate) usage_dsn: Option<String>,
}

/// A new event id: 32 lowercase hex digits.
pub(crate) fn event_id() -> String {
    sentry::types::random_uuid().simple().to_string()
}

impl Assembly {
    fn base(&self, level: &str, timestamp: SystemTime) -> Map<String, Value> {
        let mut event = Map::new();
        event.insert("event_id".into(), Value::from(event_id()));
        event.insert("level".into(), Value::from(level));
        event.insert("timestamp".into(), Value::from(secs(timestamp)));
        event.insert("platform".into(), Value::from("native"));
        event.insert("release".into(), Value::from(self.release.as_str()));
        event.insert("environment".into(), Value::from(self.environment.as_str()));
        event.insert("server_name".into(), Value::from(self.server_name.as_str()));
        event.insert(
            "sdk".into(),
            json!({ "name": SDK_NAME, "version": env!("CARGO_PKG_VERSION") }),
        );
        event.insert("tags".into(), Value::Object(self.tags.clone()));
        event.insert("contexts".into(), Value::Object(self.contexts.clone()));
        if let Some(id) = &self.user_id {
            event.insert("user".into(), json!({ "id": id }));
        }
        event
    }

    /// An error record as a gated envelope for the error DSN, under the
    /// event id `id`. `stack: false` leaves the stack trace out without reading
    /// it (reading the first one of a process loads its debug information:
    /// 0.1 to 0.3 s), saying so in `extra.cut`. `report`: with the pending
    /// client report (a copy that may be discarded must not carry it).
    pub(crate) fn error_envelope(
        &self,
        record: &ErrorRecord,
        id: &str,
        stack: bool,
        report: bool,
    ) -> Option<Envelope> {
        let item = self.error_item(record, id, stack);
        let items = vec![(EVENT, Value::Object(item))];
        if report {
            self.gate.envelope(self.dsn.as_deref(), items)
        } else {
            self.gate.envelope_bare(self.dsn.as_deref(), items)
        }
    }

    pub(crate) fn error_item(&self, r: &ErrorRecord, id: &str, stack: bool) -> Map<String, Value> {
        let (level, mechanism) = match r.origin {
            Origin::Panic => ("fatal", "panic"),
            Origin::Test => ("info", "test"),
            Origin::Event(_) => ("error", "tracing"),
        };
        let mut event = self.base(level, r.timestamp);
        event.insert("event_id".into(), Value::from(id));
        let site = match (&r.origin, &r.location) {
            (Origin::Event(meta), _) => {
                meta.file().zip(meta.line()).map(|(f, l)| (f.to_owned(), l))
            }
            (Origin::Panic, Some(location)) => location
                .rsplit_once(':')
                .and_then(|(file, line)| Some((file.to_owned(), line.parse().ok()?))),
            _ => None,
        };
        let frames = r
            .backtrace
            .as_ref()
            .filter(|_| stack)
            .map(|bt| parse_backtrace(bt, site.as_ref().map(|(f, l)| (f.as_str(), *l))))
            .unwrap_or_default();
        let place = origin_type(r, &frames);
        match &r.origin {
            Origin::Event(meta) => {
                event.insert("logger".into(), Value::from(meta.target()));
                if let Some(file) = meta.file() {
                    let culprit = match meta.line() {
                        Some(line) => format!("{file}:{line}"),
                        None => file.to_owned(),
                    };
                    event.insert("culprit".into(), Value::from(culprit));
                }
            }
            Origin::Panic => {
                if let Some(location) = &r.location {
                    event.insert("culprit".into(), Value::from(location.as_str()));
                }
            }
            Origin::Test => {
                event.insert("logger".into(), Value::from("openadapt_telemetry"));
            }
        }
        if let Some(message) = &r.message {
            event.insert("message".into(), Value::from(message.as_str()));
        }
        if let Some(root) = r.spans.last() {
            event.insert("transaction".into(), Value::from(root.name));
        }
        // The exception: the chain, root cause first (Sentry's order), or the
        // message as an exception typed by where it came from.
        let mut values: Vec<Value> = if r.chain.is_empty() {
            let value = r.message.clone().unwrap_or_else(|| match &r.origin {
                Origin::Event(meta) => meta.name().to_owned(),
                _ => "error".to_owned(),
            });
            vec![json!({ "type": place, "value": value })]
        } else {
            r.chain
                .iter()
                .enumerate()
                .rev()
                .map(|(i, link)| {
                    // A type that is not known (`#[instrument(err)]`, `error = %e`, a
                    // wrapper): the outermost is named by where it came from.
                    let ty = match (link.ty.is_empty(), i) {
                        (false, _) => link.ty.clone(),
                        (true, 0) => place.clone(),
                        (true, _) => "Error".to_owned(),
                    };
                    let mut value = json!({ "type": ty, "value": link.value });
                    if let Some(kind) = &link.kind {
                        value["mechanism"] = json!({ "type": "chained", "data": { "kind": kind } });
                    }
                    value
                })
                .collect()
        };
        if let Some(last) = values.last_mut() {
            if !frames.is_empty() {
                last["stacktrace"] = json!({ "frames": frames });
            }
            let data = last.get("mechanism").and_then(|m| m.get("data")).cloned();
            let mut mech = json!({
                "type": mechanism,
                "handled": !matches!(r.origin, Origin::Panic),
            });
            if let Some(data) = data {
                mech["data"] = data;
            }
            last["mechanism"] = mech;
        }
        event.insert("exception".into(), json!({ "values": values }));
        let tags = event
            .get_mut("tags")
            .and_then(Value::as_object_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let tags = with_tags(tags, r.tags.iter().map(|(k, v)| (*k, v.as_str())));
        event.insert("tags".into(), Value::Object(tags));
        let mut extra = Map::new();
        for (name, value) in &r.fields {
            extra.insert((*name).to_owned(), Value::from(value.as_str()));
        }
        if r.count > 1 {
            extra.insert("repeat_count".into(), Value::from(r.count));
        }
        if !stack && r.backtrace.is_some() {
            extra.insert(
                "cut".into(),
                Value::from("stack trace left out: the program was ending"),
            );
        }
        let dropped = crate::crumbs::take_dropped();
        if dropped > 0 {
            extra.insert("breadcrumbs_dropped".into(), Value::from(dropped));
        }
        if r.spans.len() > 1 {
            let path: Vec<Value> = r.spans.iter().map(|s| Value::from(s.name)).collect();
            extra.insert("spans".into(), Value::from(path));
        }
        if !extra.is_empty() {
            event.insert("extra".into(), Value::Object(extra));
        }
        if !r.crumbs.is_empty() {
            let crumbs: Vec<Value> = r.crumbs.iter().map(crumb).collect();
            event.insert("breadcrumbs".into(), json!({ "values": crumbs }));
        }
        if let Some((trace_id, span_id)) = r.trace
            && let Some(contexts) = event.get_mut("contexts").and_then(Value::as_object_mut)
        {
            contexts.insert(
                "trace".into(),
                json!({ "type": "trace", "trace_id": trace_id.to_string(), "span_id": span_id.to_string() }),
            );
        }
        event
    }

    /// A usage event: one feature's count since the last one, for the usage DSN.
    pub(crate) fn usage_envelope(
        &self,
        name: &str,
        count: u64,
        session_secs: f64,
    ) -> Option<Envelope> {
        let dsn = self.usage_dsn.as_deref()?;
        let mut event = self.base("info", SystemTime::now());
        event.insert("message".into(), Value::from(format!("feature:{name}")));
        event.insert(
            "logger".into(),
            Value::from("openadapt_telemetry::features"),
        );
        event.insert("fingerprint".into(), json!(["openadapt-feature", name]));
        if let Some(tags) = event.get_mut("tags").and_then(Value::as_object_mut) {
            tags.insert("feature".into(), Value::from(name));
        }
        event.insert(
            "extra".into(),
            json!({
                "count": count,
                "session_duration_s": (session_secs * 1000.0).round() / 1000.0,
            }),
        );
        self.gate
            .envelope(Some(dsn), vec![(EVENT, Value::Object(event))])
    }

    /// A finished span tree as a transaction envelope.
    pub(crate) fn transaction_envelope(&self, t: TxnRecord) -> Option<Envelope> {
        let mut txn = self.base("info", t.root.end);
        txn.remove("level");
        txn.insert("type".into(), Value::from("transaction"));
        txn.insert("transaction".into(), Value::from(t.root.name));
        txn.insert("start_timestamp".into(), Value::from(secs(t.root.start)));
        let spans: Vec<Value> = t.spans.iter().map(|s| span(s, &t)).collect();
        txn.insert("spans".into(), Value::from(spans));
        let mut trace = span_fields(&t.root);
        trace.insert("type".into(), Value::from("trace"));
        trace.insert("trace_id".into(), Value::from(t.trace_id.to_string()));
        if let Some(contexts) = txn.get_mut("contexts").and_then(Value::as_object_mut) {
            contexts.insert("trace".into(), Value::Object(trace));
        }
        // Read here, on the worker, just after the root span ended: a few
        // syscalls that the caller's thread does not pay.
        if let Some(rss) = resident_memory() {
            txn.insert(
                "measurements".into(),
                json!({ "memory_rss": { "value": rss, "unit": "byte" } }),
            );
        }
        self.gate
            .envelope(self.dsn.as_deref(), vec![(TRANSACTION, Value::Object(txn))])
    }
}

/// What an error is called when its type is unknown: the function it was
/// logged in (the innermost span of `#[instrument(err)]`, else the innermost
/// frame of the program's own code), else its module.
fn origin_type(r: &ErrorRecord, frames: &[sentry::protocol::Frame]) -> String {
    if r.propagating
        && let Some(span) = r.spans.first()
    {
        return match span.module {
            Some(module) => format!("{module}::{}", span.name),
            None => span.name.to_owned(),
        };
    }
    let frame = frames
        .iter()
        .rev()
        .filter(|f| f.in_app == Some(true))
        .find_map(|f| f.function.as_deref());
    if let Some(function) = frame {
        let mut name = function;
        while let Some(outer) = name.strip_suffix("::{{closure}}") {
            name = outer;
        }
        return name.to_owned();
    }
    match r.origin {
        Origin::Event(meta) => meta.module_path().unwrap_or(meta.target()).to_owned(),
        Origin::Panic => "panic".to_owned(),
        Origin::Test => "openadapt_telemetry::test".to_owned(),
    }
}

fn crumb(c: View<'_>) -> Value {
    let data: Map<String, Value> = c
        .fields()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    json!({
        "timestamp": secs(c.timestamp()),
        "type": "default",
        "category": c.target(),
        "level": level(c.level()),
        "message": c.message(),
        "data": data,
    })
}

fn level(level: tracing_core::Level) -> &'static str {
    match level {
        tracing_core::Level::ERROR => "error",
        tracing_core::Level::WARN => "warning",
        tracing_core::Level::INFO => "info",
        _ => "debug",
    }
}

/// A span's `op`: what its fields say (`op`, `otel.kind`), else `function`
/// (the category of `#[instrument]` spans).
fn op(s: &SpanRecord) -> String {
    for key in ["op", "otel.kind"] {
        if let Some(v) = s.data.get(key).and_then(Value::as_str) {
            return limits::cut_chars(v, 64);
        }
    }
    "function".to_owned()
}

fn span_fields(s: &SpanRecord) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("span_id".into(), Value::from(s.span_id.to_string()));
    out.insert("op".into(), Value::from(op(s)));
    out.insert(
        "description".into(),
        Value::from(format!("{}::{}", s.target, s.name)),
    );
    out.insert(
        "status".into(),
        Value::from(if s.error { "internal_error" } else { "ok" }),
    );
    let data: Map<String, Value> = s
        .data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    out.insert("data".into(), Value::Object(data));
    out
}

fn span(s: &SpanRecord, t: &TxnRecord) -> Value {
    let mut out = span_fields(s);
    out.insert("trace_id".into(), Value::from(t.trace_id.to_string()));
    out.insert(
        "parent_span_id".into(),
        Value::from(s.parent_span_id.to_string()),
    );
    out.insert("start_timestamp".into(), Value::from(secs(s.start)));
    out.insert("timestamp".into(), Value::from(secs(s.end)));
    Value::Object(out)
}

/// Adds tags under one policy (the Python package's): keys of at most
/// [`TAG_KEY`] characters from `[A-Za-z0-9_.:-]`, sensitive keys dropped, at
/// most [`TAGS`] in all, values cut to [`TAG_VALUE`] characters. Tags already
/// in `tags` (the crate's own) win.
pub(crate) fn with_tags<'a>(
    mut tags: Map<String, Value>,
    extra: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Map<String, Value> {
    for (key, value) in extra {
        if tags.len() >= TAGS {
            break;
        }
        if !valid_tag_key(key) || crate::privacy::is_sensitive_key(key) || tags.contains_key(key) {
            continue;
        }
        tags.insert(
            key.to_owned(),
            Value::from(limits::cut_chars(value, TAG_VALUE)),
        );
    }
    tags
}

/// A tag key the policy accepts.
pub(crate) fn valid_tag_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().count() <= TAG_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// The process's resident memory in bytes, where the platform tells it cheaply.
pub(crate) fn resident_memory() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * 4096)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Formats a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let mut out = String::new();
    if let Some(s) = payload.downcast_ref::<&str>() {
        out.push_str(s);
    } else if let Some(s) = payload.downcast_ref::<String>() {
        out.push_str(s);
    } else {
        let _ = write!(out, "Box<dyn Any>");
    }
    limits::cut(&mut out, limits::MESSAGE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_policy() {
        let own: Map<String, Value> = [("package".to_owned(), Value::from("p"))]
            .into_iter()
            .collect();
        let long = "v".repeat(300);
        let tags = with_tags(
            own,
            [
                ("package", "mine"),
                ("team", "core"),
                ("api_key", "secret"),
                ("bad key", "x"),
                ("long", long.as_str()),
            ],
        );
        assert_eq!(tags["package"], "p", "the crate's own tags win");
        assert_eq!(tags["team"], "core");
        assert!(!tags.contains_key("api_key"), "sensitive keys are dropped");
        assert!(!tags.contains_key("bad key"));
        assert!(tags["long"].as_str().unwrap().chars().count() <= TAG_VALUE);
        let many = (0..100).map(|i| format!("k{i}")).collect::<Vec<_>>();
        let tags = with_tags(Map::new(), many.iter().map(|k| (k.as_str(), "v")));
        assert_eq!(tags.len(), TAGS);
    }
}
