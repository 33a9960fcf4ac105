//! Feature-usage counters.
//!
//! A `feature = "name"` field counts one use; counts are kept in the process and
//! sent as one usage event per feature per flush. A name allocates once, the
//! first time it is seen; every later use is a lock and an increment.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Longest feature name kept; longer names are cut (they are identifiers, not text).
const MAX_NAME: usize = 128;
/// Most distinct feature names counted; further names are ignored.
const MAX_NAMES: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    counts: Mutex<HashMap<Box<str>, u64>>,
}

impl Counters {
    /// The counts, for a caller: a few attempts, never a wait (a signal
    /// handler may have interrupted the holder; a forked child may hold a copy
    /// locked by a thread that is gone).
    fn try_counts(&self) -> Option<MutexGuard<'_, HashMap<Box<str>, u64>>> {
        crate::queue::lock_briefly(&self.counts)
    }

    /// Counts one use of `name`.
    pub(crate) fn hit(&self, name: &str) {
        let name = truncate(name);
        let Some(mut counts) = self.try_counts() else {
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
        if let Some(mut counts) = self.try_counts() {
            counts.clear();
        }
    }

    /// Takes the counts since the last call, leaving the names in place at zero.
    pub(crate) fn take(&self) -> Vec<(String, u64)> {
        let Some(mut counts) = self.try_counts() else {
            return Vec::new();
        };
        let mut used: Vec<(String, u64)> = counts
            .iter_mut()
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| (name.to_string(), std::mem::take(n)))
            .collect();
        used.sort();
        used
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
    fn distinct_names_are_bounded() {
        let c = Counters::default();
        for i in 0..(MAX_NAMES + 10) {
            c.hit(&format!("f{i}"));
        }
        assert_eq!(c.take().len(), MAX_NAMES);
    }
}
