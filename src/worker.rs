//! The worker thread: takes records from the queue, builds items, makes error
//! and usage envelopes durable (the spool) before any network, sends, and
//! replays what earlier runs or other processes left in the spool.
//!
//! One failure, one issue: an error returned through `#[instrument(err)]`
//! functions is reported by each of them, and maybe once more by the caller
//! that finally logs it with its `dyn Error`. Such reports are held for
//! [`MERGE_WINDOW`] and merged into one event with the most that is known: the
//! typed chain (if any report had it), the innermost stack, the spans crossed.
//!
//! Exit paths ([`spill`]) take what is left in memory and write it to the
//! spool on their own thread, never waiting on the network.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::build::Assembly;
use crate::gate::{NETWORK_ERROR, QUEUE_OVERFLOW};
use crate::outbox::{Outbox, Staged};
use crate::queue::{ErrorRecord, Held, Origin, Queue, Shared};
use crate::transport::Delivery;

/// How long a report that may come again (from `#[instrument(err)]`) is held
/// for its callers' reports of the same failure.
pub(crate) const MERGE_WINDOW: Duration = Duration::from_secs(1);
/// The longest the worker sleeps with nothing to do.
const IDLE_WAKE: Duration = Duration::from_secs(1);
/// How often the spool is looked at while the program runs.
const REPLAY_EVERY: Duration = Duration::from_secs(60);
/// The longest one replay pass runs before the worker looks at its queue again.
const REPLAY_PASS: Duration = Duration::from_secs(5);
/// How long an exit path waits for records the worker holds to become durable.
const IN_HAND_WAIT: Duration = Duration::from_millis(500);
/// How long an exit path spends reading stack traces of what it spools.
const EXIT_STACKS: Duration = Duration::from_millis(20);

/// Everything the worker needs.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) assembly: Arc<Assembly>,
    pub(crate) started: Instant,
    pub(crate) feature_interval: Duration,
}

struct Batch {
    errors: Vec<ErrorRecord>,
    txns: Vec<crate::queue::TxnRecord>,
    dropped: (u64, u64),
    features: Option<Vec<(String, u64)>>,
    flush_wanted: u64,
    stop: bool,
    replay: bool,
}

impl Worker {
    /// Runs until shutdown, or until an exit path takes over. Never panics
    /// out: a panic in one step drops that batch.
    pub(crate) fn run(self) {
        let spool = self.assembly.outbox.spool().is_some();
        let mut next_features = Instant::now() + self.feature_interval;
        // Replay what earlier runs left, first thing.
        let mut next_replay = Some(Instant::now()).filter(|_| spool);
        loop {
            let Some(batch) = self.take(&mut next_features, &mut next_replay) else {
                return;
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.deliver(batch.errors, batch.features, batch.txns, batch.dropped)
            }));
            let accepted = outcome.unwrap_or(false);
            if spool
                && !batch.stop
                && (batch.replay
                    || (accepted
                        && self
                            .assembly
                            .outbox
                            .spool()
                            .is_some_and(|s| s.has_waiting())))
            {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.replay()));
                // A pass that yielded to new records or a flush goes on after them.
                let yielded = self.shared.pending.load(Ordering::Relaxed);
                next_replay = Some(
                    Instant::now()
                        + if yielded {
                            Duration::ZERO
                        } else {
                            REPLAY_EVERY
                        },
                );
            }
            let Some(mut q) = self.shared.queue() else {
                return;
            };
            q.flush_done = q.flush_done.max(batch.flush_wanted);
            if batch.stop {
                q.stopped = true;
            }
            drop(q);
            self.shared.done.notify_all();
            if batch.stop {
                return;
            }
        }
    }

    /// Waits for work, then takes it. `None`: an exit path took over.
    fn take(
        &self,
        next_features: &mut Instant,
        next_replay: &mut Option<Instant>,
    ) -> Option<Batch> {
        let mut q = self.shared.queue()?;
        let mut replay_now = false;
        loop {
            if q.abandoned {
                return None;
            }
            replay_now |= self.shared.replay_now.swap(false, Ordering::Relaxed);
            let now = Instant::now();
            let held_due = q.held.iter().map(|h| h.deadline).min();
            let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
            if !q.errors.is_empty()
                || self.shared.overflowed.load(Ordering::Relaxed) > 0
                || !q.txns.is_empty()
                || q.flush_requested > q.flush_done
                || q.stop
                || now >= *next_features
                || due(held_due)
                || due(*next_replay)
                || replay_now
            {
                break;
            }
            // At most IDLE_WAKE: an error handed over by the overflow lane
            // (whose notice can come just before this wait) waits no longer.
            let wake = [
                Some(*next_features),
                held_due,
                *next_replay,
                Some(now + IDLE_WAKE),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(*next_features);
            q = match self.shared.work.wait_timeout(q, wake - now) {
                Ok((q, _)) => q,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        self.shared.pending.store(false, Ordering::Relaxed);
        let now = Instant::now();
        let flushing = q.flush_requested > q.flush_done || q.stop;
        let mut incoming = q.take_errors();
        let mut txns = std::mem::take(&mut q.txns);
        self.shared.drain_overflow(&mut incoming, &mut txns);
        let errors = merge(&mut q.held, incoming, now, flushing);
        let features_due = flushing || now >= *next_features;
        if features_due {
            *next_features = now + self.feature_interval;
        }
        let replay = replay_now || next_replay.is_some_and(|t| t <= now);
        let batch = Batch {
            errors,
            txns,
            dropped: (
                std::mem::take(&mut q.dropped_errors),
                std::mem::take(&mut q.dropped_txns),
            ),
            features: features_due.then(|| self.shared.features.take()),
            flush_wanted: q.flush_requested,
            stop: q.stop,
            replay,
        };
        q.in_hand = 1;
        Some(batch)
    }

    /// Builds, stages and sends one batch; true when the server took something.
    fn deliver(
        &self,
        errors: Vec<ErrorRecord>,
        features: Option<Vec<(String, u64)>>,
        txns: Vec<crate::queue::TxnRecord>,
        (dropped_errors, dropped_txns): (u64, u64),
    ) -> bool {
        let asm = &self.assembly;
        let losses = asm.gate.losses();
        losses.add(QUEUE_OVERFLOW, "error", dropped_errors);
        losses.add(QUEUE_OVERFLOW, "transaction", dropped_txns);
        let busy = self.shared.dropped_busy.swap(0, Ordering::Relaxed);
        losses.add(QUEUE_OVERFLOW, "error", busy);
        let ids: Vec<String> = errors.iter().map(|_| crate::build::event_id()).collect();
        let durable = |r: &ErrorRecord| !matches!(r.origin, Origin::Test);
        // Durable first: every error and usage envelope is on disk before any
        // request. The first stack trace of a process takes 0.1 to 0.3 s to
        // read: a copy without it is made durable first, so that a program that
        // ends in the meantime loses nothing (same event id: the server keeps one).
        let cold = !crate::backtrace::warm()
            && asm.outbox.spool().is_some()
            && errors.iter().any(|r| r.backtrace.is_some());
        let quick: Vec<Staged> = if cold {
            errors
                .iter()
                .zip(&ids)
                .filter(|(r, _)| durable(r))
                .filter_map(|(r, id)| asm.error_envelope(r, id, false, false))
                .map(|envelope| asm.outbox.stage(envelope, true, losses))
                .collect()
        } else {
            Vec::new()
        };
        let session = self.started.elapsed().as_secs_f64();
        let usage: Vec<Staged> = features
            .unwrap_or_default()
            .iter()
            .filter_map(|(name, count)| asm.usage_envelope(name, *count, session))
            .map(|envelope| asm.outbox.stage(envelope, true, losses))
            .collect();
        if cold {
            self.durable();
        }
        let mut staged: Vec<(Staged, Option<String>)> = Vec::new();
        for (record, id) in errors.iter().zip(ids) {
            if let Some(envelope) = asm.error_envelope(record, &id, true, true) {
                staged.push((
                    match record.origin {
                        Origin::Test => asm.outbox.stage(envelope, false, losses).now(),
                        _ => asm.outbox.stage(envelope, true, losses),
                    },
                    Some(id),
                ));
            }
        }
        for copy in quick {
            asm.outbox.discard(copy);
        }
        // Sampled transactions are not kept on disk: they are a sample.
        for txn in txns {
            if let Some(envelope) = asm.transaction_envelope(txn) {
                staged.push((asm.outbox.stage(envelope, false, losses), None));
            }
        }
        staged.extend(usage.into_iter().map(|u| (u, None)));
        // A local sink (preview, capture) is durable once it has the envelope.
        let mut accepted = false;
        if matches!(asm.outbox, Outbox::Local(_)) {
            for (item, id) in std::mem::take(&mut staged) {
                let delivery = asm.outbox.send(item, losses);
                accepted |= delivery == Delivery::Accepted;
                self.note(delivery, id);
            }
        }
        self.durable();
        for (item, id) in staged {
            if self.abandoned() {
                // An exit path has given the claims back: the next run sends them.
                return accepted;
            }
            let delivery = asm.outbox.send(item, losses);
            accepted |= delivery == Delivery::Accepted;
            self.note(delivery, id);
        }
        accepted
    }

    /// What the worker took is durable now: exit paths stop waiting for it.
    fn durable(&self) {
        if let Some(mut q) = self.shared.queue() {
            q.in_hand = 0;
        }
        self.shared.done.notify_all();
    }

    fn abandoned(&self) -> bool {
        self.shared.stopping.load(Ordering::Relaxed)
            && self.shared.queue().is_some_and(|q| q.abandoned)
    }

    /// Remembers what became of a reportable event (an error, a panic, the
    /// test event: what a user may quote); usage counts and transactions are
    /// not such events.
    fn note(&self, delivery: Delivery, reportable_id: Option<String>) {
        let Some(id) = reportable_id else {
            return;
        };
        if delivery != Delivery::NotSent
            && let Ok(mut last) = self.shared.last_event_id.lock()
        {
            *last = Some(id);
        }
        if let Ok(mut last) = self.shared.last_delivery.lock() {
            *last = Some(delivery);
        }
    }

    fn replay(&self) {
        let deadline = Instant::now() + REPLAY_PASS;
        let stop = || {
            self.shared.stopping.load(Ordering::Relaxed)
                || self.shared.pending.load(Ordering::Relaxed)
        };
        self.assembly
            .outbox
            .replay(deadline, &stop, self.assembly.gate.losses());
    }
}

/// Merges `incoming` reports into the held ones where they continue the same
/// failure; returns the records to send now (all of them when `release_all`).
pub(crate) fn merge(
    held: &mut Vec<Held>,
    incoming: Vec<ErrorRecord>,
    now: Instant,
    release_all: bool,
) -> Vec<ErrorRecord> {
    let mut ready = Vec::new();
    for record in incoming {
        if let Some(i) = held.iter().rposition(|h| continues(&h.record, &record)) {
            let propagating = record.propagating;
            absorb(&mut held[i].record, record);
            if propagating {
                held[i].deadline = now + MERGE_WINDOW;
            } else {
                ready.push(held.remove(i).record);
            }
            continue;
        }
        // Held even when everything is released below: a report later in
        // `incoming` (its callers') must still find it.
        if record.propagating {
            held.push(Held {
                record,
                deadline: now + MERGE_WINDOW,
            });
        } else {
            ready.push(record);
        }
    }
    let mut i = 0;
    while i < held.len() {
        if release_all || held[i].deadline <= now {
            ready.push(held.remove(i).record);
        } else {
            i += 1;
        }
    }
    ready
}

/// Whether `later` reports the failure `held` reported: the same error (by
/// its text, or wrapping it), logged where it was returned to (an enclosing
/// span, or outside every span on the same thread).
fn continues(held: &ErrorRecord, later: &ErrorRecord) -> bool {
    if !matches!(held.origin, Origin::Event(_)) || !matches!(later.origin, Origin::Event(_)) {
        return false;
    }
    let Some(outer) = held.chain.first() else {
        return false;
    };
    // `#[instrument(err(Debug))]` reports the Debug text of what a caller
    // may log as a `dyn Error`.
    let same = later.chain.iter().any(|link| link.value == outer.value)
        || later.debug_text.as_deref() == Some(outer.value.as_str());
    if !same {
        return false;
    }
    if later.spans.is_empty() {
        return later.thread == held.thread;
    }
    held.spans.len() > later.spans.len() && held.spans.ends_with(&later.spans)
}

/// Takes into `held` what `later` knows more of.
fn absorb(held: &mut ErrorRecord, later: ErrorRecord) {
    if later.typed && (!held.typed || later.chain.len() > held.chain.len()) {
        held.chain = later.chain;
        held.typed = true;
        held.debug_text = later.debug_text;
    }
    if later.message.is_some() {
        held.message = later.message;
    }
    for field in later.fields {
        if !held.fields.iter().any(|(name, _)| *name == field.0) {
            held.fields.push(field);
        }
    }
    for tag in later.tags {
        if !held.tags.iter().any(|(name, _)| *name == tag.0) {
            held.tags.push(tag);
        }
    }
    if !later.crumbs.is_empty() {
        held.crumbs = held.crumbs.merge(&later.crumbs);
    }
    held.propagating = later.propagating;
}

/// Writes what is left in memory to the spool (or a local sink), never
/// waiting on the network. `abandon`: the process is ending (the guard's drop
/// ran out of time, `exit`); the worker sends nothing more and this process's
/// spool claims are given back. Otherwise (a panic the program may survive)
/// the worker goes on and is asked to send the spooled envelopes.
///
/// The work runs on a short-lived thread of its own, the caller waiting for
/// it: at `exit` the calling thread's thread-locals are already destroyed
/// (glibc runs their destructors before the `atexit` handlers, and building an
/// event id then panics), and in a forked child the calling thread's random
/// generator is a copy of the parent's (its event ids would repeat the
/// parent's). A new thread has fresh ones. If no thread can be started, the
/// caller does the work.
pub(crate) fn spill(shared: &Shared, assembly: &Assembly, started: Instant, abandon: bool) {
    let on_own_thread = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("openadapt-telemetry-spill".into())
            .spawn_scoped(scope, || {
                // Nothing it does is captured again (as on the worker).
                crate::runtime::IN_WORKER.set(true);
                spill_here(shared, assembly, started, abandon);
            })
            .map(|handle| {
                let _ = handle.join();
            })
            .is_ok()
    });
    if !on_own_thread {
        spill_here(shared, assembly, started, abandon);
    }
}

fn spill_here(shared: &Shared, assembly: &Assembly, started: Instant, abandon: bool) {
    if shared.forget_losses.swap(false, Ordering::Relaxed) {
        // A forked child's copy of its parent's counts: the parent reports them.
        assembly.gate.losses().clear();
    }
    let Some(mut q) = lock_for_exit(shared) else {
        return;
    };
    if abandon {
        q.abandoned = true;
        shared.stopping.store(true, Ordering::Relaxed);
    }
    let mut incoming = q.take_errors();
    let mut handed_txns = Vec::new();
    shared.drain_overflow(&mut incoming, &mut handed_txns);
    // Transactions stay with the worker unless it is abandoned.
    q.txns.append(&mut handed_txns);
    let errors = merge(&mut q.held, incoming, Instant::now(), true);
    let txns = if abandon {
        std::mem::take(&mut q.txns)
    } else {
        Vec::new()
    };
    // Records the worker took are durable in a moment: wait for that, briefly.
    if q.in_hand > 0 && !shared.orphan.load(Ordering::Relaxed) {
        let deadline = Instant::now() + IN_HAND_WAIT;
        let left = deadline.saturating_duration_since(Instant::now());
        q = match shared.done.wait_timeout_while(q, left, |q| q.in_hand > 0) {
            Ok((q, _)) => q,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
    drop(q);
    let losses = assembly.gate.losses();
    let features = shared.features.take();
    if matches!(assembly.outbox, Outbox::Network(_)) && assembly.outbox.spool().is_none() {
        // Nowhere to keep them (a server and no spool): lost, and counted as
        // if each had been built first, without building them (a stack to
        // symbolise and texts to scrub per error: a second for a full queue).
        losses.add(
            NETWORK_ERROR,
            "error",
            (errors.len() + features.len()) as u64,
        );
        losses.add(NETWORK_ERROR, "transaction", txns.len() as u64);
    } else {
        // Stack traces only while they are cheap: not the process's first (its
        // debug information is not loaded), and not past a short budget.
        let budget = Instant::now() + EXIT_STACKS;
        for record in errors {
            let stack = crate::backtrace::warm() && Instant::now() < budget;
            let id = crate::build::event_id();
            if let Some(envelope) = assembly.error_envelope(&record, &id, stack, true) {
                assembly.outbox.persist(envelope, losses);
            }
        }
        let session = started.elapsed().as_secs_f64();
        for (name, count) in features {
            if let Some(envelope) = assembly.usage_envelope(&name, count, session) {
                assembly.outbox.persist(envelope, losses);
            }
        }
        for txn in txns {
            if let Some(envelope) = assembly.transaction_envelope(txn) {
                assembly.outbox.persist(envelope, losses);
            }
        }
    }
    if abandon {
        spool_losses(assembly);
        assembly.outbox.release_claims();
    } else {
        shared.replay_now.store(true, Ordering::Relaxed);
        shared.work.notify_one();
    }
    shared.done.notify_all();
}

/// Writes the counts of lost items not yet reported to the spool, when there
/// is one: nothing more will be sent by this process, the next run reports them.
pub(crate) fn spool_losses(assembly: &Assembly) {
    if let (Some(spool), Some(dsn)) = (assembly.outbox.spool(), assembly.dsn.as_deref()) {
        spool.write_report(dsn, assembly.gate.losses());
    }
}

/// The queue for an exit path: it may wait a little (never on the network,
/// never forever: a lock held by a thread that is gone is given up on).
fn lock_for_exit(shared: &Shared) -> Option<std::sync::MutexGuard<'_, Queue>> {
    let deadline = Instant::now() + Duration::from_millis(100);
    loop {
        match shared.queue.try_lock() {
            Ok(q) => return Some(q),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::yield_now();
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Link, SpanStep};

    static META: tracing_core::Metadata<'static> = {
        struct Cs;
        impl tracing_core::Callsite for Cs {
            fn set_interest(&self, _: tracing_core::subscriber::Interest) {}
            fn metadata(&self) -> &tracing_core::Metadata<'_> {
                &META
            }
        }
        static CS: Cs = Cs;
        tracing_core::Metadata::new(
            "event",
            "t",
            tracing_core::Level::ERROR,
            None,
            None,
            None,
            tracing_core::field::FieldSet::new(&["error"], tracing_core::identify_callsite!(&CS)),
            tracing_core::metadata::Kind::EVENT,
        )
    };

    fn step(id: u64, name: &'static str) -> SpanStep {
        SpanStep {
            id,
            name,
            module: Some("app"),
        }
    }

    fn report(value: &str, spans: Vec<SpanStep>, propagating: bool, typed: bool) -> ErrorRecord {
        ErrorRecord {
            chain: vec![Link {
                ty: if typed { "std::io::Error" } else { "Error" }.into(),
                value: value.into(),
                kind: None,
            }],
            typed,
            propagating,
            spans,
            ..ErrorRecord::new(Origin::Event(&META), 0)
        }
    }

    #[test]
    fn reports_up_the_spans_and_the_callers_are_one_failure() {
        let now = Instant::now();
        let mut held = Vec::new();
        let f3 = vec![step(3, "f3"), step(2, "f2"), step(1, "f1")];
        let f2 = vec![step(2, "f2"), step(1, "f1")];
        let f1 = vec![step(1, "f1")];
        let ready = merge(
            &mut held,
            vec![
                report("cannot load", f3, true, false),
                report("cannot load", f2, true, false),
                report("cannot load", f1, true, false),
            ],
            now,
            false,
        );
        assert!(ready.is_empty(), "held for the callers");
        assert_eq!(held.len(), 1);
        let mut caller = report("cannot load", Vec::new(), false, true);
        caller.message = Some("sync failed".into());
        let ready = merge(&mut held, vec![caller], now, false);
        assert_eq!(ready.len(), 1);
        assert!(held.is_empty());
        let one = &ready[0];
        assert!(one.typed, "the caller's typed chain is kept");
        assert_eq!(one.message.as_deref(), Some("sync failed"));
        assert_eq!(one.spans.len(), 3, "the innermost path is kept");
    }

    #[test]
    fn different_failures_are_never_merged() {
        let now = Instant::now();
        let mut held = Vec::new();
        let inner = vec![step(3, "f3"), step(2, "f2")];
        let sibling = vec![step(4, "f3"), step(2, "f2")];
        let ready = merge(
            &mut held,
            vec![
                report("timeout", inner, true, false),
                // The same text from a sibling call (a retry): not an enclosing span.
                report("timeout", sibling, true, false),
                report("other", vec![step(2, "f2")], true, false),
            ],
            now,
            false,
        );
        assert!(ready.is_empty());
        assert_eq!(held.len(), 3);
        let ready = merge(&mut held, Vec::new(), now + MERGE_WINDOW, false);
        assert_eq!(ready.len(), 3, "released when the window ends");
    }

    #[test]
    fn reports_taken_together_with_a_flush_are_still_one_failure() {
        // The worker took nothing before the program flushed: the reports of
        // one failure arrive in one batch that releases everything.
        let mut held = Vec::new();
        let f2 = vec![step(2, "f2"), step(1, "f1")];
        let f1 = vec![step(1, "f1")];
        let mut caller = report("cannot load", Vec::new(), false, true);
        caller.message = Some("sync failed".into());
        let ready = merge(
            &mut held,
            vec![
                report("cannot load", f2, true, false),
                report("cannot load", f1, true, false),
                caller,
                report("other", vec![step(5, "g")], true, false),
            ],
            Instant::now(),
            true,
        );
        assert!(held.is_empty());
        assert_eq!(ready.len(), 2, "one failure, and one other: {ready:#?}");
        let one = ready.iter().find(|r| r.typed).expect("the merged report");
        assert_eq!(one.message.as_deref(), Some("sync failed"));
        assert_eq!(one.spans.len(), 2, "the innermost path is kept");
    }

    #[test]
    fn an_instrument_err_debug_report_merges_with_the_callers_dyn_error() {
        let now = Instant::now();
        let mut held = Vec::new();
        let inner = vec![step(3, "load")];
        // `#[instrument(err(Debug))]` reports the Debug text ...
        let ready = merge(
            &mut held,
            vec![report("Custom { kind: NotFound }", inner, true, false)],
            now,
            false,
        );
        assert!(ready.is_empty());
        // ... of the error the caller then logs as a `dyn Error`.
        let mut caller = report("gone", Vec::new(), false, true);
        caller.debug_text = Some("Custom { kind: NotFound }".into());
        let ready = merge(&mut held, vec![caller], now, false);
        assert_eq!(ready.len(), 1, "one failure, one event");
        assert_eq!(ready[0].chain[0].value, "gone", "the typed chain is kept");
    }

    #[test]
    fn flushing_releases_what_is_held() {
        let mut held = Vec::new();
        let ready = merge(
            &mut held,
            vec![report("x", vec![step(1, "f")], true, false)],
            Instant::now(),
            true,
        );
        assert_eq!(ready.len(), 1);
        assert!(held.is_empty());
    }
}
