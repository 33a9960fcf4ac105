//! The [`tracing_subscriber::Layer`] that turns tracing data into telemetry.
//!
//! What each callback costs is decided on `'static` metadata first; only what
//! will be sent allocates. An unsampled span tree costs a random draw and an
//! atomic load, an `info!` costs one breadcrumb, a `feature` field costs a
//! counter increment, and an `error!` costs its formatting and a queue push:
//! building, scrubbing and sending the Sentry event happen on the worker thread.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use sentry::protocol::{SpanId, TraceId};
use serde_json::Value;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, LevelFilter, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::pipeline::{
    CRUMB_FIELDS, Crumb, ErrorRecord, Link, MAX_SPANS, Origin, Shared, SpanRecord, TxnRecord,
};

/// The telemetry instance the free [`layer()`] function reports to.
pub(crate) static GLOBAL: OnceLock<Arc<Shared>> = OnceLock::new();

thread_local! {
    /// Set on the worker thread: nothing it (or its HTTP stack) emits is captured.
    pub(crate) static IN_WORKER: Cell<bool> = const { Cell::new(false) };
    static RNG: Cell<u64> = Cell::new(seed());
}

/// Targets never captured: the SDK's own and the HTTP stack's.
const IGNORED_TARGETS: &[&str] = &[
    "openadapt_telemetry",
    "sentry",
    "sentry_core",
    "sentry_types",
    "sentry_tracing",
    "sentry_contexts",
    "ureq",
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
/// [`layer()`] function. When telemetry is disabled it does nothing and costs
/// nothing measurable.
#[derive(Clone)]
pub struct TelemetryLayer {
    handle: Handle,
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
            .finish()
    }
}

/// A layer that reports to the telemetry instance initialised by
/// [`TelemetryBuilder::init`](crate::TelemetryBuilder::init), wherever in the
/// program that happens.
///
/// Until an instance is initialised (or when it is disabled) the layer does nothing.
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
    }
}

impl TelemetryLayer {
    pub(crate) fn off() -> Self {
        TelemetryLayer {
            handle: Handle::Off,
        }
    }

    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        TelemetryLayer {
            handle: Handle::Instance(shared),
        }
    }

    #[inline]
    fn shared(&self) -> Option<&Shared> {
        let shared = match &self.handle {
            Handle::Off => return None,
            Handle::Instance(shared) => shared,
            Handle::Global => GLOBAL.get()?,
        };
        if shared.active.load(Ordering::Relaxed) {
            Some(shared)
        } else {
            None
        }
    }
}

/// Data kept on a sampled span, in the registry's extensions.
struct SampledSpan {
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

impl<S> tracing_subscriber::Layer<S> for TelemetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn max_level_hint(&self) -> Option<LevelFilter> {
        match self.handle {
            // Adds nothing to what the other layers enable.
            Handle::Off => Some(LevelFilter::OFF),
            // Errors, breadcrumbs (info, warn) and spans at INFO and above.
            _ => Some(LevelFilter::INFO),
        }
    }

    // Each callback is a small inlined check; the work is out of line, so a
    // disabled layer costs a branch, not a call.
    #[inline]
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(shared) = self.shared() {
            self.new_span_enabled(shared, attrs, id, ctx);
        }
    }

    #[inline]
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(shared) = self.shared() {
            self.record_enabled(shared, id, values, ctx);
        }
    }

    #[inline]
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(shared) = self.shared() {
            self.event_enabled(shared, event, ctx);
        }
    }

    #[inline]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(shared) = self.shared() {
            self.close_enabled(shared, id, ctx);
        }
    }
}

impl TelemetryLayer {
    #[inline(never)]
    fn new_span_enabled<S>(
        &self,
        shared: &Shared,
        attrs: &Attributes<'_>,
        id: &Id,
        ctx: Context<'_, S>,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if IN_WORKER.get() {
            return;
        }
        let meta = attrs.metadata();
        if shared.switches.feature_usage && has_feature(meta) {
            attrs.record(&mut FeatureVisitor(shared));
        }
        let switches = &shared.switches;
        if !switches.performance_tracking || switches.traces_sample_rate <= 0.0 {
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
        let (txn, parent_span_id) = match span.parent() {
            Some(parent) => {
                let ext = parent.extensions();
                match ext.get::<SampledSpan>() {
                    Some(p) => (p.txn.clone(), Some(p.span_id)),
                    None => return,
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
        span.extensions_mut().insert(SampledSpan {
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
    fn record_enabled<S>(&self, shared: &Shared, id: &Id, values: &Record<'_>, ctx: Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if shared.switches.feature_usage {
            let field = ctx.metadata(id).and_then(|m| m.fields().field("feature"));
            if field.is_some_and(|f| values.contains(&f)) {
                values.record(&mut FeatureVisitor(shared));
            }
        }
        if shared.live_sampled.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(span) = ctx.span(id)
            && let Some(sampled) = span.extensions_mut().get_mut::<SampledSpan>()
        {
            values.record(&mut DataVisitor(&mut sampled.data));
        }
    }

    #[inline(never)]
    fn event_enabled<S>(&self, shared: &Shared, event: &Event<'_>, ctx: Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        let level = *meta.level();
        let switches = &shared.switches;
        let counts_feature = switches.feature_usage && has_feature(meta);
        let tracked = level <= Level::INFO && switches.error_tracking;
        if !counts_feature && !tracked {
            return;
        }
        if IN_WORKER.get() || is_ignored(meta.target()) {
            return;
        }
        if counts_feature {
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
            add_crumb(shared, event, level);
        }
    }

    #[inline(never)]
    fn close_enabled<S>(&self, shared: &Shared, id: Id, ctx: Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if shared.live_sampled.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(sampled) = span.extensions_mut().remove::<SampledSpan>() else {
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
                if let Ok(mut spans) = sampled.txn.spans.lock()
                    && spans.len() < MAX_SPANS
                {
                    spans.push(record);
                }
            }
            None => {
                let spans = sampled
                    .txn
                    .spans
                    .lock()
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
}

fn capture_error<S>(shared: &Shared, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    let mut visitor = ErrorVisitor::default();
    event.record(&mut visitor);
    let fingerprint = {
        let mut h = std::hash::DefaultHasher::new();
        (meta as *const Metadata<'static> as usize).hash(&mut h);
        visitor.message.hash(&mut h);
        visitor.chain.hash(&mut h);
        h.finish()
    };
    // The span context, and marking the span as failed.
    // The span is marked failed even for a repeat; the root's name is only
    // looked up (and copied) for an error that is queued.
    let span = ctx.event_span(event);
    let mut trace = None;
    if let Some(span) = &span
        && let Some(sampled) = span.extensions_mut().get_mut::<SampledSpan>()
    {
        sampled.error = true;
        trace = Some((sampled.txn.trace_id, sampled.span_id));
    }
    if shared.count_repeat_or_drop(fingerprint) {
        return;
    }
    let transaction = span.and_then(|s| s.scope().last().map(|root| root.name().to_owned()));
    let message = visitor
        .message
        .or_else(|| visitor.chain.is_empty().then(|| meta.name().to_owned()));
    shared.push_error(ErrorRecord {
        fingerprint,
        origin: Origin::Event(meta),
        message,
        chain: visitor.chain,
        fields: visitor.fields,
        tags: visitor.tags,
        crumbs: shared.crumbs(),
        backtrace: Some(std::backtrace::Backtrace::force_capture()),
        trace,
        transaction,
        timestamp: SystemTime::now(),
        count: 1,
    });
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

// ---------------------------------------------------------------------------
// Visitors

struct FeatureVisitor<'a>(&'a Shared);

impl Visit for FeatureVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "feature" {
            self.0.features.hit(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "feature" {
            let mut name = String::new();
            let _ = write!(name, "{value:?}");
            self.0.features.hit(name.trim_matches('"'));
        }
    }
}

/// A crumb's text longer than this is not kept for reuse.
const SPARE_CAPACITY: usize = 1024;

thread_local! {
    /// The crumb this thread last evicted, when nothing else held it: the next
    /// breadcrumb is written into it, so that a full ring costs no allocation.
    static SPARE: Cell<Option<Arc<Crumb>>> = const { Cell::new(None) };
}

/// Keeps an `info!`/`warn!` event as a breadcrumb.
fn add_crumb(shared: &Shared, event: &Event<'_>, level: Level) {
    // `try_with`: an event logged from another thread-local's destructor may
    // come after this one is gone (then: no reuse).
    let mut crumb = SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| Arc::new(Crumb::empty()));
    if Arc::get_mut(&mut crumb).is_none() {
        crumb = Arc::new(Crumb::empty());
    }
    let Some(slot) = Arc::get_mut(&mut crumb) else {
        return;
    };
    slot.reset(SystemTime::now(), level, event.metadata().target());
    event.record(&mut CrumbVisitor(slot));
    if let Some(mut evicted) = shared.add_crumb(crumb)
        && Arc::get_mut(&mut evicted).is_some_and(|c| c.text.capacity() <= SPARE_CAPACITY)
    {
        let _ = SPARE.try_with(|spare| spare.set(Some(evicted)));
    }
}

/// Writes a breadcrumb's message and field values into its one string.
struct CrumbVisitor<'a>(&'a mut Crumb);

impl CrumbVisitor<'_> {
    /// Appends one value with `write`, recording where it is.
    fn put(&mut self, field: &Field, write: impl FnOnce(&mut String)) {
        let crumb = &mut *self.0;
        let is_message = field.name() == "message";
        if !is_message && crumb.len >= CRUMB_FIELDS {
            return;
        }
        let start = crumb.text.len();
        write(&mut crumb.text);
        let end = crumb.text.len();
        if is_message {
            crumb.message = (start, end);
        } else if let Some(slot) = crumb.fields.get_mut(crumb.len) {
            *slot = (field.name(), start, end);
            crumb.len += 1;
        }
    }
}

impl Visit for CrumbVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |t| t.push_str(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |t| {
            let _ = write!(t, "{value}");
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |t| {
            let _ = write!(t, "{value}");
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |t| t.push_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |t| {
            let _ = write!(t, "{value:?}");
        });
    }
}

#[derive(Default)]
struct ErrorVisitor {
    message: Option<String>,
    chain: Vec<Link>,
    fields: Vec<(&'static str, String)>,
    tags: Vec<(&'static str, String)>,
}

impl Visit for ErrorVisitor {
    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        if self.chain.is_empty() && (field.name() == "error" || field.name() == "err") {
            let mut next: Option<&(dyn StdError + 'static)> = Some(value);
            while let Some(err) = next {
                self.chain.push(Link {
                    ty: type_from_debug(err),
                    value: err.to_string(),
                });
                if self.chain.len() >= 16 {
                    break;
                }
                next = err.source();
            }
        } else {
            self.fields.push((field.name(), value.to_string()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        match field.name() {
            "message" => self.message = Some(s),
            // `#[instrument(err)]` records the error with Display: no chain, but still an exception.
            "error" | "err" if self.chain.is_empty() => self.chain.push(Link {
                ty: "Error".to_owned(),
                value: s,
            }),
            name => match name.strip_prefix("tags.") {
                Some(tag) => self.tags.push((tag, s)),
                None => self.fields.push((name, s)),
            },
        }
    }
}

/// The error's type name, as far as its `Debug` output tells it (`ParseIntError { .. }` -> `ParseIntError`).
fn type_from_debug(err: &dyn StdError) -> String {
    let mut debug = String::new();
    let _ = write!(debug, "{err:?}");
    let end = debug
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    let name = &debug[..end];
    if name.is_empty() {
        "Error".to_owned()
    } else {
        name.to_owned()
    }
}

struct DataVisitor<'a>(&'a mut BTreeMap<&'static str, Value>);

impl Visit for DataVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        self.0.insert(field.name(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name(), Value::from(format!("{value:?}")));
    }
}

// ---------------------------------------------------------------------------
// Randomness: a per-thread xorshift, seeded from the std hasher's random keys.

fn seed() -> u64 {
    use std::hash::BuildHasher;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::thread::current().id().hash(&mut h);
    SystemTime::now().hash(&mut h);
    h.finish() | 1
}

pub(crate) fn random_u64() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

fn random_bytes16() -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&random_u64().to_le_bytes());
    out[8..].copy_from_slice(&random_u64().to_le_bytes());
    out
}

/// True with probability `rate`.
#[inline]
pub(crate) fn chance(rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    ((random_u64() >> 11) as f64 / (1u64 << 53) as f64) < rate
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

    #[test]
    fn chance_follows_the_rate() {
        assert!(chance(1.0));
        assert!(!chance(0.0));
        let hits = (0..100_000).filter(|_| chance(0.25)).count();
        assert!((20_000..30_000).contains(&hits), "{hits}");
    }

    #[test]
    fn type_names_come_from_debug() {
        let err = "x".parse::<u32>().expect_err("not a number");
        assert_eq!(type_from_debug(&err), "ParseIntError");
    }
}
