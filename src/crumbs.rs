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
//! interrupted this one) drops the crumb and counts it. Once a ring is full,
//! keeping a crumb allocates and frees nothing (the evicted crumb's memory is
//! reused), so a signal handler that logs never finds its thread inside the
//! allocator because of this crate; an error copies its crumbs (a [`Trail`])
//! rather than sharing them, which keeps that true while errors are queued.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;

use tracing_core::Level;
use tracing_core::field::{Field, Visit};

use crate::limits::{BREADCRUMBS, Bounded, CRUMB_FIELDS, CRUMB_TEXT, LIVE_CRUMBS};

/// Crumbs held by every ring of the process.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Crumbs dropped because a ring was busy or the process-wide bound was reached.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// A breadcrumb. The message and the field values share one string (`text`),
/// so a crumb is one allocation whatever its fields, reused once evicted.
#[derive(Debug)]
pub(crate) struct Crumb {
    timestamp: SystemTime,
    level: Level,
    target: &'static str,
    text: String,
    /// The message's range in `text`.
    message: (usize, usize),
    /// Each field's name and value range in `text`; the first `len` are used.
    fields: [(&'static str, usize, usize); CRUMB_FIELDS],
    len: usize,
}

impl Crumb {
    /// An empty crumb, with room for a typical message and fields.
    fn empty() -> Self {
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
}

/// What became of a crumb offered to a ring.
enum Pushed {
    /// Kept; the crumb it evicted, if any, is free for reuse.
    Kept(Option<Crumb>),
    /// Not kept (a busy ring, or the process-wide bound): the crumb comes back.
    Dropped(Crumb),
}

/// One ring of crumbs, oldest first.
#[derive(Debug, Default)]
struct Ring {
    crumbs: VecDeque<Crumb>,
}

impl Ring {
    /// Adds a crumb, evicting the oldest past [`BREADCRUMBS`]; at the
    /// process-wide bound, only in place of one of its own.
    fn push(&mut self, crumb: Crumb) -> Pushed {
        if self.crumbs.len() >= BREADCRUMBS {
            let evicted = self.crumbs.pop_front();
            self.crumbs.push_back(crumb);
            return Pushed::Kept(evicted);
        }
        if LIVE.fetch_add(1, Ordering::Relaxed) >= LIVE_CRUMBS {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            // At the bound: make room in this ring, or drop the crumb.
            let Some(evicted) = self.crumbs.pop_front() else {
                return Pushed::Dropped(crumb);
            };
            self.crumbs.push_back(crumb);
            return Pushed::Kept(Some(evicted));
        }
        self.crumbs.push_back(crumb);
        Pushed::Kept(None)
    }

    fn copy(&self) -> Trail {
        let mut trail = Trail::default();
        trail
            .text
            .reserve(self.crumbs.iter().map(|c| c.text.len()).sum());
        trail.entries.reserve(self.crumbs.len());
        for crumb in &self.crumbs {
            trail.push(crumb);
        }
        trail
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
    /// The crumb this thread last evicted: the next breadcrumb is written
    /// into it, so that a full ring costs no allocation.
    static SPARE: Cell<Option<Crumb>> = const { Cell::new(None) };
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
) -> Crumb {
    // `try_with`: an event logged from another thread-local's destructor may
    // come after this one is gone (then: no reuse).
    let mut crumb = SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(Crumb::empty);
    crumb.reset(SystemTime::now(), level, target);
    let mut visitor = CrumbVisitor {
        crumb: &mut crumb,
        budget: CRUMB_TEXT,
    };
    record(&mut visitor);
    crumb
}

/// Keeps `crumb` in its ring; never waits.
pub(crate) fn keep(home: Home<'_>, crumb: Crumb) {
    let pushed = match home {
        Home::Trace(trace) => match trace.0.try_lock() {
            Ok(mut ring) => ring.push(crumb),
            Err(_) => Pushed::Dropped(crumb),
        },
        Home::Thread => {
            let mut crumb = Some(crumb);
            let pushed = LOCAL.try_with(|ring| match ring.try_borrow_mut() {
                Ok(mut ring) => crumb.take().map(|c| ring.push(c)),
                Err(_) => None,
            });
            match (pushed, crumb) {
                (Ok(Some(pushed)), _) => pushed,
                (_, Some(crumb)) => Pushed::Dropped(crumb),
                (_, None) => Pushed::Kept(None),
            }
        }
    };
    let spare = match pushed {
        Pushed::Dropped(crumb) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            crumb
        }
        Pushed::Kept(Some(evicted)) => evicted,
        Pushed::Kept(None) => return,
    };
    // Kept for the next crumb of this thread (when a long one grew it too
    // much, it is freed instead).
    if spare.text.capacity() <= CRUMB_TEXT * 2 {
        let _ = SPARE.try_with(|s| s.set(Some(spare)));
    }
}

/// A copy of the crumbs an error carries, oldest first; never waits.
pub(crate) fn snapshot(home: Home<'_>) -> Trail {
    match home {
        Home::Trace(trace) => trace.0.try_lock().map(|r| r.copy()).unwrap_or_default(),
        Home::Thread => LOCAL
            .try_with(|ring| ring.try_borrow().map(|r| r.copy()).unwrap_or_default())
            .unwrap_or_default(),
    }
}

/// Crumbs dropped so far (busy ring, or the process-wide bound), taken.
pub(crate) fn take_dropped() -> u64 {
    DROPPED.swap(0, Ordering::Relaxed)
}

/// The breadcrumbs an error carries: copied out of a ring in one string, so
/// the ring's crumbs stay its own (and reusable).
#[derive(Debug, Default, Clone)]
pub(crate) struct Trail {
    text: String,
    entries: Vec<Entry>,
    fields: Vec<(&'static str, usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    timestamp: SystemTime,
    level: Level,
    target: &'static str,
    message: (usize, usize),
    fields: (usize, usize),
}

/// One breadcrumb of a [`Trail`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    trail: &'a Trail,
    entry: &'a Entry,
}

impl<'a> View<'a> {
    pub(crate) fn timestamp(&self) -> SystemTime {
        self.entry.timestamp
    }

    pub(crate) fn level(&self) -> Level {
        self.entry.level
    }

    pub(crate) fn target(&self) -> &'static str {
        self.entry.target
    }

    pub(crate) fn message(&self) -> &'a str {
        let (a, b) = self.entry.message;
        self.trail.text.get(a..b).unwrap_or("")
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, &'a str)> + use<'a> {
        let (a, b) = self.entry.fields;
        let trail = self.trail;
        trail.fields[a..b]
            .iter()
            .map(move |(name, x, y)| (*name, trail.text.get(*x..*y).unwrap_or("")))
    }
}

impl Trail {
    fn push(&mut self, crumb: &Crumb) {
        let base = self.text.len();
        self.text.push_str(&crumb.text);
        let first = self.fields.len();
        for (name, a, b) in &crumb.fields[..crumb.len.min(CRUMB_FIELDS)] {
            self.fields.push((name, base + a, base + b));
        }
        self.entries.push(Entry {
            timestamp: crumb.timestamp,
            level: crumb.level,
            target: crumb.target,
            message: (base + crumb.message.0, base + crumb.message.1),
            fields: (first, self.fields.len()),
        });
    }

    fn push_view(&mut self, view: View<'_>) {
        let base = self.text.len();
        let (a, b) = view.entry.message;
        self.text.push_str(view.trail.text.get(a..b).unwrap_or(""));
        let message = (base, self.text.len());
        let first = self.fields.len();
        for (name, value) in view.fields() {
            let start = self.text.len();
            self.text.push_str(value);
            self.fields.push((name, start, self.text.len()));
        }
        self.entries.push(Entry {
            message,
            fields: (first, self.fields.len()),
            ..*view.entry
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The memory it holds, roughly.
    pub(crate) fn bytes(&self) -> usize {
        self.text.capacity()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.fields.capacity() * std::mem::size_of::<(&str, usize, usize)>()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = View<'_>> {
        self.entries
            .iter()
            .map(move |entry| View { trail: self, entry })
    }

    /// Both trails' crumbs, each once, oldest first, the newest
    /// [`BREADCRUMBS`] kept (two reports of one failure from different places).
    pub(crate) fn merge(&self, other: &Trail) -> Trail {
        let mut all: Vec<View<'_>> = self.iter().chain(other.iter()).collect();
        all.sort_by_key(|v| v.timestamp());
        all.dedup_by(|a, b| {
            a.timestamp() == b.timestamp() && a.target() == b.target() && a.message() == b.message()
        });
        let skip = all.len().saturating_sub(BREADCRUMBS);
        let mut out = Trail::default();
        for view in all.into_iter().skip(skip) {
            out.push_view(view);
        }
        out
    }
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

    fn crumb(text: &str) -> Crumb {
        let mut c = Crumb::empty();
        c.timestamp = SystemTime::now();
        c.text.push_str(text);
        c.message = (0, text.len());
        c
    }

    fn messages(trail: &Trail) -> Vec<String> {
        trail.iter().map(|v| v.message().to_owned()).collect()
    }

    #[test]
    fn a_ring_keeps_the_newest() {
        let trace = TraceCrumbs::default();
        for i in 0..(BREADCRUMBS + 5) {
            keep(Home::Trace(&trace), crumb(&format!("c{i}")));
        }
        let held = snapshot(Home::Trace(&trace));
        assert_eq!(held.len(), BREADCRUMBS);
        let m = messages(&held);
        assert_eq!(m[0], "c5");
        assert_eq!(m[BREADCRUMBS - 1], format!("c{}", BREADCRUMBS + 4));
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
        assert!(
            messages(&snapshot(Home::Thread))
                .iter()
                .any(|m| m == "here")
        );
    }

    #[test]
    fn trails_copy_fields_and_merge_once() {
        let mut c = crumb("m");
        c.text.push_str("42");
        c.fields[0] = ("n", 1, 3);
        c.len = 1;
        let trace = TraceCrumbs::default();
        keep(Home::Trace(&trace), c);
        keep(Home::Trace(&trace), crumb("later"));
        let a = snapshot(Home::Trace(&trace));
        let fields: Vec<_> = a.iter().next().unwrap().fields().collect();
        assert_eq!(fields, [("n", "42")]);
        let other = TraceCrumbs::default();
        keep(Home::Trace(&other), crumb("elsewhere"));
        let merged = a.merge(&snapshot(Home::Trace(&other))).merge(&a);
        assert_eq!(messages(&merged), ["m", "later", "elsewhere"]);
        let fields: Vec<_> = merged.iter().next().unwrap().fields().collect();
        assert_eq!(fields, [("n", "42")], "fields survive a merge");
    }
}
