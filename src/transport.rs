//! The privacy gate and the sinks behind it.
//!
//! Every envelope that leaves the process passes through [`Gate`]: the sentry
//! client hands it envelopes through the [`sentry::Transport`] trait
//! ([`GateTransport`]), the pipeline hands it transactions directly. The gate
//! turns each item into JSON, scrubs it with the privacy rules, drops item
//! types it does not know, and gives what is left to one [`Sink`]: HTTP to the
//! server, the preview printer, or (in tests) a capture buffer.
//!
//! Sinks run on the pipeline's worker thread, never on the caller's.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentry::protocol::{Envelope, EnvelopeItem};
use sentry::transports::{RateLimiter, RateLimitingCategory};
use sentry::types::Dsn;
use serde_json::Value;

use crate::privacy::{Redactions, Scrubber};

/// Envelope item types the gate forwards. Anything else is dropped.
const EVENT: &str = "event";
const TRANSACTION: &str = "transaction";
const CLIENT_REPORT: &str = "client_report";

/// One scrubbed envelope item, ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The envelope item type (`event`, `transaction`, `client_report`).
    pub(crate) kind: &'static str,
    /// The scrubbed payload.
    pub(crate) payload: Value,
    /// What the gate redacted in this item (counts only).
    pub(crate) redactions: Redactions,
}

/// A scrubbed envelope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outgoing {
    pub(crate) event_id: Option<String>,
    pub(crate) items: Vec<Item>,
}

impl Outgoing {
    /// Serialises the envelope in the Sentry envelope format.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        match &self.event_id {
            Some(id) => {
                let header = serde_json::json!({ "event_id": id });
                out.extend_from_slice(header.to_string().as_bytes());
            }
            None => out.extend_from_slice(b"{}"),
        }
        out.push(b'\n');
        for item in &self.items {
            let payload = item.payload.to_string();
            let header = serde_json::json!({ "type": item.kind, "length": payload.len() });
            out.extend_from_slice(header.to_string().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(payload.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// What became of telemetry handed over for sending: the answer of
/// [`Telemetry::send_test_event`](crate::Telemetry::send_test_event).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server took it (or, in preview mode, it was printed).
    Accepted,
    /// Not sent: the server rate-limits this client (it answered 429, or an
    /// earlier answer set a limit that is still in force).
    RateLimited,
    /// Not sent: the crate is backing off after earlier failures.
    BackingOff,
    /// The server refused it with this HTTP status.
    Refused(u16),
    /// Not delivered: the server answered with a redirect (this HTTP status);
    /// redirects are never followed, so the DSN's key goes to its host only.
    Redirected(u16),
    /// The server could not be reached: connection refused, timeout, reset, DNS.
    Unreachable(String),
    /// Nothing was sent: telemetry is off, or nothing was left after filtering.
    NotSent,
}

/// Where scrubbed envelopes go.
pub(crate) trait Sink: Send + Sync + 'static {
    /// Sends `envelope`; whatever it does not deliver it counts in `losses`.
    fn send(&self, envelope: Outgoing, losses: &Losses) -> Delivery;
}

/// Why an item was lost, as client reports name it.
pub(crate) const QUEUE_OVERFLOW: &str = "queue_overflow";
const NETWORK_ERROR: &str = "network_error";
const SEND_ERROR: &str = "send_error";
const RATELIMIT_BACKOFF: &str = "ratelimit_backoff";

/// Items lost and not yet reported, by (reason, category). They leave as one
/// `client_report` item attached to the next envelope that is sent; if that
/// envelope is lost too, they are counted again, never dropped.
#[derive(Debug, Default)]
pub(crate) struct Losses {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl Losses {
    /// Counts `quantity` items of `category` lost for `reason`.
    pub(crate) fn add(&self, reason: &str, category: &str, quantity: u64) {
        if quantity == 0 {
            return;
        }
        if let Ok(mut counts) = self.counts.lock() {
            let n = counts
                .entry((reason.to_owned(), category.to_owned()))
                .or_default();
            *n = n.saturating_add(quantity);
        }
    }

    /// Counts a lost item: an event or transaction as one loss of its
    /// category, a client report by putting its counts back.
    fn lose(&self, item: &Item, reason: &str) {
        match item.kind {
            EVENT => self.add(reason, "error", 1),
            TRANSACTION => self.add(reason, "transaction", 1),
            CLIENT_REPORT => self.absorb(&item.payload),
            _ => {}
        }
    }

    /// Takes in the counts of a client report (from the sentry client, or one of ours that was not delivered).
    fn absorb(&self, report: &Value) {
        let Some(discarded) = report.get("discarded_events").and_then(Value::as_array) else {
            return;
        };
        for entry in discarded {
            let text = |key: &str| entry.get(key).and_then(Value::as_str);
            if let (Some(reason), Some(category), Some(quantity)) = (
                text("reason"),
                text("category"),
                entry.get("quantity").and_then(Value::as_u64),
            ) {
                self.add(reason, category, quantity);
            }
        }
    }

    /// The pending counts as one client report item, resetting them.
    fn take_item(&self) -> Option<Item> {
        let counts = std::mem::take(&mut *self.counts.lock().ok()?);
        if counts.is_empty() {
            return None;
        }
        let discarded: Vec<Value> = counts
            .into_iter()
            .map(|((reason, category), quantity)| {
                serde_json::json!({ "reason": reason, "category": category, "quantity": quantity })
            })
            .collect();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        Some(Item {
            kind: CLIENT_REPORT,
            payload: serde_json::json!({ "timestamp": timestamp, "discarded_events": discarded }),
            redactions: Redactions::default(),
        })
    }
}

/// The privacy gate: scrubs every item of every envelope, last, fail-closed.
pub(crate) struct Gate {
    scrubber: Scrubber,
    sink: Box<dyn Sink>,
    losses: Losses,
    last: Mutex<Option<Delivery>>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    pub(crate) fn new(scrubber: Scrubber, sink: Box<dyn Sink>) -> Self {
        Gate {
            scrubber,
            sink,
            losses: Losses::default(),
            last: Mutex::new(None),
        }
    }

    /// What became of the last envelope, taken (so a later call sees only newer ones).
    pub(crate) fn take_last(&self) -> Option<Delivery> {
        self.last.lock().ok().and_then(|mut last| last.take())
    }

    /// Where lost items are counted, for the next client report.
    pub(crate) fn losses(&self) -> &Losses {
        &self.losses
    }

    /// Scrubs and forwards one envelope produced by the sentry client.
    pub(crate) fn send_envelope(&self, envelope: Envelope) -> Delivery {
        let event_id = envelope.uuid().map(|id| id.simple().to_string());
        let mut items = Vec::new();
        for item in envelope.items() {
            let (kind, value) = match item {
                EnvelopeItem::Event(event) => (EVENT, serde_json::to_value(event)),
                EnvelopeItem::Transaction(txn) => (TRANSACTION, serde_json::to_value(txn)),
                EnvelopeItem::ClientReport(report) => (CLIENT_REPORT, serde_json::to_value(report)),
                // Sessions, logs, attachments, check-ins, raw items: never forwarded.
                _ => continue,
            };
            match value {
                Ok(value) => items.push((kind, value)),
                // Fail closed: an item we cannot turn into JSON is not sent.
                Err(_) => continue,
            }
        }
        self.send_items(event_id, items)
    }

    /// Scrubs and forwards items built by the pipeline itself.
    pub(crate) fn send_items(
        &self,
        event_id: Option<String>,
        items: Vec<(&'static str, Value)>,
    ) -> Delivery {
        let mut out = Outgoing {
            event_id,
            items: Vec::with_capacity(items.len()),
        };
        for (kind, mut payload) in items {
            if kind == CLIENT_REPORT {
                // Counts only; merged into the one report this envelope carries.
                self.losses.absorb(&payload);
                continue;
            }
            let mut redactions = Redactions::default();
            let scrubbed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.scrubber
                    .scrub_item(kind, &mut payload, &mut redactions);
            }));
            // Fail closed: an item whose scrubbing failed is dropped, not sent.
            if scrubbed.is_ok() {
                out.items.push(Item {
                    kind,
                    payload,
                    redactions,
                });
            }
        }
        let delivery = if out.items.is_empty() {
            Delivery::NotSent
        } else {
            out.items.extend(self.losses.take_item());
            self.sink.send(out, &self.losses)
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(delivery.clone());
        }
        delivery
    }
}

/// The [`sentry::Transport`] the client sends through: the gate, in place.
#[derive(Debug, Clone)]
pub(crate) struct GateTransport(pub(crate) Arc<Gate>);

impl sentry::Transport for GateTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let _ = self.0.send_envelope(envelope);
    }
}

impl sentry::TransportFactory for GateTransport {
    fn create_transport_with_options(
        &self,
        _: sentry::TransportOptions,
    ) -> Arc<dyn sentry::Transport> {
        Arc::new(self.clone())
    }
}

// ---------------------------------------------------------------------------
// Preview

/// Prints what would be sent instead of sending it.
#[derive(Debug)]
pub(crate) struct PreviewSink {
    file: Option<PathBuf>,
    lock: Mutex<()>,
}

impl PreviewSink {
    /// Preview to stderr (`None`) or appended to a file.
    pub(crate) fn new(file: Option<PathBuf>) -> Self {
        PreviewSink {
            file,
            lock: Mutex::new(()),
        }
    }
}

/// Formats one preview line: `[telemetry] ` and the item's JSON; when the gate
/// redacted anything, the counts per rule follow (never the values):
/// `[telemetry] {...} redacted={"email":1}`.
pub(crate) fn preview_line(item: &Item) -> String {
    if item.redactions.is_empty() {
        format!("[telemetry] {}", item.payload)
    } else {
        format!(
            "[telemetry] {} redacted={}",
            item.payload,
            item.redactions.to_json()
        )
    }
}

impl Sink for PreviewSink {
    fn send(&self, envelope: Outgoing, _: &Losses) -> Delivery {
        let _guard = self.lock.lock();
        match &self.file {
            None => {
                let stderr = std::io::stderr();
                let mut err = stderr.lock();
                for item in &envelope.items {
                    let _ = writeln!(err, "{}", preview_line(item));
                }
            }
            Some(path) => {
                let mut text = String::new();
                for item in &envelope.items {
                    text.push_str(&item.payload.to_string());
                    text.push('\n');
                }
                let written =
                    crate::fs::open_preview(path).and_then(|mut f| f.write_all(text.as_bytes()));
                if written.is_err() {
                    return Delivery::Unreachable(format!("cannot write {}", path.display()));
                }
            }
        }
        Delivery::Accepted
    }
}

// ---------------------------------------------------------------------------
// HTTP

/// Per-request limits. Every request ends within `TIMEOUT`, whatever the server does.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff after 5xx answers and network errors: 0.5 s, 1 s, 2 s, … up to 60 s.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct HttpState {
    limits: RateLimiter,
    failures: u32,
    backoff_until: Option<Instant>,
    /// Why the last request failed: what items dropped during the backoff are counted as.
    failure: &'static str,
}

/// Sends envelopes to the server, synchronously, with timeouts, backoff and rate limits.
pub(crate) struct HttpSink {
    agent: ureq::Agent,
    url: String,
    auth: String,
    state: Mutex<HttpState>,
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HttpSink {
    pub(crate) fn new(dsn: &Dsn) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("openadapt-telemetry/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpSink {
            agent: ureq::Agent::new_with_config(config),
            url: dsn.envelope_api_url().to_string(),
            auth: dsn
                .to_auth(Some(concat!(
                    "openadapt-telemetry/",
                    env!("CARGO_PKG_VERSION")
                )))
                .to_string(),
            state: Mutex::new(HttpState::default()),
        }
    }

    /// Drops items whose category is rate limited; `None` when nothing is worth a request.
    fn filter(state: &HttpState, mut envelope: Outgoing, losses: &Losses) -> Option<Outgoing> {
        let limited_any = state
            .limits
            .is_disabled(RateLimitingCategory::Any)
            .is_some();
        let mut dropped = false;
        envelope.items.retain(|item| {
            let category = match item.kind {
                EVENT => RateLimitingCategory::Error,
                TRANSACTION => RateLimitingCategory::Transaction,
                _ => RateLimitingCategory::Any,
            };
            let keep =
                item.kind == CLIENT_REPORT || (!limited_any && state.limits.is_enabled(category));
            if !keep {
                dropped = true;
                losses.lose(item, RATELIMIT_BACKOFF);
            }
            keep
        });
        // A client report alone is not worth a request while a limit is in force:
        // that is how sentry ends up sending hundreds of report-only requests.
        let only_reports = envelope.items.iter().all(|i| i.kind == CLIENT_REPORT);
        if envelope.items.is_empty() || (only_reports && (dropped || state.any_limit())) {
            for item in &envelope.items {
                losses.lose(item, RATELIMIT_BACKOFF);
            }
            None
        } else {
            Some(envelope)
        }
    }
}

impl HttpState {
    fn any_limit(&self) -> bool {
        [
            RateLimitingCategory::Any,
            RateLimitingCategory::Error,
            RateLimitingCategory::Transaction,
        ]
        .into_iter()
        .any(|c| self.limits.is_disabled(c).is_some())
    }

    fn fail(&mut self, reason: &'static str) {
        self.failure = reason;
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32 << self.failures.saturating_sub(1).min(16);
        let delay = BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX);
        self.backoff_until = Some(Instant::now() + delay);
    }
}

impl Sink for HttpSink {
    fn send(&self, envelope: Outgoing, losses: &Losses) -> Delivery {
        let Ok(state) = self.state.lock() else {
            return Delivery::NotSent;
        };
        if state
            .backoff_until
            .is_some_and(|until| Instant::now() < until)
        {
            for item in &envelope.items {
                losses.lose(item, state.failure);
            }
            return Delivery::BackingOff;
        }
        let Some(envelope) = Self::filter(&state, envelope, losses) else {
            return Delivery::RateLimited;
        };
        // Do not hold the lock over the request: flush and drop must never wait on it.
        drop(state);
        let body = envelope.to_bytes();
        let result = self
            .agent
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth)
            .header("Content-Type", "application/x-sentry-envelope")
            .send(&body[..]);
        let Ok(mut state) = self.state.lock() else {
            return Delivery::NotSent;
        };
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                if let Some(limits) = header("x-sentry-rate-limits") {
                    state.limits.update_from_sentry_header(&limits);
                } else if status == 429 {
                    match header("retry-after") {
                        Some(after) => state.limits.update_from_retry_after(&after),
                        None => state.limits.update_from_429(),
                    }
                }
                match status {
                    200..=299 => {
                        state.failures = 0;
                        state.backoff_until = None;
                        Delivery::Accepted
                    }
                    429 => {
                        // The server counts what it refused; only our report goes back.
                        for item in envelope.items.iter().filter(|i| i.kind == CLIENT_REPORT) {
                            losses.lose(item, RATELIMIT_BACKOFF);
                        }
                        Delivery::RateLimited
                    }
                    _ => {
                        if status >= 500 {
                            state.fail(SEND_ERROR);
                        }
                        for item in &envelope.items {
                            losses.lose(item, SEND_ERROR);
                        }
                        Delivery::Refused(status)
                    }
                }
            }
            Err(error) => {
                state.fail(NETWORK_ERROR);
                for item in &envelope.items {
                    losses.lose(item, NETWORK_ERROR);
                }
                Delivery::Unreachable(error.to_string())
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Capture (tests)

/// Keeps scrubbed envelopes in memory.
#[cfg(feature = "test-util")]
#[derive(Debug, Clone, Default)]
pub(crate) struct CaptureSink {
    pub(crate) envelopes: Arc<Mutex<Vec<Outgoing>>>,
}

#[cfg(feature = "test-util")]
impl Sink for CaptureSink {
    fn send(&self, envelope: Outgoing, _: &Losses) -> Delivery {
        if let Ok(mut all) = self.envelopes.lock() {
            all.push(envelope);
        }
        Delivery::Accepted
    }
}
