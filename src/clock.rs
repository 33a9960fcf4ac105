//! The clock the transport's backoff and rate limits read: the real monotonic
//! clock, moved forward by what a test has skipped (feature `test-util`,
//! `testing::Clock`), so a backoff schedule is tested in microseconds, not by
//! sleeping through it. Time only ever moves forward: waits on the real clock
//! (the worker's timers, request timeouts) still hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The real clock plus a shared offset (nanoseconds skipped by a test).
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    skipped: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A clock whose offset is moved by [`Clock::advance`] on it or on a clone.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn virtual_time() -> Self {
        Clock {
            skipped: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Now, on this clock.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        match &self.skipped {
            None => now,
            Some(skipped) => now + Duration::from_nanos(skipped.load(Ordering::Acquire)),
        }
    }

    /// Moves this clock (and its clones) forward by `by`; nothing on the real clock.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn advance(&self, by: Duration) {
        if let Some(skipped) = &self.skipped {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            skipped.fetch_add(nanos, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_clock_is_not_moved_and_a_virtual_one_is_for_every_clone() {
        let real = Clock::default();
        real.advance(Duration::from_secs(100));
        assert!(real.now() < Instant::now() + Duration::from_secs(1));

        let clock = Clock::virtual_time();
        let seen = clock.clone();
        let before = seen.now();
        clock.advance(Duration::from_secs(100));
        assert!(seen.now() >= before + Duration::from_secs(100));
    }
}
