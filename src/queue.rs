//! The hand-off between the callers' threads and the worker.
//!
//! The layer turns tracing data into small records and queues them here; the
//! worker takes them, builds Sentry items, and delivers them. No caller ever
//! waits: a caller takes the lock with `try_lock` for a few microseconds at
//! most and, if it is still held (by another thread, or by the very code a
//! signal handler interrupted), drops its record and counts it.
//!
//! Repeats: an error is sent as its own event while its call site has sent
//! fewer than [`PER_MINUTE`] in the current minute (GlitchTip counts events,
//! nothing else). Above that, an error equal to one still queued (same call
//! site, message, field values and chain) only adds to that one's count,
//! sent as `extra.repeat_count`.

use std::backtrace::Backtrace;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, TryLockError, mpsc};
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime};

use sentry::protocol::{SpanId, TraceId};
use serde_json::Value;
use tracing_core::{Level, Metadata};

use crate::crumbs::Trail;
use crate::features::Counters;
use crate::limits::QUEUED_CRUMB_BYTES;
use crate::transport::Delivery;

/// Most distinct errors waiting for the worker; more are dropped and counted.
pub(crate) const MAX_PENDING_ERRORS: usize = 256;
/// Most finished transactions waiting for the worker.
const MAX_PENDING_TRANSACTIONS: usize = 128;
/// Child spans kept per transaction.
pub(crate) const MAX_SPANS: usize = 1000;
/// Most records in the overflow lane (handed over while the queue was busy).
const MAX_OVERFLOW: usize = 256;
/// Events a call site sends one by one per minute; past that, repeats are counted.
pub(crate) const PER_MINUTE: u32 = 10;
const MINUTE: Duration = Duration::from_secs(60);
/// Call sites whose minute is tracked; past this, the table starts over.
const MAX_CALLSITES: usize = 4096;
/// Attempts at a lock that spin before the next ones yield.
const SPINS: u32 = 32;
/// The longest a caller tries for a lock before it gives up (an error then
/// takes the overflow lane, a breadcrumb or transaction is dropped and
/// counted): never an unbounded wait.
const LOCK_PATIENCE: Duration = Duration::from_millis(1);

/// What the layer decides with, copied out of the config once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Switches {
    pub(crate) error_tracking: bool,
    pub(crate) performance_tracking: bool,
    pub(crate) feature_usage: bool,
    pub(crate) sample_rate: f64,
    pub(crate) traces_sample_rate: f64,
    /// The level floor for events and spans: less severe ones are ignored.
    pub(crate) level: Level,
}

/// One link of an error's `source()` chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Link {
    pub(crate) ty: String,
    pub(crate) value: String,
    /// Extra facts about the link (an `io::Error`'s kind).
    pub(crate) kind: Option<String>,
}

/// Where an error came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// A tracing event.
    Event(&'static Metadata<'static>),
    /// A panic.
    Panic,
    /// The test event of `Telemetry::send_test_event`.
    #[cfg_attr(
        not(any(test, feature = "test-util", feature = "cli")),
        expect(
            dead_code,
            reason = "made by `send_test_event` (features `test-util`, `cli`)"
        )
    )]
    Test,
}

/// A span an error was logged in (innermost first in [`ErrorRecord::spans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanStep {
    /// The span's id in the subscriber's registry.
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    pub(crate) module: Option<&'static str>,
}

/// An error event waiting to be sent.
#[derive(Debug)]
pub(crate) struct ErrorRecord {
    pub(crate) fingerprint: u64,
    pub(crate) origin: Origin,
    pub(crate) message: Option<String>,
    /// The `source()` chain, outermost first; may hold a marker link for a cut.
    pub(crate) chain: Vec<Link>,
    /// The chain came from a `&dyn Error` (its types are known).
    pub(crate) typed: bool,
    /// A typed chain's outermost error as `Debug` shows it: how a
    /// `#[instrument(err(Debug))]` report of the same error reads.
    pub(crate) debug_text: Option<String>,
    /// The event looks like `#[instrument(err)]`'s: an error field and nothing
    /// else. It may be reported again by the callers it is returned to.
    pub(crate) propagating: bool,
    pub(crate) fields: Vec<(&'static str, String)>,
    /// `tags.NAME = value` fields: tags of this event (the crate's own tags win).
    pub(crate) tags: Vec<(&'static str, String)>,
    pub(crate) crumbs: Trail,
    pub(crate) backtrace: Option<Backtrace>,
    /// A panic's location (`file:line`).
    pub(crate) location: Option<String>,
    pub(crate) trace: Option<(TraceId, SpanId)>,
    /// The spans the error was logged in, innermost first.
    pub(crate) spans: Vec<SpanStep>,
    pub(crate) thread: ThreadId,
    pub(crate) timestamp: SystemTime,
    pub(crate) count: u64,
}

impl ErrorRecord {
    /// A record with only its origin and fingerprint, made now on this thread;
    /// the rest empty (fill it with struct update syntax).
    pub(crate) fn new(origin: Origin, fingerprint: u64) -> ErrorRecord {
        ErrorRecord {
            fingerprint,
            origin,
            message: None,
            chain: Vec::new(),
            typed: false,
            debug_text: None,
            propagating: false,
            fields: Vec::new(),
            tags: Vec::new(),
            crumbs: Trail::default(),
            backtrace: None,
            location: None,
            trace: None,
            spans: Vec::new(),
            thread: std::thread::current().id(),
            timestamp: SystemTime::now(),
            count: 1,
        }
    }
}

/// A finished span.
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

/// What became of an error offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Build the record and [`push_error`](Shared::push_error) it.
    Queue,
    /// Counted as a repeat of a queued error, or dropped: build nothing.
    Done,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    sent: u32,
}

/// An error report held for the reports of the same failure that may follow
/// (see `worker::merge`).
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) record: ErrorRecord,
    pub(crate) deadline: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Queue {
    pub(crate) errors: Vec<ErrorRecord>,
    /// Fingerprint → the last queued error with it.
    index: HashMap<u64, usize>,
    callsites: HashMap<usize, Window>,
    /// Bytes of breadcrumbs held by queued errors.
    crumbs: usize,
    /// Reports held by the worker for their callers' reports (`#[instrument(err)]`).
    pub(crate) held: Vec<Held>,
    pub(crate) txns: Vec<TxnRecord>,
    pub(crate) dropped_errors: u64,
    pub(crate) dropped_txns: u64,
    pub(crate) flush_requested: u64,
    pub(crate) flush_done: u64,
    pub(crate) stop: bool,
    pub(crate) stopped: bool,
    /// Errors the worker has taken and not yet made durable (spooled or handed
    /// to a sink): an exit path waits for them, briefly.
    pub(crate) in_hand: usize,
    /// An exit path took over what was left: the worker sends nothing more.
    pub(crate) abandoned: bool,
}

impl Queue {
    /// Takes every queued error, leaving the queue empty.
    pub(crate) fn take_errors(&mut self) -> Vec<ErrorRecord> {
        self.index.clear();
        self.crumbs = 0;
        std::mem::take(&mut self.errors)
    }
}

/// A record handed over by the overflow lane.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once into the channel's own buffer; a box would be one more allocation"
)]
pub(crate) enum Handed {
    Error(ErrorRecord),
    Txn(TxnRecord),
}

/// State shared by the layer (callers' threads), the guard and the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) switches: Switches,
    pub(crate) active: AtomicBool,
    pub(crate) features: Counters,
    /// Sampled spans alive right now: when zero, closing a span needs no lookup.
    pub(crate) live_sampled: AtomicUsize,
    /// Records dropped because the queue was busy and its overflow lane full
    /// (a caller never waits).
    pub(crate) dropped_busy: AtomicU64,
    /// Records handed over while the queue was busy: a lock-free lane the
    /// worker drains with the queue, so contention costs no error and no
    /// transaction.
    overflow: (mpsc::Sender<Handed>, Mutex<mpsc::Receiver<Handed>>),
    /// Records in the overflow lane now (bounded by [`MAX_OVERFLOW`]).
    pub(crate) overflowed: AtomicUsize,
    pub(crate) queue: Mutex<Queue>,
    pub(crate) work: Condvar,
    pub(crate) done: Condvar,
    pub(crate) last_event_id: Mutex<Option<String>>,
    pub(crate) last_delivery: Mutex<Option<Delivery>>,
    /// The fork generation this instance was started in (see `runtime`).
    pub(crate) generation: AtomicU64,
    /// Set by an exit path or shutdown: long work (a replay pass) stops.
    pub(crate) stopping: AtomicBool,
    /// Set by the panic hook: envelopes were spooled for the worker to send.
    pub(crate) replay_now: AtomicBool,
    /// This is a forked child's copy: it has no worker thread.
    pub(crate) orphan: AtomicBool,
    /// Set when records or a flush wait for the worker: a replay pass yields to them.
    pub(crate) pending: AtomicBool,
    /// Set in a forked child until its copy of the parent's loss counts is
    /// forgotten (the parent reports them).
    pub(crate) forget_losses: AtomicBool,
}

impl Shared {
    pub(crate) fn new(switches: Switches, generation: u64) -> Self {
        Shared {
            switches,
            active: AtomicBool::new(true),
            features: Counters::default(),
            live_sampled: AtomicUsize::new(0),
            dropped_busy: AtomicU64::new(0),
            overflow: {
                let (tx, rx) = mpsc::channel();
                (tx, Mutex::new(rx))
            },
            overflowed: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            last_event_id: Mutex::new(None),
            last_delivery: Mutex::new(None),
            generation: AtomicU64::new(generation),
            stopping: AtomicBool::new(false),
            replay_now: AtomicBool::new(false),
            orphan: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            forget_losses: AtomicBool::new(false),
        }
    }

    /// In a forked child, the first call forgets the parent's records and
    /// counts (the parent sends them) and marks this copy as having no worker.
    #[inline]
    pub(crate) fn check_fork(&self) {
        let now = crate::runtime::generation();
        if self.generation.load(Ordering::Relaxed) != now {
            self.adopt_fork(now);
        }
    }

    #[cold]
    fn adopt_fork(&self, now: u64) {
        self.generation.store(now, Ordering::Relaxed);
        self.orphan.store(true, Ordering::Relaxed);
        self.forget_losses.store(true, Ordering::Relaxed);
        if let Some(mut q) = self.queue_briefly() {
            *q = Queue::default();
        }
        self.features.clear();
    }

    /// The queue, for the worker and the guard (they may wait for it).
    pub(crate) fn queue(&self) -> Option<MutexGuard<'_, Queue>> {
        match self.queue.lock() {
            Ok(q) => Some(q),
            Err(poisoned) => Some(poisoned.into_inner()),
        }
    }

    /// The queue, for a caller: never a wait (see [`lock_briefly`]).
    pub(crate) fn queue_briefly(&self) -> Option<MutexGuard<'_, Queue>> {
        lock_briefly(&self.queue)
    }

    /// Takes what the overflow lane holds (the worker, exit paths).
    pub(crate) fn drain_overflow(&self, errors: &mut Vec<ErrorRecord>, txns: &mut Vec<TxnRecord>) {
        if self.overflowed.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(rx) = lock_briefly(&self.overflow.1) else {
            return;
        };
        while let Ok(record) = rx.try_recv() {
            self.overflowed.fetch_sub(1, Ordering::Relaxed);
            match record {
                Handed::Error(e) => errors.push(e),
                Handed::Txn(t) => txns.push(t),
            }
        }
    }

    /// Decides what a new error from `callsite` with `fingerprint` needs.
    pub(crate) fn admit_error(&self, callsite: usize, fingerprint: u64) -> Admit {
        let Some(mut q) = self.queue_briefly() else {
            // Busy: no repeat can be counted now; the record goes by the overflow lane.
            return Admit::Queue;
        };
        let now = Instant::now();
        if q.callsites.len() >= MAX_CALLSITES && !q.callsites.contains_key(&callsite) {
            q.callsites.clear();
        }
        let window = q.callsites.entry(callsite).or_insert(Window {
            start: now,
            sent: 0,
        });
        if now.duration_since(window.start) >= MINUTE {
            *window = Window {
                start: now,
                sent: 0,
            };
        }
        let one_by_one = window.sent < PER_MINUTE;
        if one_by_one {
            window.sent += 1;
        } else if let Some(i) = q.index.get(&fingerprint).copied() {
            q.errors[i].count = q.errors[i].count.saturating_add(1);
            return Admit::Done;
        }
        if q.errors.len() >= MAX_PENDING_ERRORS {
            q.dropped_errors = q.dropped_errors.saturating_add(1);
            return Admit::Done;
        }
        Admit::Queue
    }

    /// Queues an error (a repeat of a queued one past the call site's minute
    /// only adds to that one's count).
    pub(crate) fn push_error(&self, mut record: ErrorRecord) {
        let mut spare = Trail::default();
        {
            let Some(mut q) = self.queue_briefly() else {
                self.overflow(Handed::Error(record));
                return;
            };
            if q.errors.len() >= MAX_PENDING_ERRORS {
                q.dropped_errors = q.dropped_errors.saturating_add(record.count);
                drop(q);
                return;
            }
            if q.crumbs + record.crumbs.bytes() > QUEUED_CRUMB_BYTES {
                // Freed below, outside the lock.
                spare = std::mem::take(&mut record.crumbs);
            }
            q.crumbs += record.crumbs.bytes();
            let i = q.errors.len();
            q.index.insert(record.fingerprint, i);
            q.errors.push(record);
        }
        drop(spare);
        self.pending.store(true, Ordering::Relaxed);
        self.work.notify_one();
    }

    /// Hands a record over without the queue's lock, or drops it (counted)
    /// when the lane is full.
    fn overflow(&self, record: Handed) {
        if self.overflowed.fetch_add(1, Ordering::Relaxed) >= MAX_OVERFLOW
            || self.overflow.0.send(record).is_err()
        {
            self.overflowed.fetch_sub(1, Ordering::Relaxed);
            self.dropped_busy.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.pending.store(true, Ordering::Relaxed);
        self.work.notify_one();
    }

    /// Queues a finished transaction (by the overflow lane when the queue is
    /// busy).
    pub(crate) fn push_transaction(&self, record: TxnRecord) {
        let Some(mut q) = self.queue_briefly() else {
            self.overflow(Handed::Txn(record));
            return;
        };
        if q.txns.len() >= MAX_PENDING_TRANSACTIONS {
            q.dropped_txns = q.dropped_txns.saturating_add(1);
            return;
        }
        q.txns.push(record);
        drop(q);
        self.pending.store(true, Ordering::Relaxed);
        self.work.notify_one();
    }

    /// Waits on `done` until `ready` holds or `deadline` passes; true if it holds.
    pub(crate) fn wait_for(
        &self,
        q: MutexGuard<'_, Queue>,
        deadline: Instant,
        mut ready: impl FnMut(&Queue) -> bool,
    ) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.done.wait_timeout_while(q, left, |q| !ready(q)) {
            Ok((q, _)) => ready(&q),
            Err(poisoned) => ready(&poisoned.into_inner().0),
        }
    }

    /// Asks the worker to deliver everything queued so far; waits at most
    /// `timeout`. True when it was all handled in time (sent, or kept in the
    /// spool for a later attempt).
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Some(mut q) = self.queue() else {
            return false;
        };
        if q.stopped || q.abandoned {
            return true;
        }
        q.flush_requested += 1;
        let wanted = q.flush_requested;
        self.pending.store(true, Ordering::Relaxed);
        self.work.notify_one();
        self.wait_for(q, deadline, |q| {
            q.flush_done >= wanted || q.stopped || q.abandoned
        })
    }

    /// What became of the last envelope the worker sent, taken.
    #[cfg_attr(
        not(any(test, feature = "test-util", feature = "cli")),
        expect(
            dead_code,
            reason = "made by `send_test_event` (features `test-util`, `cli`)"
        )
    )]
    pub(crate) fn take_last_delivery(&self) -> Option<Delivery> {
        self.last_delivery.lock().ok().and_then(|mut d| d.take())
    }

    pub(crate) fn last_event_id(&self) -> Option<String> {
        self.last_event_id.lock().ok().and_then(|id| id.clone())
    }
}

/// A lock taken with `try_lock`, never waited on for more than
/// [`LOCK_PATIENCE`]: the first attempts spin, the next yield the processor.
/// The holders of these locks hold them for microseconds, but a holder the
/// scheduler preempts can keep one for a time slice (a loaded machine); a lock
/// that stays held (by the code a signal handler interrupted, or, in a forked
/// child, by a parent thread that is not there) is given up on. A poisoned
/// lock is taken as it is.
pub(crate) fn lock_briefly<T>(lock: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    let mut since: Option<Instant> = None;
    for attempt in 0u32.. {
        match lock.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) if attempt < SPINS => std::hint::spin_loop(),
            Err(TryLockError::WouldBlock) => {
                let start = *since.get_or_insert_with(Instant::now);
                if start.elapsed() >= LOCK_PATIENCE {
                    return None;
                }
                std::thread::yield_now();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared::new(
            Switches {
                error_tracking: true,
                performance_tracking: true,
                feature_usage: true,
                sample_rate: 1.0,
                traces_sample_rate: 0.0,
                level: Level::INFO,
            },
            0,
        )
    }

    fn record(fingerprint: u64) -> ErrorRecord {
        ErrorRecord {
            message: Some("m".into()),
            ..ErrorRecord::new(Origin::Test, fingerprint)
        }
    }

    #[test]
    fn ten_a_minute_are_queued_one_by_one_then_counted() {
        let s = shared();
        for _ in 0..PER_MINUTE {
            assert_eq!(s.admit_error(1, 7), Admit::Queue);
            s.push_error(record(7));
        }
        // The 11th and later only add to the last queued one's count.
        for _ in 0..5 {
            assert_eq!(s.admit_error(1, 7), Admit::Done);
        }
        let q = s.queue().unwrap();
        assert_eq!(q.errors.len(), PER_MINUTE as usize);
        let counts: u64 = q.errors.iter().map(|e| e.count).sum();
        assert_eq!(counts, u64::from(PER_MINUTE) + 5);
    }

    #[test]
    fn past_the_minute_a_different_error_is_its_own_record() {
        let s = shared();
        for _ in 0..PER_MINUTE {
            assert_eq!(s.admit_error(1, 7), Admit::Queue);
            s.push_error(record(7));
        }
        assert_eq!(
            s.admit_error(1, 8),
            Admit::Queue,
            "other fields: not a repeat"
        );
    }

    #[test]
    fn a_busy_queue_never_waits_and_loses_nothing() {
        let s = shared();
        let held = s.queue().unwrap();
        assert_eq!(s.admit_error(1, 1), Admit::Queue);
        s.push_error(record(1));
        assert_eq!(s.dropped_busy.load(Ordering::Relaxed), 0);
        drop(held);
        // A transaction finished while the queue is busy takes the lane too.
        let held = s.queue().unwrap();
        s.push_transaction(TxnRecord {
            root: SpanRecord {
                span_id: SpanId::default(),
                parent_span_id: SpanId::default(),
                name: "root",
                target: "t",
                start: SystemTime::now(),
                end: SystemTime::now(),
                data: BTreeMap::new(),
                error: false,
            },
            trace_id: TraceId::default(),
            spans: Vec::new(),
        });
        drop(held);
        let (mut out, mut txns) = (Vec::new(), Vec::new());
        s.drain_overflow(&mut out, &mut txns);
        assert_eq!(out.len(), 1, "taken by the overflow lane");
        assert_eq!(txns.len(), 1, "the transaction too");
        // Past the lane's bound: dropped and counted.
        let held = s.queue().unwrap();
        for _ in 0..(MAX_OVERFLOW + 2) {
            s.push_error(record(2));
        }
        drop(held);
        assert_eq!(s.dropped_busy.load(Ordering::Relaxed), 2);
        let (mut out, mut txns) = (Vec::new(), Vec::new());
        s.drain_overflow(&mut out, &mut txns);
        assert_eq!(out.len(), MAX_OVERFLOW);
    }

    #[test]
    fn the_queue_is_bounded() {
        let s = shared();
        for i in 0..(MAX_PENDING_ERRORS as u64 + 3) {
            if s.admit_error(i as usize, i) == Admit::Queue {
                s.push_error(record(i));
            }
        }
        let q = s.queue().unwrap();
        assert_eq!(q.errors.len(), MAX_PENDING_ERRORS);
        assert_eq!(q.dropped_errors, 3);
    }
}
