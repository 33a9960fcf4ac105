//! Feature-usage counters.
//!
//! A `feature = "name"` field counts one use; counts are kept in the process and
//! sent as one usage event per feature per flush. A name allocates once per
//! shard, the first time it is seen there; every later use is a `try_lock` and
//! an increment.
//!
//! The counts are split over [`SHARDS`] maps. A thread counts in its own shard;
//! when that one is taken (another thread counting, or the worker taking the
//! counts) it counts in the next free one, so threads that log features at once
//! neither wait nor lose uses. Only when every shard stays taken for the
//! patience of [`lock_briefly`](crate::queue::lock_briefly) is a use dropped.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Longest feature name kept; longer names are cut (they are identifiers, not text).
const MAX_NAME: usize = 128;
/// Most distinct feature names counted (in each shard, and in what is sent);
/// further names are ignored.
const MAX_NAMES: usize = 1024;
/// Maps the counts are split over.
const SHARDS: usize = 8;

type Counts = HashMap<Box<str>, u64>;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    shards: [Mutex<Counts>; SHARDS],
}

/// Hands each thread a home shard, in turn.
static NEXT_HOME: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard.
fn home() -> usize {
    HOME.try_with(|home| {
        if home.get() == usize::MAX {
            home.set(NEXT_HOME.fetch_add(1, Ordering::Relaxed) % SHARDS);
        }
        home.get()
    })
    .unwrap_or(0)
}

impl Counters {
    /// A shard to count in, for a caller: this thread's own, else the first
    /// free one, else this thread's own after a brief try; never a wait (a
    /// signal handler may have interrupted the holder; a forked child may hold
    /// a copy locked by a thread that is gone).
    fn shard_for_caller(&self) -> Option<MutexGuard<'_, Counts>> {
        let home = home();
        for i in 0..SHARDS {
            if let Ok(counts) = self.shards[(home + i) % SHARDS].try_lock() {
                return Some(counts);
            }
        }
        crate::queue::lock_briefly(&self.shards[home])
    }

    /// Counts one use of `name`.
    pub(crate) fn hit(&self, name: &str) {
        let name = truncate(name);
        let Some(mut counts) = self.shard_for_caller() else {
            return;
        };
        if let Some(count) = counts.get_mut(name) {
            *count = count.saturating_add(1);
        } else if counts.len() < MAX_NAMES {
            counts.insert(name.into(), 1);
        }
    }

    /// Forgets every count (a forked child's copy of its parent's).
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            if let Some(mut counts) = crate::queue::lock_briefly(shard) {
                counts.clear();
            }
        }
    }

    /// Takes the counts since the last call, leaving the names in place at
    /// zero. A shard that stays taken keeps its counts for the next call.
    pub(crate) fn take(&self) -> Vec<(String, u64)> {
        let mut used: BTreeMap<String, u64> = BTreeMap::new();
        for shard in &self.shards {
            let Some(mut counts) = crate::queue::lock_briefly(shard) else {
                continue;
            };
            for (name, n) in counts.iter_mut().filter(|(_, n)| **n > 0) {
                let n = std::mem::take(n);
                if let Some(total) = used.get_mut(&**name) {
                    *total = total.saturating_add(n);
                } else if used.len() < MAX_NAMES {
                    used.insert(name.to_string(), n);
                }
            }
        }
        used.into_iter().collect()
    }
}

fn truncate(name: &str) -> &str {
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut end = MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let c = Counters::default();
        for _ in 0..3 {
            c.hit("capture.record");
        }
        c.hit("replay");
        assert_eq!(
            c.take(),
            vec![("capture.record".into(), 3), ("replay".into(), 1)]
        );
        assert!(c.take().is_empty(), "counts restart at zero after a take");
        c.hit("replay");
        assert_eq!(c.take(), vec![("replay".into(), 1)]);
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let c = Counters::default();
        let name = "é".repeat(100);
        c.hit(&name);
        let taken = c.take();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].0.len() <= MAX_NAME);
        assert!(name.starts_with(&taken[0].0));
    }

    #[test]
    fn a_taken_shard_sends_the_caller_to_another_and_loses_nothing() {
        let c = Counters::default();
        c.hit("warm"); // gives this thread its home shard
        let held = c.shards[home()].lock().unwrap();
        c.hit("capture.record");
        c.hit("capture.record");
        drop(held);
        c.hit("capture.record");
        assert_eq!(
            c.take(),
            vec![("capture.record".into(), 3), ("warm".into(), 1)]
        );
        // Every shard taken: the use is dropped, the caller does not wait.
        let held: Vec<_> = c.shards.iter().map(|s| s.lock().unwrap()).collect();
        c.hit("capture.record");
        drop(held);
        assert!(c.take().is_empty());
    }

    #[test]
    fn counts_from_many_threads_are_all_counted() {
        let c = Counters::default();
        let sum = |v: Vec<(String, u64)>| v.iter().map(|(_, n)| n).sum::<u64>();
        let taken_meanwhile = std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        c.hit("x");
                    }
                });
            }
            // The worker takes counts meanwhile.
            let taker = s.spawn(|| (0..100).map(|_| sum(c.take())).sum::<u64>());
            taker.join().unwrap()
        });
        assert_eq!(taken_meanwhile + sum(c.take()), 80_000);
    }

    #[test]
    fn distinct_names_are_bounded() {
        let c = Counters::default();
        for i in 0..(MAX_NAMES + 10) {
            c.hit(&format!("f{i}"));
        }
        assert_eq!(c.take().len(), MAX_NAMES);
    }
}
