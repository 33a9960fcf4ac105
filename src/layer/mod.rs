//! The [`tracing_subscriber::Layer`] that turns tracing data into records.
//!
//! A good neighbour: it never narrows what the program's other layers see (no
//! level hint, no `enabled` filter: it filters only itself, from its level
//! floor), any number of its layers and instances coexist without a panic or
//! a double report, and no callback ever waits on a lock another thread (or
//! an interrupted one) may hold.
//!
//! What each callback costs is decided on `'static` metadata first; only what
//! will be sent allocates. An unsampled span tree costs a random draw and an
//! atomic load, an `info!` costs one breadcrumb, a `feature` field costs a
//! counter increment, and an `error!` costs its formatting and a queue push:
//! building, scrubbing and sending happen on the worker thread.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sentry::protocol::{SpanId, TraceId};
use serde_json::Value;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::crumbs::{self, Home, TraceCrumbs};
use crate::queue::{
    Admit, ErrorRecord, MAX_SPANS, Origin, Shared, SpanRecord, SpanStep, TxnRecord,
};
use crate::random::{chance, random_bytes16, random_u64};
use crate::runtime::IN_WORKER;

mod visit;

use visit::{DataVisitor, ErrorVisitor, FeatureVisitor};

/// Spans recorded in an error's path, innermost first.
const MAX_PATH: usize = 32;

/// Targets never captured: the SDK's own and the HTTP stack's.
const IGNORED_TARGETS: &[&str] = &[
    "openadapt_telemetry",
    "sentry",
    "sentry_core",
    "sentry_types",
    "sentry_tracing",
    "sentry_contexts",
    "ureq",
    "ureq_proto",
    "rustls",
    "hyper",
    "reqwest",
    "h2",
    "tokio_util",
    "want",
    "mio",
];

/// A [`Layer`](tracing_subscriber::Layer) that reports errors, sampled spans and
/// feature usage to the telemetry pipeline.
///
/// Get one from [`Telemetry::layer`](crate::Telemetry::layer) or the free
/// [`layer()`] function. When telemetry is off it does nothing and costs
/// nothing measurable. It filters only itself (see
/// [`TelemetryBuilder::level`](crate::TelemetryBuilder::level)), never what the
/// other layers of the subscriber see; narrow it further with
/// `.with_filter(...)`. A second telemetry layer in one subscriber is inert
/// and says so once on stderr: every error is reported once.
#[must_use = "a layer does nothing until it is added to a subscriber with `.with(...)`"]
#[derive(Clone)]
pub struct TelemetryLayer {
    handle: Handle,
    /// Another telemetry layer is below this one in the same subscriber.
    inert: bool,
}

#[derive(Clone)]
enum Handle {
    Off,
    Instance(Arc<Shared>),
    Global,
}

impl fmt::Debug for TelemetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.handle {
            Handle::Off => "off",
            Handle::Instance(_) => "instance",
            Handle::Global => "global",
        };
        f.debug_struct("TelemetryLayer")
            .field("reports_to", &state)
            .field("inert", &self.inert)
            .finish()
    }
}

/// A layer that reports to the telemetry instance that is live when each event
/// happens: the latest initialised with
/// [`TelemetryBuilder::global`](crate::TelemetryBuilder::global) (the default)
/// and not yet dropped, wherever in the program that happens.
///
/// While no instance is live (before `init`, after the guard is dropped, or
/// when telemetry is off) the layer does nothing.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(openadapt_telemetry::layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("nothing is sent: no telemetry was initialised");
/// });
/// ```
pub fn layer() -> TelemetryLayer {
    TelemetryLayer {
        handle: Handle::Global,
        inert: false,
    }
}

impl TelemetryLayer {
    pub(crate) fn off() -> Self {
        TelemetryLayer {
            handle: Handle::Off,
            inert: false,
        }
    }

    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        TelemetryLayer {
            handle: Handle::Instance(shared),
            inert: false,
        }
    }

    /// Runs `f` with the instance this layer reports to, when it is active.
    /// The check for a layer that is off is all that is inlined into the
    /// program's logging call.
    #[inline(always)]
    fn with(&self, f: impl FnOnce(&Shared)) {
        if self.inert || matches!(self.handle, Handle::Off) {
            return;
        }
        self.with_live(f);
    }

    #[inline(never)]
    fn with_live(&self, f: impl FnOnce(&Shared)) {
        match &self.handle {
            Handle::Off => {}
            Handle::Instance(shared) => {
                if shared.active.load(Ordering::Relaxed) {
                    f(shared);
                }
            }
            Handle::Global => {
                let current = crate::runtime::current();
                if let Some(shared) = current.as_ref()
                    && shared.active.load(Ordering::Relaxed)
                {
                    f(shared);
                }
            }
        }
    }
}

/// Data kept on a sampled span, in the registry's extensions.
struct SampledSpan {
    /// The instance that sampled it: another instance's layer leaves it alone.
    owner: usize,
    txn: Arc<TxnShared>,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    start: SystemTime,
    data: BTreeMap<&'static str, Value>,
    error: bool,
}

/// What the spans of one sampled tree share.
struct TxnShared {
    trace_id: TraceId,
    spans: Mutex<Vec<SpanRecord>>,
}

fn owner(shared: &Shared) -> usize {
    shared as *const Shared as usize
}

impl<S> tracing_subscriber::Layer<S> for TelemetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, subscriber: &mut S) {
        // SAFETY: the pointer is only compared with `None`, never dereferenced.
        let below = unsafe { subscriber.downcast_raw(TypeId::of::<TelemetryLayer>()) }.is_some();
        if below && !matches!(self.handle, Handle::Off) {
            self.inert = true;
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "openadapt-telemetry: a second telemetry layer in one subscriber is ignored; \
                     add one layer per subscriber"
                );
            }
        }
    }

    // Each callback is a small inlined check; the work is out of line, so a
    // disabled layer costs a branch, not a call.
    #[inline(always)]
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.with(|shared| new_span_enabled(shared, attrs, id, ctx));
    }

    #[inline(always)]
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.with(|shared| record_enabled(shared, id, values, ctx));
    }

    #[inline(always)]
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.with(|shared| event_enabled(shared, event, ctx));
    }

    #[inline(always)]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.with(|shared| close_enabled(shared, id, ctx));
    }
}

#[inline(never)]
fn new_span_enabled<S>(shared: &Shared, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if IN_WORKER.get() {
        return;
    }
    let meta = attrs.metadata();
    if shared.switches.feature_usage && has_feature(meta) {
        shared.check_fork();
        attrs.record(&mut FeatureVisitor(shared));
    }
    let switches = &shared.switches;
    if !switches.performance_tracking
        || switches.traces_sample_rate <= 0.0
        || *meta.level() > switches.level
    {
        return;
    }
    // With no sampled tree alive, a span is sampled only if it is a root and
    // wins the draw: draw first, so a losing span (root or not) costs no lookup.
    let no_live_tree = shared.live_sampled.load(Ordering::Relaxed) == 0;
    if no_live_tree && !chance(switches.traces_sample_rate) {
        return;
    }
    if is_ignored(meta.target()) {
        return;
    }
    let Some(span) = ctx.span(id) else {
        return;
    };
    let me = owner(shared);
    let (txn, parent_span_id) = match span.parent() {
        Some(parent) => {
            let ext = parent.extensions();
            match ext.get::<SampledSpan>() {
                Some(p) if p.owner == me => (p.txn.clone(), Some(p.span_id)),
                _ => return,
            }
        }
        None => {
            // A root: when a tree is alive we have not drawn yet.
            if !no_live_tree && !chance(switches.traces_sample_rate) {
                return;
            }
            let txn = Arc::new(TxnShared {
                trace_id: TraceId::from(random_bytes16()),
                spans: Mutex::new(Vec::new()),
            });
            (txn, None)
        }
    };
    let mut data = BTreeMap::new();
    attrs.record(&mut DataVisitor(&mut data));
    if let Some(file) = meta.file() {
        data.insert("code.filepath", Value::String(file.to_owned()));
    }
    if let Some(module) = meta.module_path() {
        data.insert("code.namespace", Value::String(module.to_owned()));
    }
    if let Some(line) = meta.line() {
        data.insert("code.lineno", Value::from(line));
    }
    let mut ext = span.extensions_mut();
    // Another telemetry layer (hidden from `on_layer`, e.g. behind a
    // `reload`) may have sampled it: the first one keeps it.
    if ext.get_mut::<SampledSpan>().is_some() {
        return;
    }
    ext.insert(SampledSpan {
        owner: me,
        txn,
        span_id: SpanId::from(random_u64().to_le_bytes()),
        parent_span_id,
        start: SystemTime::now(),
        data,
        error: false,
    });
    shared.live_sampled.fetch_add(1, Ordering::Relaxed);
}

#[inline(never)]
fn record_enabled<S>(shared: &Shared, id: &Id, values: &Record<'_>, ctx: Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if shared.switches.feature_usage {
        let field = ctx.metadata(id).and_then(|m| m.fields().field("feature"));
        if field.is_some_and(|f| values.contains(&f)) {
            shared.check_fork();
            values.record(&mut FeatureVisitor(shared));
        }
    }
    if shared.live_sampled.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Some(span) = ctx.span(id)
        && let Some(sampled) = span.extensions_mut().get_mut::<SampledSpan>()
        && sampled.owner == owner(shared)
    {
        values.record(&mut DataVisitor(&mut sampled.data));
    }
}

#[inline(never)]
fn event_enabled<S>(shared: &Shared, event: &Event<'_>, ctx: Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    let level = *meta.level();
    let switches = &shared.switches;
    let counts_feature = switches.feature_usage && has_feature(meta);
    let tracked = level <= switches.level && switches.error_tracking;
    if !counts_feature && !tracked {
        return;
    }
    if IN_WORKER.get() || is_ignored(meta.target()) {
        return;
    }
    if counts_feature {
        shared.check_fork();
        event.record(&mut FeatureVisitor(shared));
    }
    // A feature event is a count: it is not also kept as a breadcrumb, so
    // counting stays an increment (errors with a feature are still errors).
    if !tracked || (counts_feature && level != Level::ERROR) {
        return;
    }
    if level == Level::ERROR {
        if switches.sample_rate < 1.0 && !chance(switches.sample_rate) {
            return;
        }
        capture_error(shared, event, &ctx);
    } else {
        let crumb = crumbs::build(level, meta.target(), |v| event.record(v));
        let Some(span) = ctx.event_span(event) else {
            crumbs::keep(Home::Thread, crumb);
            return;
        };
        // After a span's first crumb, its ring is on the span: kept under the
        // extensions' read lock, with no reference count touched (threads of
        // one trace share that count).
        if let Some(trace) = span.extensions().get::<Arc<TraceCrumbs>>() {
            crumbs::keep(Home::Trace(trace), crumb);
            return;
        }
        match trace_crumbs(&span) {
            Some(trace) => crumbs::keep(Home::Trace(&trace), crumb),
            None => crumbs::keep(Home::Thread, crumb),
        }
    }
}

/// The breadcrumb ring of the trace `span` belongs to, for a span that has
/// none yet: its root's, made there if needed, and remembered on the span.
fn trace_crumbs<S>(span: &SpanRef<'_, S>) -> Option<Arc<TraceCrumbs>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let root = span.scope().from_root().next()?;
    let trace = {
        let found = root.extensions().get::<Arc<TraceCrumbs>>().cloned();
        match found {
            Some(trace) => trace,
            None => {
                let mut ext = root.extensions_mut();
                match ext.get_mut::<Arc<TraceCrumbs>>() {
                    Some(trace) => trace.clone(),
                    None => {
                        let trace = Arc::new(TraceCrumbs::default());
                        ext.insert(trace.clone());
                        trace
                    }
                }
            }
        }
    };
    if root.id() != span.id() {
        let mut ext = span.extensions_mut();
        if ext.get_mut::<Arc<TraceCrumbs>>().is_none() {
            ext.insert(trace.clone());
        }
    }
    Some(trace)
}

/// The breadcrumbs an error inside `span` carries: its trace's, without
/// making a ring when there is none.
fn trace_snapshot<S>(span: &SpanRef<'_, S>) -> crumbs::Trail
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(found) = span.extensions().get::<Arc<TraceCrumbs>>() {
        return crumbs::snapshot(Home::Trace(found));
    }
    span.scope()
        .from_root()
        .next()
        .and_then(|root| root.extensions().get::<Arc<TraceCrumbs>>().cloned())
        .map(|trace| crumbs::snapshot(Home::Trace(&trace)))
        .unwrap_or_default()
}

#[inline(never)]
fn close_enabled<S>(shared: &Shared, id: Id, ctx: Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if shared.live_sampled.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(span) = ctx.span(&id) else {
        return;
    };
    let sampled = {
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SampledSpan>() {
            Some(s) if s.owner == owner(shared) => ext.remove::<SampledSpan>(),
            _ => None,
        }
    };
    let Some(sampled) = sampled else {
        return;
    };
    shared.live_sampled.fetch_sub(1, Ordering::Relaxed);
    let meta = span.metadata();
    let record = SpanRecord {
        span_id: sampled.span_id,
        parent_span_id: sampled.parent_span_id.unwrap_or_default(),
        name: meta.name(),
        target: meta.target(),
        start: sampled.start,
        end: SystemTime::now(),
        data: sampled.data,
        error: sampled.error,
    };
    match sampled.parent_span_id {
        Some(_) => {
            // Children of one transaction close on many threads at once: a
            // single `try_lock` lost one now and then (4 tokio workers).
            if let Some(mut spans) = crate::queue::lock_briefly(&sampled.txn.spans)
                && spans.len() < MAX_SPANS
            {
                spans.push(record);
            }
        }
        None => {
            let spans = crate::queue::lock_briefly(&sampled.txn.spans)
                .map(|mut s| std::mem::take(&mut *s))
                .unwrap_or_default();
            shared.push_transaction(TxnRecord {
                root: record,
                trace_id: sampled.txn.trace_id,
                spans,
            });
        }
    }
}

fn capture_error<S>(shared: &Shared, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    let mut visitor = ErrorVisitor::default();
    event.record(&mut visitor);
    // Only what is equal in call site, message, field values and chain is a repeat.
    let fingerprint = {
        let mut h = std::hash::DefaultHasher::new();
        (meta as *const Metadata<'static> as usize).hash(&mut h);
        visitor.message.hash(&mut h);
        visitor.chain.hash(&mut h);
        visitor.fields.hash(&mut h);
        visitor.tags.hash(&mut h);
        h.finish()
    };
    // The span context, and marking the span as failed (even for a repeat).
    let span = ctx.event_span(event);
    let mut trace = None;
    if let Some(span) = &span
        && let Some(sampled) = span.extensions_mut().get_mut::<SampledSpan>()
        && sampled.owner == owner(shared)
    {
        sampled.error = true;
        trace = Some((sampled.txn.trace_id, sampled.span_id));
    }
    shared.check_fork();
    if shared.admit_error(meta as *const Metadata<'static> as usize, fingerprint) == Admit::Done {
        return;
    }
    let mut spans = Vec::new();
    if let Some(span) = &span {
        for s in span.scope().take(MAX_PATH) {
            let m = s.metadata();
            spans.push(SpanStep {
                id: s.id().into_u64(),
                name: m.name(),
                module: m.module_path(),
            });
        }
    }
    let crumbs = match &span {
        Some(span) => trace_snapshot(span),
        None => crumbs::snapshot(Home::Thread),
    };
    let propagating = span.is_some()
        && visitor.message.is_none()
        && visitor.fields.is_empty()
        && visitor.tags.is_empty()
        && visitor.error_field;
    shared.push_error(ErrorRecord {
        fingerprint,
        origin: Origin::Event(meta),
        message: visitor.message,
        chain: visitor.chain,
        typed: visitor.typed,
        debug_text: visitor.debug_text,
        propagating,
        fields: visitor.fields,
        tags: visitor.tags,
        crumbs,
        backtrace: capture_stack(shared),
        location: None,
        trace,
        spans,
        thread: std::thread::current().id(),
        timestamp: SystemTime::now(),
        count: 1,
    });
}

/// The stack of the calling thread; none in a forked child, where std's
/// backtrace lock may be held forever by a parent thread that is not there.
pub(crate) fn capture_stack(shared: &Shared) -> Option<std::backtrace::Backtrace> {
    (!shared.orphan.load(Ordering::Relaxed)).then(std::backtrace::Backtrace::force_capture)
}

#[inline]
fn has_feature(meta: &Metadata<'_>) -> bool {
    meta.fields().field("feature").is_some()
}

fn is_ignored(target: &str) -> bool {
    IGNORED_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_targets_match_whole_segments() {
        assert!(is_ignored("sentry"));
        assert!(is_ignored("sentry_core::hub"));
        assert!(is_ignored("ureq::unversioned::transport"));
        assert!(is_ignored("rustls::client"));
        assert!(!is_ignored("sentryish"));
        assert!(!is_ignored("myapp::ureq"));
    }
}
