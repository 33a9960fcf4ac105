//! The hand-off between the caller's thread and the worker.
//!
//! The layer turns tracing data into small records and queues them here; one
//! worker thread turns records into Sentry events and transactions and sends
//! them through the privacy gate. The caller never waits on the network: a
//! queue push is a lock and a `Vec::push`, and a repeat of an error that is
//! still queued only increments its count.

use std::backtrace::Backtrace;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use sentry::protocol::{
    self, Breadcrumb, Context, Event, Exception, Frame, Level as SentryLevel, Map, SpanId,
    Stacktrace, TraceContext, TraceId, Values,
};
use serde_json::Value;
use tracing_core::{Level, Metadata};

use crate::features::Counters;
use crate::transport::{Delivery, Gate};

/// Most distinct errors waiting for the worker; more are dropped and counted.
const MAX_PENDING_ERRORS: usize = 256;
/// Most finished transactions waiting for the worker.
const MAX_PENDING_TRANSACTIONS: usize = 128;
/// Breadcrumbs kept and sent with the next error.
pub(crate) const MAX_BREADCRUMBS: usize = 100;
/// Child spans kept per transaction.
pub(crate) const MAX_SPANS: usize = 1000;

/// What the layer decides with, copied out of the config once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Switches {
    pub(crate) error_tracking: bool,
    pub(crate) performance_tracking: bool,
    pub(crate) feature_usage: bool,
    pub(crate) sample_rate: f64,
    pub(crate) traces_sample_rate: f64,
}

/// Fields kept per breadcrumb; further fields are left out.
pub(crate) const CRUMB_FIELDS: usize = 8;

/// A breadcrumb: an `info!`/`warn!` event kept to give the next error context.
///
/// The message and the field values share one string (`text`), so a crumb is
/// two allocations (the text and its `Arc`) whatever its number of fields.
#[derive(Debug)]
pub(crate) struct Crumb {
    pub(crate) timestamp: SystemTime,
    pub(crate) level: Level,
    pub(crate) target: &'static str,
    pub(crate) text: String,
    /// The message's range in `text`.
    pub(crate) message: (usize, usize),
    /// Each field's name and value range in `text`; the first `len` are used.
    pub(crate) fields: [(&'static str, usize, usize); CRUMB_FIELDS],
    pub(crate) len: usize,
}

impl Crumb {
    /// An empty crumb, with room for a typical message and fields.
    pub(crate) fn empty() -> Self {
        Crumb {
            timestamp: SystemTime::UNIX_EPOCH,
            level: Level::INFO,
            target: "",
            text: String::with_capacity(96),
            message: (0, 0),
            fields: [("", 0, 0); CRUMB_FIELDS],
            len: 0,
        }
    }

    /// Empties this crumb for another event, keeping its allocation.
    pub(crate) fn reset(&mut self, timestamp: SystemTime, level: Level, target: &'static str) {
        self.timestamp = timestamp;
        self.level = level;
        self.target = target;
        self.text.clear();
        self.message = (0, 0);
        self.len = 0;
    }

    pub(crate) fn message(&self) -> &str {
        self.text.get(self.message.0..self.message.1).unwrap_or("")
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.fields[..self.len.min(CRUMB_FIELDS)]
            .iter()
            .map(|(name, a, b)| (*name, self.text.get(*a..*b).unwrap_or("")))
    }
}

/// One link of an error's `source()` chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Link {
    pub(crate) ty: String,
    pub(crate) value: String,
}

/// Where an error came from.
#[derive(Debug)]
pub(crate) enum Origin {
    /// A tracing event.
    Event(&'static Metadata<'static>),
    /// A panic, with its location (`file:line`).
    Panic(Option<String>),
    /// The test event of [`Telemetry::send_test_event`](crate::Telemetry::send_test_event).
    Test,
}

/// An error event waiting to be sent.
#[derive(Debug)]
pub(crate) struct ErrorRecord {
    pub(crate) fingerprint: u64,
    pub(crate) origin: Origin,
    pub(crate) message: Option<String>,
    pub(crate) chain: Vec<Link>,
    pub(crate) fields: Vec<(&'static str, String)>,
    /// `tags.NAME = value` fields: tags of this event (the crate's own tags win).
    pub(crate) tags: Vec<(&'static str, String)>,
    pub(crate) crumbs: Vec<Arc<Crumb>>,
    pub(crate) backtrace: Option<Backtrace>,
    pub(crate) trace: Option<(TraceId, SpanId)>,
    pub(crate) transaction: Option<String>,
    pub(crate) timestamp: SystemTime,
    pub(crate) count: u64,
}

/// A finished child span.
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    pub(crate) name: &'static str,
    pub(crate) target: &'static str,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) data: BTreeMap<&'static str, Value>,
    pub(crate) error: bool,
}

/// A finished root span with its children.
#[derive(Debug)]
pub(crate) struct TxnRecord {
    pub(crate) root: SpanRecord,
    pub(crate) trace_id: TraceId,
    pub(crate) spans: Vec<SpanRecord>,
}

#[derive(Debug, Default)]
struct Queue {
    errors: Vec<ErrorRecord>,
    index: HashMap<u64, usize>,
    txns: Vec<TxnRecord>,
    dropped_errors: u64,
    dropped_txns: u64,
    flush_requested: u64,
    flush_done: u64,
    stop: bool,
    stopped: bool,
}

/// State shared by the layer (callers' threads), the guard and the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) switches: Switches,
    pub(crate) active: AtomicBool,
    pub(crate) crumbs: Mutex<VecDeque<Arc<Crumb>>>,
    pub(crate) features: Counters,
    /// Sampled spans alive right now: when zero, closing a span needs no lookup.
    pub(crate) live_sampled: AtomicUsize,
    queue: Mutex<Queue>,
    work: Condvar,
    done: Condvar,
    last_event_id: Mutex<Option<String>>,
    last_delivery: Mutex<Option<Delivery>>,
}

impl Shared {
    pub(crate) fn new(switches: Switches) -> Self {
        Shared {
            switches,
            active: AtomicBool::new(true),
            crumbs: Mutex::new(VecDeque::with_capacity(MAX_BREADCRUMBS)),
            features: Counters::default(),
            live_sampled: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            last_event_id: Mutex::new(None),
            last_delivery: Mutex::new(None),
        }
    }

    fn queue(&self) -> Option<MutexGuard<'_, Queue>> {
        self.queue.lock().ok()
    }

    /// Adds a breadcrumb, evicting the oldest past the limit; returns the evicted
    /// one (dropped by the caller, outside the lock, or reused).
    pub(crate) fn add_crumb(&self, crumb: Arc<Crumb>) -> Option<Arc<Crumb>> {
        let mut crumbs = self.crumbs.lock().ok()?;
        let evicted = if crumbs.len() >= MAX_BREADCRUMBS {
            crumbs.pop_front()
        } else {
            None
        };
        crumbs.push_back(crumb);
        evicted
    }

    /// The breadcrumbs held now, oldest first.
    pub(crate) fn crumbs(&self) -> Vec<Arc<Crumb>> {
        self.crumbs
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Counts a repeat of an error still waiting to be sent, or a drop when the
    /// queue is full. True when the error needs no record built: the caller
    /// then skips the backtrace and breadcrumbs.
    pub(crate) fn count_repeat_or_drop(&self, fingerprint: u64) -> bool {
        let Some(mut q) = self.queue() else {
            return true;
        };
        if let Some(i) = q.index.get(&fingerprint).copied() {
            q.errors[i].count = q.errors[i].count.saturating_add(1);
            return true;
        }
        if q.errors.len() >= MAX_PENDING_ERRORS {
            q.dropped_errors = q.dropped_errors.saturating_add(1);
            return true;
        }
        false
    }

    /// Queues an error (or counts it as a repeat of a queued one).
    pub(crate) fn push_error(&self, record: ErrorRecord) {
        let Some(mut q) = self.queue() else {
            return;
        };
        if let Some(i) = q.index.get(&record.fingerprint).copied() {
            q.errors[i].count = q.errors[i].count.saturating_add(record.count);
            return;
        }
        if q.errors.len() >= MAX_PENDING_ERRORS {
            q.dropped_errors = q.dropped_errors.saturating_add(record.count);
            return;
        }
        let i = q.errors.len();
        q.index.insert(record.fingerprint, i);
        q.errors.push(record);
        drop(q);
        self.work.notify_one();
    }

    /// Queues a finished transaction.
    pub(crate) fn push_transaction(&self, record: TxnRecord) {
        let Some(mut q) = self.queue() else {
            return;
        };
        if q.txns.len() >= MAX_PENDING_TRANSACTIONS {
            q.dropped_txns = q.dropped_txns.saturating_add(1);
            return;
        }
        q.txns.push(record);
        drop(q);
        self.work.notify_one();
    }

    /// Asks the worker to send everything queued so far; waits at most `timeout`.
    /// True when everything queued before the call was handed to the sink in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Some(mut q) = self.queue() else {
            return false;
        };
        if q.stopped {
            return true;
        }
        q.flush_requested += 1;
        let wanted = q.flush_requested;
        self.work.notify_one();
        self.wait_for(q, deadline, |q| q.flush_done >= wanted || q.stopped)
    }

    /// Waits on `done` until `ready` holds or `deadline` passes; true if it holds.
    fn wait_for(
        &self,
        q: MutexGuard<'_, Queue>,
        deadline: Instant,
        mut ready: impl FnMut(&Queue) -> bool,
    ) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.done.wait_timeout_while(q, left, |q| !ready(q)) {
            Ok((q, _)) => ready(&q),
            Err(_) => false,
        }
    }

    /// Tells the worker to send what is left and stop; waits at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.active.store(false, Ordering::Release);
        let deadline = Instant::now() + timeout;
        let Some(mut q) = self.queue() else {
            return false;
        };
        q.stop = true;
        self.work.notify_one();
        self.wait_for(q, deadline, |q| q.stopped)
    }

    /// What became of the last envelope the worker sent, taken.
    pub(crate) fn take_last_delivery(&self) -> Option<Delivery> {
        self.last_delivery.lock().ok().and_then(|mut d| d.take())
    }

    pub(crate) fn last_event_id(&self) -> Option<String> {
        self.last_event_id.lock().ok().and_then(|id| id.clone())
    }
}

/// Everything the worker needs to build and send.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: sentry::Client,
    pub(crate) gate: Arc<Gate>,
    pub(crate) tags: Map<String, String>,
    pub(crate) contexts: Map<String, Context>,
    pub(crate) release: String,
    pub(crate) environment: String,
    pub(crate) anonymous_id: Option<String>,
    pub(crate) started: Instant,
    pub(crate) feature_interval: Duration,
}

impl Worker {
    /// Runs until shutdown. Never panics out: a panic in one step drops that batch.
    pub(crate) fn run(self) {
        let mut next_features = Instant::now() + self.feature_interval;
        loop {
            let Some(mut q) = self.shared.queue() else {
                return;
            };
            while q.errors.is_empty()
                && q.txns.is_empty()
                && q.flush_requested == q.flush_done
                && !q.stop
            {
                let now = Instant::now();
                if now >= next_features {
                    break;
                }
                match self.shared.work.wait_timeout(q, next_features - now) {
                    Ok((guard, _)) => q = guard,
                    Err(_) => return,
                }
            }
            let errors = std::mem::take(&mut q.errors);
            q.index.clear();
            let txns = std::mem::take(&mut q.txns);
            let dropped = (
                std::mem::take(&mut q.dropped_errors),
                std::mem::take(&mut q.dropped_txns),
            );
            let flush_wanted = q.flush_requested;
            let stop = q.stop;
            drop(q);

            let flushing = flush_wanted > 0 || stop;
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.record_dropped(dropped);
                for record in errors {
                    self.send_error(record);
                }
                for txn in txns {
                    self.send_transaction(txn);
                }
            }));
            let features_due = Instant::now() >= next_features;
            if features_due || stop || (flushing && self.flush_pending(flush_wanted)) {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.send_features();
                }));
                next_features = Instant::now() + self.feature_interval;
            }

            let Some(mut q) = self.shared.queue() else {
                return;
            };
            q.flush_done = q.flush_done.max(flush_wanted);
            if stop {
                q.stopped = true;
            }
            drop(q);
            self.shared.done.notify_all();
            if stop {
                return;
            }
        }
    }

    fn flush_pending(&self, wanted: u64) -> bool {
        self.shared
            .queue()
            .map(|q| q.flush_done < wanted)
            .unwrap_or(false)
    }

    fn record_dropped(&self, (errors, txns): (u64, u64)) {
        let losses = self.gate.losses();
        losses.add(crate::transport::QUEUE_OVERFLOW, "error", errors);
        losses.add(crate::transport::QUEUE_OVERFLOW, "transaction", txns);
    }

    fn base_event(&self) -> Event<'static> {
        Event {
            tags: self.tags.clone(),
            contexts: self.contexts.clone(),
            user: self.anonymous_id.as_ref().map(|id| protocol::User {
                id: Some(id.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn send_error(&self, r: ErrorRecord) {
        let mut event = self.base_event();
        let panic = matches!(r.origin, Origin::Panic(_));
        event.level = if panic {
            SentryLevel::Fatal
        } else {
            SentryLevel::Error
        };
        event.timestamp = r.timestamp;
        if matches!(r.origin, Origin::Test) {
            event.level = SentryLevel::Info;
            event.logger = Some("openadapt_telemetry".into());
        }
        event.culprit = match &r.origin {
            Origin::Event(meta) => {
                event.logger = Some(meta.target().to_owned());
                meta.file().map(|file| match meta.line() {
                    Some(line) => format!("{file}:{line}"),
                    None => file.to_owned(),
                })
            }
            Origin::Panic(location) => location.clone(),
            Origin::Test => None,
        };
        event.message = r.message;
        event.transaction = r.transaction;
        let site = match &r.origin {
            Origin::Event(meta) => meta.file().zip(meta.line()).map(|(f, l)| (f.to_owned(), l)),
            Origin::Panic(location) => location.as_deref().and_then(|l| {
                let (file, line) = l.rsplit_once(':')?;
                Some((file.to_owned(), line.parse().ok()?))
            }),
            Origin::Test => None,
        };
        let frames = r
            .backtrace
            .as_ref()
            .map(|bt| parse_backtrace(bt, site.as_ref().map(|(f, l)| (f.as_str(), *l))))
            .unwrap_or_default();
        let stacktrace = (!frames.is_empty()).then(|| Stacktrace {
            frames,
            ..Default::default()
        });
        if !r.chain.is_empty() {
            // Sentry lists the innermost cause first and the error raised last.
            let mut values: Vec<Exception> = r
                .chain
                .into_iter()
                .rev()
                .map(|link| Exception {
                    ty: link.ty,
                    value: Some(link.value),
                    ..Default::default()
                })
                .collect();
            if let Some(last) = values.last_mut() {
                last.stacktrace = stacktrace;
                if panic {
                    last.mechanism = Some(protocol::Mechanism {
                        ty: "panic".into(),
                        handled: Some(false),
                        ..Default::default()
                    });
                }
            }
            event.exception = Values { values };
        } else if let Some(stacktrace) = stacktrace {
            event.threads = Values {
                values: vec![protocol::Thread {
                    stacktrace: Some(stacktrace),
                    current: true,
                    ..Default::default()
                }],
            };
        }
        for (name, value) in r.tags {
            event.tags.entry(name.to_owned()).or_insert(value);
        }
        for (name, value) in r.fields {
            event.extra.insert(name.to_owned(), Value::String(value));
        }
        if r.count > 1 {
            event
                .extra
                .insert("repeat_count".into(), Value::from(r.count));
        }
        event.breadcrumbs = Values {
            values: r.crumbs.iter().map(|c| crumb_to_sentry(c)).collect(),
        };
        if let Some((trace_id, span_id)) = r.trace {
            event.contexts.insert(
                "trace".into(),
                Context::Trace(Box::new(TraceContext {
                    trace_id,
                    span_id,
                    ..Default::default()
                })),
            );
        }
        self.capture(event, true);
    }

    /// Sends one event; `reportable` events (errors, messages, panics, test
    /// events: what a user may quote when reporting a problem) become
    /// [`last_event_id`](Shared::last_event_id), usage counts do not.
    fn capture(&self, event: Event<'static>, reportable: bool) {
        let id = self.client.capture_event(event, None);
        if let Some(delivery) = self.gate.take_last() {
            self.note(delivery);
        }
        if reportable
            && !id.is_nil()
            && let Ok(mut last) = self.shared.last_event_id.lock()
        {
            *last = Some(id.simple().to_string());
        }
    }

    fn send_transaction(&self, t: TxnRecord) {
        let root = &t.root;
        let spans: Vec<protocol::Span> = t
            .spans
            .iter()
            .map(|s| protocol::Span {
                span_id: s.span_id,
                trace_id: t.trace_id,
                parent_span_id: Some(s.parent_span_id),
                op: Some(s.name.to_owned()),
                description: Some(format!("{}::{}", s.target, s.name)),
                start_timestamp: s.start,
                timestamp: Some(s.end),
                status: Some(status(s.error)),
                data: s
                    .data
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                ..Default::default()
            })
            .collect();
        let mut contexts = self.contexts.clone();
        contexts.insert(
            "trace".into(),
            Context::Trace(Box::new(TraceContext {
                trace_id: t.trace_id,
                span_id: root.span_id,
                op: Some(root.name.to_owned()),
                description: Some(format!("{}::{}", root.target, root.name)),
                status: Some(status(root.error)),
                data: root
                    .data
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                ..Default::default()
            })),
        );
        let txn = protocol::Transaction {
            event_id: sentry::types::random_uuid(),
            name: Some(root.name.to_owned()),
            release: Some(self.release.clone().into()),
            environment: Some(self.environment.clone().into()),
            user: self.anonymous_id.as_ref().map(|id| protocol::User {
                id: Some(id.clone()),
                ..Default::default()
            }),
            tags: self.tags.clone(),
            sdk: None,
            platform: "native".into(),
            timestamp: Some(root.end),
            start_timestamp: root.start,
            spans,
            contexts,
            server_name: self.tags.get("package").cloned().map(Into::into),
            ..Default::default()
        };
        let event_id = txn.event_id.simple().to_string();
        let Ok(mut value) = serde_json::to_value(&txn) else {
            return;
        };
        if let Some(obj) = value.as_object_mut() {
            // Seconds, like every other timestamp sent (sentry writes this one as RFC 3339).
            if let Ok(end) = root.end.duration_since(std::time::UNIX_EPOCH) {
                obj.insert("timestamp".into(), Value::from(end.as_secs_f64()));
            }
        }
        // Read here, on the worker, just after the root span ended: a few syscalls
        // that the caller's thread does not pay.
        if let (Some(rss), Some(obj)) = (resident_memory(), value.as_object_mut()) {
            obj.insert(
                "measurements".into(),
                serde_json::json!({ "memory_rss": { "value": rss, "unit": "byte" } }),
            );
        }
        let outcome = self
            .gate
            .send_items(Some(event_id), vec![("transaction", value)]);
        self.note(outcome);
    }

    fn note(&self, outcome: Delivery) {
        if let Ok(mut last) = self.shared.last_delivery.lock() {
            *last = Some(outcome);
        }
    }

    fn send_features(&self) {
        if !self.shared.switches.feature_usage {
            return;
        }
        let duration = self.started.elapsed().as_secs_f64();
        for (name, count) in self.shared.features.take() {
            let mut event = self.base_event();
            event.level = SentryLevel::Info;
            event.message = Some(format!("feature:{name}"));
            event.logger = Some("openadapt_telemetry::features".into());
            event.fingerprint = vec!["openadapt-feature".into(), name.clone().into()].into();
            event.tags.insert("feature".into(), name);
            event.extra.insert("count".into(), Value::from(count));
            event.extra.insert(
                "session_duration_s".into(),
                Value::from((duration * 1000.0).round() / 1000.0),
            );
            self.capture(event, false);
        }
    }
}

fn status(error: bool) -> protocol::SpanStatus {
    if error {
        protocol::SpanStatus::InternalError
    } else {
        protocol::SpanStatus::Ok
    }
}

fn crumb_to_sentry(c: &Crumb) -> Breadcrumb {
    Breadcrumb {
        timestamp: c.timestamp,
        ty: "default".into(),
        category: Some(c.target.to_owned()),
        level: sentry_level(c.level),
        message: Some(c.message().to_owned()),
        data: c
            .fields()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    }
}

pub(crate) fn sentry_level(level: Level) -> SentryLevel {
    match level {
        Level::ERROR => SentryLevel::Error,
        Level::WARN => SentryLevel::Warning,
        Level::INFO => SentryLevel::Info,
        _ => SentryLevel::Debug,
    }
}

/// Function-name prefixes of frames that belong to the capture itself, not the program.
const CAPTURE_FRAMES: &[&str] = &[
    "std::backtrace",
    "openadapt_telemetry::",
    "<openadapt_telemetry",
    "tracing::",
    "<tracing",
    "tracing_core::",
    "tracing_subscriber::",
    "std::panicking",
    "core::panicking",
    "std::panic",
    "std::thread::local",
    "std::sys::backtrace",
    "core::ops::function",
    "<alloc::boxed::Box",
    "<core::",
    "<std::",
];
/// Frames below the program's entry point.
const RUNTIME_FRAMES: &[&str] = &[
    "std::rt::lang_start",
    "std::sys::backtrace::__rust_begin_short_backtrace",
    "__libc_start",
];
const NOT_IN_APP: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "tokio::",
    "futures",
    "<core::",
    "<std::",
    "<alloc::",
    "tracing",
    "<tracing",
    "test::",
    "<fn(",
    "<F as core::",
    "<F as std::",
];

/// Turns `std::backtrace::Backtrace`'s text into Sentry frames, oldest call
/// first, without the frames of the capture itself. `site` is the call site
/// (`file`, `line`) of the event or panic: frames above it are dropped.
pub(crate) fn parse_backtrace(bt: &Backtrace, site: Option<(&str, u32)>) -> Vec<Frame> {
    parse_backtrace_text(&bt.to_string(), site)
}

pub(crate) fn parse_backtrace_text(text: &str, site: Option<(&str, u32)>) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(location) = trimmed.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                let mut parts = location.rsplitn(3, ':');
                let col = parts.next().and_then(|c| c.parse::<u64>().ok());
                let line_no = parts.next().and_then(|l| l.parse::<u64>().ok());
                match (parts.next(), line_no, col) {
                    (Some(file), Some(l), Some(c)) => {
                        frame.abs_path = Some(file.to_owned());
                        frame.filename = Some(short_file(file).to_owned());
                        frame.lineno = Some(l);
                        frame.colno = Some(c);
                    }
                    _ => frame.abs_path = Some(location.to_owned()),
                }
            }
            continue;
        }
        let Some((index, function)) = trimmed.split_once(": ") else {
            continue;
        };
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let function = function.trim();
        frames.push(Frame {
            function: Some(function.to_owned()),
            in_app: Some(
                function.contains("::") && !NOT_IN_APP.iter().any(|p| function.starts_with(p)),
            ),
            ..Default::default()
        });
    }
    let named = |f: &Frame, prefixes: &[&str]| {
        f.function
            .as_deref()
            .is_some_and(|name| prefixes.iter().any(|p| name.starts_with(p)))
    };
    // Drop the frames above the call site: the capture, tracing's dispatch, std's.
    let at_site = site.and_then(|(file, line)| {
        frames.iter().position(|f| {
            f.lineno == Some(u64::from(line))
                && f.abs_path
                    .as_deref()
                    .is_some_and(|p| p.ends_with(file) || file.ends_with(p))
        })
    });
    match at_site {
        Some(i) => drop(frames.drain(..i)),
        None => {
            let leading = frames
                .iter()
                .take_while(|f| named(f, CAPTURE_FRAMES))
                .count();
            frames.drain(..leading);
        }
    }
    // Drop the runtime frames below `main`.
    if let Some(first_runtime) = frames.iter().position(|f| named(f, RUNTIME_FRAMES)) {
        frames.truncate(first_runtime);
    }
    frames.reverse();
    frames
}

/// The path relative to the crate (`src/lib.rs`) or registry package where it can be told.
fn short_file(path: &str) -> &str {
    for marker in [
        "/src/",
        "\\src\\",
        "/tests/",
        "\\tests\\",
        "/examples/",
        "\\examples\\",
        "/benches/",
        "\\benches\\",
    ] {
        if let Some(i) = path.rfind(marker) {
            // keep the package directory: ".../sentry-core-0.49.5/src/hub.rs" -> "sentry-core-0.49.5/src/hub.rs"
            let before = &path[..i];
            let start = before.rfind(['/', '\\']).map(|j| j + 1).unwrap_or(0);
            return &path[start..];
        }
    }
    path.rsplit(['/', '\\']).next().unwrap_or(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:13
   1: openadapt_telemetry::layer::capture
             at /home/alice/openadapt-telemetry/src/layer.rs:40:9
   2: tracing_core::event::Event::dispatch
             at /home/alice/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tracing-core-0.1.36/src/event.rs:34:9
   3: myapp::record::start
             at ./src/record.rs:12:5
   4: myapp::main
             at ./src/main.rs:3:5
   5: core::ops::function::FnOnce::call_once
             at /rustc/abc/library/core/src/ops/function.rs:250:5
   6: std::rt::lang_start::{{closure}}
             at /rustc/abc/library/std/src/rt.rs:159:18
   7: main
   8: __libc_start_main
";

    #[test]
    fn parses_and_trims_a_std_backtrace() {
        let frames = parse_backtrace_text(TEXT, None);
        let names: Vec<_> = frames
            .iter()
            .map(|f| f.function.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            [
                "core::ops::function::FnOnce::call_once",
                "myapp::main",
                "myapp::record::start"
            ]
        );
        let last = frames.last().expect("a frame");
        assert_eq!(last.lineno, Some(12));
        assert_eq!(last.colno, Some(5));
        assert_eq!(last.filename.as_deref(), Some("./src/record.rs"));
        assert_eq!(last.in_app, Some(true));
        assert_eq!(frames[0].in_app, Some(false));
    }

    #[test]
    fn library_trait_impls_are_not_in_app() {
        let text = "\
   0: myapp::run
             at ./src/main.rs:9:5
   1: <fn() as core::ops::function::FnOnce<()>>::call_once
             at /rustc/abc/library/core/src/ops/function.rs:250:5
   2: <F as core::future::into_future::IntoFuture>::into_future
             at /rustc/abc/library/core/src/future/into_future.rs:140:9
   3: <myapp::Encoder as core::future::Future>::poll
             at ./src/encode.rs:30:9
";
        let in_app: Vec<_> = parse_backtrace_text(text, None)
            .iter()
            .map(|f| (f.function.clone().unwrap_or_default(), f.in_app))
            .collect();
        // Oldest first: the app's own impl of a std trait is the app's code.
        assert_eq!(
            in_app,
            [
                (
                    "<myapp::Encoder as core::future::Future>::poll".to_owned(),
                    Some(true)
                ),
                (
                    "<F as core::future::into_future::IntoFuture>::into_future".to_owned(),
                    Some(false)
                ),
                (
                    "<fn() as core::ops::function::FnOnce<()>>::call_once".to_owned(),
                    Some(false)
                ),
                ("myapp::run".to_owned(), Some(true)),
            ]
        );
    }

    #[test]
    fn the_call_site_is_the_newest_frame() {
        let frames = parse_backtrace_text(TEXT, Some(("src/main.rs", 3)));
        let newest = frames.last().expect("a frame");
        assert_eq!(newest.function.as_deref(), Some("myapp::main"));
        // Without a matching site, the leading capture frames are dropped.
        let frames = parse_backtrace_text(TEXT, Some(("src/other.rs", 1)));
        assert_eq!(
            frames.last().and_then(|f| f.function.as_deref()),
            Some("myapp::record::start")
        );
    }

    #[test]
    fn short_file_keeps_the_package() {
        assert_eq!(
            short_file("/home/a/.cargo/registry/src/x/sentry-core-0.49.5/src/hub.rs"),
            "sentry-core-0.49.5/src/hub.rs"
        );
        assert_eq!(short_file("/home/a/proj/src/main.rs"), "proj/src/main.rs");
        assert_eq!(short_file("lib.rs"), "lib.rs");
        assert_eq!(short_file("/w/proj/tests/tags.rs"), "proj/tests/tags.rs");
    }
}
