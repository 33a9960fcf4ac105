//! Where gated envelopes go: a local sink (preview, test capture), or the
//! network with the spool behind it.
//!
//! On the network, an error or usage envelope is first written to the spool
//! (claimed by this process), then sent; a 2xx or a final 4xx removes the
//! file, anything else gives the claim back for a later attempt, by this
//! process or another. Exit paths only write to the spool. Spooled envelopes
//! are replayed oldest first, each to the DSN it was made for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::gate::{Category, Envelope, Losses, SEND_ERROR};
use crate::preview::Sink;
use crate::spool::{Entry, Spool, count_lost};
use crate::transport::{Delivery, Target};

/// Where envelopes go.
pub(crate) enum Outbox {
    /// Preview or test capture: no network, no spool.
    Local(Box<dyn Sink>),
    /// A server, with the spool (when one can be written) behind it.
    Network(Network),
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outbox::Local(_) => f.write_str("Outbox::Local"),
            Outbox::Network(n) => f.debug_tuple("Outbox::Network").field(&n.spool).finish(),
        }
    }
}

/// The network side: one connection pool, one target per DSN, the spool.
#[derive(Debug)]
pub(crate) struct Network {
    agent: ureq::Agent,
    targets: Mutex<HashMap<String, Arc<Target>>>,
    spool: Option<Spool>,
    /// What the targets' backoff and rate limits read the time from.
    clock: Clock,
}

impl Network {
    /// `timeout`: the longest one request may take.
    pub(crate) fn new(spool: Option<Spool>, clock: Clock, timeout: Duration) -> Self {
        Network {
            agent: crate::transport::agent(timeout),
            targets: Mutex::new(HashMap::new()),
            spool,
            clock,
        }
    }

    /// The target for `dsn`; `None` when it does not parse.
    fn target(&self, dsn: &str) -> Option<Arc<Target>> {
        let mut targets = self.targets.lock().ok()?;
        if let Some(target) = targets.get(dsn) {
            return Some(target.clone());
        }
        let parsed = dsn.parse::<sentry::types::Dsn>().ok()?;
        let target = Arc::new(Target::new(&parsed, self.clock.clone()));
        if targets.len() > 16 {
            targets.clear();
        }
        targets.insert(dsn.to_owned(), target.clone());
        Some(target)
    }
}

/// An envelope on its way: serialised once, and on disk when it must survive
/// the process.
#[derive(Debug)]
pub(crate) struct Staged {
    envelope: Envelope,
    bytes: Vec<u8>,
    entry: Option<Entry>,
    /// Tried even while backing off or rate limited: the test event a user
    /// asked for (`send-test`) gets a real answer.
    now: bool,
}

impl Staged {
    /// Tried at once, whatever the backoff and rate limits say.
    pub(crate) fn now(self) -> Self {
        Self { now: true, ..self }
    }
}

impl Outbox {
    /// The spool, when envelopes go to a server and one can be written.
    pub(crate) fn spool(&self) -> Option<&Spool> {
        match self {
            Outbox::Network(n) => n.spool.as_ref(),
            Outbox::Local(_) => None,
        }
    }

    /// Makes an envelope durable before any network: written to the spool,
    /// claimed by this process, when `durable` and it is an error or usage event.
    pub(crate) fn stage(&self, envelope: Envelope, durable: bool, losses: &Losses) -> Staged {
        let Outbox::Network(net) = self else {
            return Staged {
                envelope,
                bytes: Vec::new(),
                entry: None,
                now: false,
            };
        };
        let bytes = envelope.to_bytes();
        let category = envelope.category();
        let entry = match &net.spool {
            Some(spool) if durable && category == Category::Error => {
                spool.write(&bytes, category, true, losses).ok()
            }
            _ => None,
        };
        Staged {
            envelope,
            bytes,
            entry,
            now: false,
        }
    }

    /// Forgets a staged copy that a later one replaces (its spool file goes).
    pub(crate) fn discard(&self, staged: Staged) {
        if let (Some(spool), Some(entry)) = (self.spool(), &staged.entry) {
            spool.delete(entry);
        }
    }

    /// Sends a staged envelope (the worker).
    pub(crate) fn send(&self, staged: Staged, losses: &Losses) -> Delivery {
        let net = match self {
            Outbox::Local(sink) => return sink.send(&staged.envelope),
            Outbox::Network(net) => net,
        };
        let Some(target) = staged.envelope.dsn.as_deref().and_then(|d| net.target(d)) else {
            losses.lose(&staged.envelope, SEND_ERROR);
            if let (Some(spool), Some(entry)) = (&net.spool, &staged.entry) {
                spool.delete(entry);
            }
            return Delivery::NotSent;
        };
        let ready = if staged.now {
            Ok(())
        } else {
            target.ready(staged.envelope.category())
        };
        let (delivery, requested) = match ready {
            Err(not_now) => (not_now, false),
            Ok(()) => (target.post(&net.agent, &staged.bytes), true),
        };
        match (&net.spool, &staged.entry) {
            (Some(spool), Some(entry)) if delivery.is_final() => {
                spool.delete(entry);
                if delivery != Delivery::Accepted {
                    losses.lose(&staged.envelope, SEND_ERROR);
                }
            }
            // Kept: another attempt later, by this process or another.
            (Some(spool), Some(entry)) => spool.give_back(entry),
            _ if delivery == Delivery::Accepted => {}
            // Answered 429: the server counts what it refused; only our report comes back.
            _ if requested && delivery == Delivery::RateLimited => {
                losses.lose_reports(&staged.envelope);
            }
            _ => losses.lose(&staged.envelope, delivery.loss_reason()),
        }
        delivery
    }

    /// Keeps an envelope for a later run (exit paths): the spool, never the
    /// network. A local sink takes it now.
    pub(crate) fn persist(&self, envelope: Envelope, losses: &Losses) {
        match self {
            Outbox::Local(sink) => {
                let _ = sink.send(&envelope);
            }
            Outbox::Network(net) => {
                let category = envelope.category();
                let written = match &net.spool {
                    Some(spool) if category == Category::Error => spool
                        .write(&envelope.to_bytes(), category, false, losses)
                        .is_ok(),
                    _ => false,
                };
                if !written {
                    losses.lose(&envelope, crate::gate::NETWORK_ERROR);
                }
            }
        }
    }

    /// Sends spooled envelopes, oldest first, until the deadline, `stop`, or
    /// nothing is left. Returns how many were delivered and whether some were
    /// left for later.
    pub(crate) fn replay(
        &self,
        deadline: Instant,
        stop: &dyn Fn() -> bool,
        losses: &Losses,
    ) -> (usize, bool) {
        let Outbox::Network(net) = self else {
            return (0, false);
        };
        let Some(spool) = &net.spool else {
            return (0, false);
        };
        let mut sent = 0;
        let mut left = false;
        for name in spool.candidates(losses) {
            if Instant::now() >= deadline || stop() {
                return (sent, true);
            }
            let Some(entry) = spool.claim(&name) else {
                continue;
            };
            let Some((bytes, dsn)) = spool.read(&entry, losses) else {
                continue;
            };
            let Some(target) = net.target(&dsn) else {
                // Made for a DSN that does not parse: it can never be sent.
                spool.delete(&entry);
                count_lost(Some(&bytes), entry.category, SEND_ERROR, losses);
                continue;
            };
            if target.ready(entry.category).is_err() {
                spool.give_back(&entry);
                left = true;
                continue;
            }
            let delivery = target.post(&net.agent, &bytes);
            if delivery.is_final() {
                spool.delete(&entry);
                if delivery == Delivery::Accepted {
                    sent += 1;
                } else {
                    count_lost(Some(&bytes), entry.category, SEND_ERROR, losses);
                }
            } else {
                spool.give_back(&entry);
                left = true;
            }
        }
        (sent, left)
    }

    /// Gives back every spool claim of this process (exit paths).
    pub(crate) fn release_claims(&self) {
        if let Some(spool) = self.spool() {
            spool.release_mine();
        }
    }
}
