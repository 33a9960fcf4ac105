//! Breadcrumbs: `info!`/`warn!` events kept to give the next error context.
//!
//! A breadcrumb belongs to what it describes. Logged inside a span, it goes to
//! the ring of that span's trace (its root span tree, across threads and
//! tasks), kept in the root span's extensions and freed with it; logged outside
//! any span, it goes to the ring of its thread. An error carries the crumbs of
//! its own trace, or outside spans of its own thread: never another request's.
//!
//! Bounded whatever is logged: [`BREADCRUMBS`] per ring, [`CRUMB_TEXT`] bytes
//! per crumb, [`LIVE_CRUMBS`] in all the rings of the process. No caller ever
//! waits: a ring that is busy (another thread, or a signal handler that
//! interrupted this one) drops the crumb and counts it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing_core::Level;
use tracing_core::field::{Field, Visit};

use crate::limits::{BREADCRUMBS, Bounded, CRUMB_FIELDS, CRUMB_TEXT, LIVE_CRUMBS};

/// Crumbs held by every ring of the process.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Crumbs dropped because a ring was busy or the process-wide bound was reached.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// A crumb's text longer than this is not kept for reuse.
const SPARE_CAPACITY: usize = 1024;

/// A breadcrumb. The message and the field values share one string (`text`),
/// so a crumb is two allocations (the text and its `Arc`) whatever its fields.
#[derive(Debug)]
pub(crate) struct Crumb {
    pub(crate) timestamp: SystemTime,
    pub(crate) level: Level,
    pub(crate) target: &'static str,
    pub(crate) text: String,
    /// The message's range in `text`.
    message: (usize, usize),
    /// Each field's name and value range in `text`; the first `len` are used.
    fields: [(&'static str, usize, usize); CRUMB_FIELDS],
    len: usize,
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

    fn reset(&mut self, timestamp: SystemTime, level: Level, target: &'static str) {
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

/// One ring of crumbs, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    crumbs: VecDeque<Arc<Crumb>>,
}

impl Ring {
    /// Adds a crumb; returns the one it evicted, if any. `None` from the
    /// outer option: the process-wide bound left no room and this ring had
    /// nothing to evict (the crumb is dropped).
    fn push(&mut self, crumb: Arc<Crumb>) -> Option<Option<Arc<Crumb>>> {
        if self.crumbs.len() >= BREADCRUMBS {
            let evicted = self.crumbs.pop_front();
            self.crumbs.push_back(crumb);
            return Some(evicted);
        }
        if LIVE.fetch_add(1, Ordering::Relaxed) >= LIVE_CRUMBS {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            // At the bound: make room in this ring, or drop the crumb.
            let evicted = self.crumbs.pop_front()?;
            self.crumbs.push_back(crumb);
            return Some(Some(evicted));
        }
        self.crumbs.push_back(crumb);
        Some(None)
    }

    fn snapshot(&self) -> Vec<Arc<Crumb>> {
        self.crumbs.iter().cloned().collect()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        LIVE.fetch_sub(self.crumbs.len(), Ordering::Relaxed);
    }
}

/// The ring of one trace, in its root span's extensions.
#[derive(Debug, Default)]
pub(crate) struct TraceCrumbs(Mutex<Ring>);

thread_local! {
    /// The ring of crumbs logged on this thread outside any span.
    static LOCAL: RefCell<Ring> = RefCell::new(Ring::default());
    /// The crumb this thread last evicted, when nothing else held it: the next
    /// breadcrumb is written into it, so that a full ring costs no allocation.
    static SPARE: Cell<Option<Arc<Crumb>>> = const { Cell::new(None) };
}

/// Where a crumb goes, or where an error's crumbs come from.
pub(crate) enum Home<'a> {
    /// The trace whose root holds this ring.
    Trace(&'a TraceCrumbs),
    /// This thread, outside any span.
    Thread,
}

/// Builds a crumb from an event, reusing this thread's spare allocation.
pub(crate) fn build(
    level: Level,
    target: &'static str,
    record: impl FnOnce(&mut dyn Visit),
) -> Arc<Crumb> {
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
    if let Some(slot) = Arc::get_mut(&mut crumb) {
        slot.reset(SystemTime::now(), level, target);
        let mut visitor = CrumbVisitor {
            crumb: slot,
            budget: CRUMB_TEXT,
        };
        record(&mut visitor);
    }
    crumb
}

/// Keeps `crumb` in its ring; never waits.
pub(crate) fn keep(home: Home<'_>, crumb: Arc<Crumb>) {
    let pushed = match home {
        Home::Trace(trace) => match trace.0.try_lock() {
            Ok(mut ring) => ring.push(crumb),
            Err(_) => None,
        },
        Home::Thread => LOCAL
            .try_with(|ring| match ring.try_borrow_mut() {
                Ok(mut ring) => ring.push(crumb),
                Err(_) => None,
            })
            .ok()
            .flatten(),
    };
    match pushed {
        None => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        Some(Some(mut evicted)) => {
            // Reused by this thread's next crumb when nothing else holds it
            // (an error waiting to be sent may).
            if Arc::get_mut(&mut evicted).is_some_and(|c| c.text.capacity() <= SPARE_CAPACITY) {
                let _ = SPARE.try_with(|spare| spare.set(Some(evicted)));
            }
        }
        Some(None) => {}
    }
}

/// The crumbs an error logged in `home` carries, oldest first; never waits.
pub(crate) fn snapshot(home: Home<'_>) -> Vec<Arc<Crumb>> {
    match home {
        Home::Trace(trace) => trace.0.try_lock().map(|r| r.snapshot()).unwrap_or_default(),
        Home::Thread => LOCAL
            .try_with(|ring| ring.try_borrow().map(|r| r.snapshot()).unwrap_or_default())
            .unwrap_or_default(),
    }
}

/// Crumbs dropped so far (busy ring, or the process-wide bound), taken.
pub(crate) fn take_dropped() -> u64 {
    DROPPED.swap(0, Ordering::Relaxed)
}

/// Writes a breadcrumb's message and field values into its one string, each
/// value within what is left of [`CRUMB_TEXT`].
struct CrumbVisitor<'a> {
    crumb: &'a mut Crumb,
    budget: usize,
}

impl CrumbVisitor<'_> {
    fn put(&mut self, field: &Field, write: impl FnOnce(&mut Bounded<'_>)) {
        let crumb = &mut *self.crumb;
        let is_message = field.name() == "message";
        if !is_message && crumb.len >= CRUMB_FIELDS {
            return;
        }
        let start = crumb.text.len();
        let mut w = Bounded::new(&mut crumb.text, self.budget);
        write(&mut w);
        w.finish();
        let end = crumb.text.len();
        self.budget = self.budget.saturating_sub(end - start);
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
        self.put(field, |w| {
            let _ = w.write_str(value);
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| {
            let _ = write!(w, "{value}");
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| {
            let _ = write!(w, "{value}");
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| {
            let _ = w.write_str(if value { "true" } else { "false" });
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| {
            let _ = write!(w, "{value:?}");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crumb(text: &str) -> Arc<Crumb> {
        let mut c = Crumb::empty();
        c.text.push_str(text);
        c.message = (0, text.len());
        Arc::new(c)
    }

    #[test]
    fn a_ring_keeps_the_newest() {
        let trace = TraceCrumbs::default();
        for i in 0..(BREADCRUMBS + 5) {
            keep(Home::Trace(&trace), crumb(&format!("c{i}")));
        }
        let held = snapshot(Home::Trace(&trace));
        assert_eq!(held.len(), BREADCRUMBS);
        assert_eq!(held[0].message(), "c5");
        assert_eq!(
            held[BREADCRUMBS - 1].message(),
            format!("c{}", BREADCRUMBS + 4)
        );
    }

    #[test]
    fn a_busy_ring_drops_instead_of_waiting() {
        let trace = TraceCrumbs::default();
        let held = trace.0.lock().unwrap();
        let before = DROPPED.load(Ordering::Relaxed);
        keep(Home::Trace(&trace), crumb("dropped"));
        assert!(DROPPED.load(Ordering::Relaxed) > before);
        assert!(
            snapshot(Home::Trace(&trace)).is_empty(),
            "busy: no snapshot either"
        );
        drop(held);
        assert!(snapshot(Home::Trace(&trace)).is_empty());
    }

    #[test]
    fn thread_rings_are_per_thread() {
        keep(Home::Thread, crumb("here"));
        let other = std::thread::spawn(|| snapshot(Home::Thread).len())
            .join()
            .unwrap();
        assert_eq!(other, 0);
        assert!(snapshot(Home::Thread).iter().any(|c| c.message() == "here"));
    }
}
