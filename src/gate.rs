//! The privacy gate: the one entry point through which every item leaves.
//!
//! Errors, usage counts and transactions, whatever built them, become
//! envelopes only through [`Gate::envelope`]: each item is scrubbed with the
//! privacy rules (fail-closed: an item whose scrubbing fails is dropped),
//! checked against the item size limit, and packed with the client report of
//! what was lost so far. Only what comes out of here is ever written to the
//! network, the spool or the preview.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use serde_json::Value;

use crate::limits::ITEM;
use crate::privacy::{Redactions, Scrubber};
use crate::queue::lock_briefly;

/// Envelope item types the gate forwards.
pub(crate) const EVENT: &str = "event";
pub(crate) const TRANSACTION: &str = "transaction";
pub(crate) const CLIENT_REPORT: &str = "client_report";

/// Why an item was lost, as client reports name it.
pub(crate) const QUEUE_OVERFLOW: &str = "queue_overflow";
pub(crate) const CACHE_OVERFLOW: &str = "cache_overflow";
pub(crate) const NETWORK_ERROR: &str = "network_error";
pub(crate) const SEND_ERROR: &str = "send_error";
pub(crate) const RATELIMIT_BACKOFF: &str = "ratelimit_backoff";
pub(crate) const INTERNAL_ERROR: &str = "internal_sdk_error";

/// One scrubbed envelope item, ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The envelope item type (`event`, `transaction`, `client_report`).
    pub(crate) kind: &'static str,
    /// The scrubbed payload, serialised once: the JSON text every sink writes.
    pub(crate) json: String,
    /// What the gate redacted in this item (counts only).
    pub(crate) redactions: Redactions,
}

impl Item {
    /// An item whose payload needs no scrubbing (a client report, a test's).
    pub(crate) fn new(kind: &'static str, payload: &Value) -> Item {
        Item {
            kind,
            json: payload.to_string(),
            redactions: Redactions::default(),
        }
    }
}

/// A scrubbed envelope, addressed to the DSN it was made for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Envelope {
    pub(crate) event_id: Option<String>,
    pub(crate) dsn: Option<String>,
    pub(crate) items: Vec<Item>,
}

impl Envelope {
    /// Serialises the envelope in the Sentry envelope format; the header names
    /// the event and the DSN (so a spooled envelope goes where it was meant to).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut header = serde_json::Map::new();
        if let Some(id) = &self.event_id {
            header.insert("event_id".into(), Value::from(id.as_str()));
        }
        if let Some(dsn) = &self.dsn {
            header.insert("dsn".into(), Value::from(dsn.as_str()));
        }
        out.extend_from_slice(Value::Object(header).to_string().as_bytes());
        out.push(b'\n');
        for item in &self.items {
            let header = serde_json::json!({ "type": item.kind, "length": item.json.len() });
            out.extend_from_slice(header.to_string().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(item.json.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The rate-limiting category of the envelope's main item.
    pub(crate) fn category(&self) -> Category {
        if self.items.iter().any(|i| i.kind == TRANSACTION) {
            Category::Transaction
        } else {
            Category::Error
        }
    }
}

/// What an envelope carries, for rate limits, losses and the spool's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// Error and usage events.
    Error,
    Transaction,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::Error => "error",
            Category::Transaction => "transaction",
        }
    }
}

/// Items lost and not yet reported, by (reason, category). They leave as one
/// `client_report` item in the next envelope; if that envelope is lost too,
/// they are counted again, never dropped.
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
        if let Some(mut counts) = lock_briefly(&self.counts) {
            let n = counts
                .entry((reason.to_owned(), category.to_owned()))
                .or_default();
            *n = n.saturating_add(quantity);
        }
    }

    /// Counts the items of a lost envelope (its client report's counts go back).
    pub(crate) fn lose(&self, envelope: &Envelope, reason: &str) {
        self.lose_items(
            envelope.items.iter().map(|i| (i.kind, i.json.as_str())),
            reason,
        );
    }

    /// As [`lose`](Self::lose), for items given as (type, JSON text).
    pub(crate) fn lose_items<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a str, &'a str)>,
        reason: &str,
    ) {
        for (kind, json) in items {
            match kind {
                EVENT => self.add(reason, "error", 1),
                TRANSACTION => self.add(reason, "transaction", 1),
                CLIENT_REPORT => self.absorb(json),
                _ => {}
            }
        }
    }

    /// Forgets every pending count.
    pub(crate) fn clear(&self) {
        if let Some(mut counts) = lock_briefly(&self.counts) {
            counts.clear();
        }
    }

    /// Takes back the counts of an undelivered envelope's client report only.
    pub(crate) fn lose_reports(&self, envelope: &Envelope) {
        for item in envelope.items.iter().filter(|i| i.kind == CLIENT_REPORT) {
            self.absorb(&item.json);
        }
    }

    /// Takes in the counts of a client report that was not delivered.
    fn absorb(&self, report: &str) {
        let Ok(report) = report.parse::<Value>() else {
            return;
        };
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
    pub(crate) fn take_item(&self) -> Option<Item> {
        let counts = std::mem::take(&mut *lock_briefly(&self.counts)?);
        if counts.is_empty() {
            return None;
        }
        let discarded: Vec<Value> = counts
            .into_iter()
            .map(|((reason, category), quantity)| {
                serde_json::json!({ "reason": reason, "category": category, "quantity": quantity })
            })
            .collect();
        Some(Item::new(
            CLIENT_REPORT,
            &serde_json::json!({ "timestamp": now_secs(), "discarded_events": discarded }),
        ))
    }
}

/// Seconds since the Unix epoch, as Sentry timestamps are written.
pub(crate) fn now_secs() -> f64 {
    secs(std::time::SystemTime::now())
}

/// A time as Sentry timestamps are written: seconds since the epoch, a float.
pub(crate) fn secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The privacy gate: scrubs every item of every envelope, last, fail-closed.
pub(crate) struct Gate {
    scrubber: Scrubber,
    losses: Losses,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    pub(crate) fn new(scrubber: Scrubber) -> Self {
        Gate {
            scrubber,
            losses: Losses::default(),
        }
    }

    /// Where lost items are counted, for the next client report.
    pub(crate) fn losses(&self) -> &Losses {
        &self.losses
    }

    /// Scrubs `items` and packs what passes into an envelope for `dsn`, with
    /// the pending client report. `None` when nothing passed.
    pub(crate) fn envelope(
        &self,
        dsn: Option<&str>,
        items: Vec<(&'static str, Value)>,
    ) -> Option<Envelope> {
        let mut out = self.envelope_bare(dsn, items)?;
        out.items.extend(self.losses.take_item());
        Some(out)
    }

    /// As [`envelope`](Self::envelope), without the client report.
    pub(crate) fn envelope_bare(
        &self,
        dsn: Option<&str>,
        items: Vec<(&'static str, Value)>,
    ) -> Option<Envelope> {
        let mut out = Envelope {
            event_id: None,
            dsn: dsn.map(str::to_owned),
            items: Vec::with_capacity(items.len() + 1),
        };
        for (kind, payload) in items {
            if let Some((item, event_id)) = self.scrub(kind, payload) {
                if out.event_id.is_none() {
                    out.event_id = event_id;
                }
                out.items.push(item);
            }
        }
        if out.items.is_empty() {
            return None;
        }
        Some(out)
    }

    /// Scrubs one item; fits it under the item limit or drops it (counted).
    /// With the item, the scrubbed payload's `event_id`.
    fn scrub(&self, kind: &'static str, mut payload: Value) -> Option<(Item, Option<String>)> {
        let category = if kind == TRANSACTION {
            "transaction"
        } else {
            "error"
        };
        let mut redactions = Redactions::default();
        let scrubbed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.scrubber
                .scrub_item(kind, &mut payload, &mut redactions);
        }));
        // Fail closed: an item whose scrubbing failed is dropped, not sent.
        if scrubbed.is_err() {
            self.losses.add(INTERNAL_ERROR, category, 1);
            return None;
        }
        let Some(json) = fit(&mut payload) else {
            self.losses.add(INTERNAL_ERROR, category, 1);
            return None;
        };
        let event_id = payload
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some((
            Item {
                kind,
                json,
                redactions,
            },
            event_id,
        ))
    }
}

/// Fits an item under [`ITEM`] bytes: drops, in turn, the breadcrumbs, the
/// spans and the extra data (saying so in `extra.cut`), then gives up.
/// Returns the item serialised, as it will be written.
fn fit(payload: &mut Value) -> Option<String> {
    for part in ["", "breadcrumbs", "spans", "extra"] {
        if !part.is_empty() {
            let obj = payload.as_object_mut()?;
            let Some(removed) = obj.remove(part) else {
                continue;
            };
            let left_out = match &removed {
                Value::Array(a) => a.len(),
                Value::Object(o) => o
                    .get("values")
                    .and_then(Value::as_array)
                    .map_or(o.len(), Vec::len),
                _ => 1,
            };
            let extra = obj
                .entry("extra")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(extra) = extra.as_object_mut() {
                extra.insert(
                    "cut".into(),
                    Value::from(format!(
                        "{part} left out ({left_out}): the item was over {ITEM} bytes"
                    )),
                );
            }
        }
        // Serialised once, here: the envelope, the spool and the preview
        // write this text. Into bytes (`serde_json::to_string`, not `Display`:
        // its formatter's call per piece makes that twice as slow in a release
        // build), taken as UTF-8 without a second pass over them.
        let json = serde_json::to_string(payload).ok()?;
        if json.len() <= ITEM {
            return Some(json);
        }
    }
    None
}
