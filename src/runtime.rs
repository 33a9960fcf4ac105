//! Process-wide state, owned here and nowhere else: the live instances, the
//! one the free [`layer()`](crate::layer()) reports to, the one panic hook,
//! the exit handler and fork detection.
//!
//! - `layer()` forwards to the instance that is live now: the latest
//!   initialised with [`global`](crate::TelemetryBuilder::global) (the
//!   default) that has not been dropped; dropping a guard releases it and the
//!   one before takes over again.
//! - One panic hook for the process, installed at the first `init`, chained
//!   to the hook that was there before: that hook runs first (the panic
//!   message is printed at once), then the panic is reported once, to the
//!   latest live instance that captures panics, and written to the spool.
//! - At `exit` (`std::process::exit`, or returning from `main` with a guard
//!   still alive somewhere), what every live instance holds in memory is
//!   written to the spool.
//! - After `fork`, the child's copy of an instance has no worker thread: it
//!   forgets the parent's records and counts, never waits for a worker, and
//!   spools its own at exit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Instant;

use arc_swap::ArcSwapOption;

use crate::build::Assembly;
use crate::queue::{ErrorRecord, Link, Origin, Shared};

/// A running instance: what the exit paths need to spool what it holds.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) shared: Arc<Shared>,
    pub(crate) assembly: Arc<Assembly>,
    pub(crate) started: Instant,
    pub(crate) capture_panics: bool,
    pub(crate) global: bool,
    /// How long exit paths try the network before spooling.
    pub(crate) shutdown_timeout: std::time::Duration,
}

/// The instance `layer()` reports to.
static CURRENT: ArcSwapOption<Shared> = ArcSwapOption::const_empty();
/// Live instances, oldest first.
static LIVE: Mutex<Vec<Weak<Instance>>> = Mutex::new(Vec::new());
/// Bumped in a forked child (see [`generation`]).
static GENERATION: AtomicU64 = AtomicU64::new(0);
static HOOKS: Once = Once::new();

thread_local! {
    /// Set on the worker thread: nothing it (or its HTTP stack) emits is captured.
    pub(crate) static IN_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How many `fork`s this process is removed from the one that started it
/// (0 in the original process). An instance started in another generation is
/// a forked child's copy.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// The instance `layer()` reports to now, if any.
#[inline]
pub(crate) fn current() -> arc_swap::Guard<Option<Arc<Shared>>> {
    CURRENT.load()
}

fn live() -> std::sync::MutexGuard<'static, Vec<Weak<Instance>>> {
    match LIVE.lock() {
        Ok(live) => live,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Registers a started instance; installs the process-wide hooks once.
pub(crate) fn register(instance: &Arc<Instance>) {
    HOOKS.call_once(install);
    let mut live = live();
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(instance));
    if instance.global {
        CURRENT.store(Some(instance.shared.clone()));
    }
}

/// Forgets an instance that is being dropped; `layer()` goes back to the
/// latest live global one.
pub(crate) fn unregister(instance: &Instance) {
    let mut live = live();
    live.retain(|w| {
        w.upgrade()
            .is_some_and(|i| !Arc::ptr_eq(&i.shared, &instance.shared))
    });
    let is_current = CURRENT
        .load()
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(c, &instance.shared));
    if is_current {
        let next = live
            .iter()
            .rev()
            .filter_map(Weak::upgrade)
            .find(|i| i.global)
            .map(|i| i.shared.clone());
        CURRENT.store(next);
    }
}

/// The live instances, without waiting long for the list (exit paths).
fn live_instances() -> Vec<Arc<Instance>> {
    for _ in 0..1000 {
        match LIVE.try_lock() {
            Ok(live) => return live.iter().filter_map(Weak::upgrade).collect(),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                return p.into_inner().iter().filter_map(Weak::upgrade).collect();
            }
            Err(std::sync::TryLockError::WouldBlock) => std::thread::yield_now(),
        }
    }
    Vec::new()
}

fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The program's own hook first: its message is printed at once.
        previous(info);
        if IN_WORKER.with(std::cell::Cell::get) {
            return;
        }
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report_panic(info)));
    }));
    #[cfg(any(unix, windows))]
    {
        // SAFETY: registering a plain `extern "C" fn` that never unwinds.
        unsafe {
            libc::atexit(at_exit);
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: the child handler only bumps an atomic (async-signal-safe).
        unsafe {
            pthread_atfork(None, None, Some(at_fork_child));
        }
    }
}

#[cfg(unix)]
unsafe extern "C" {
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> libc::c_int;
}

#[cfg(unix)]
unsafe extern "C" fn at_fork_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        for instance in live_instances() {
            if instance.shared.active.load(Ordering::Relaxed) {
                instance.shared.check_fork();
                crate::worker::spill(&instance.shared, &instance.assembly, instance.started, true);
            }
        }
    });
}

/// Reports a panic once, to the latest live instance that captures panics:
/// sent, or written to the spool, before the panic goes on.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let Some(instance) = live_instances()
        .into_iter()
        .rev()
        .find(|i| i.capture_panics && i.shared.active.load(Ordering::Relaxed))
    else {
        return;
    };
    let shared = &instance.shared;
    shared.check_fork();
    let message = crate::build::panic_message(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    shared.push_error(ErrorRecord {
        chain: vec![Link {
            ty: "panic".to_owned(),
            value: message,
            kind: None,
        }],
        typed: true,
        crumbs: crate::crumbs::snapshot(crate::crumbs::Home::Thread),
        backtrace: crate::layer::capture_stack(shared),
        location,
        ..ErrorRecord::new(Origin::Panic, crate::random::random_u64())
    });
    // Sent now if the network takes it within the shutdown timeout (the worker
    // makes it durable first); else what is in memory goes to the spool.
    if !shared.orphan.load(Ordering::Relaxed) && shared.flush(instance.shutdown_timeout) {
        return;
    }
    crate::worker::spill(shared, &instance.assembly, instance.started, false);
}
