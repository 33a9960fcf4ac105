//! The memo: what the gate made of the texts it scrubbed before (a hand-made
//! open-addressing table over two text arenas, bounded in texts and bytes),
//! and the keyed hash it is looked up by.

use std::sync::LazyLock;

use super::{CompactRedactions, Redactions};

/// Texts already scrubbed, by this item or earlier ones: what each became
/// (`None`: unchanged) and what was redacted in it. An open-addressing table over
/// two text arenas, so a text costs no allocation of its own; when it holds
/// [`MEMO_MAX`] texts or [`MEMO_MAX_BYTES`] of text, it starts again empty.
///
/// It lives as long as the scrubber and holds texts of the process's own
/// telemetry: nothing that is not already in this process's memory.
#[derive(Default)]
pub(crate) struct Memo {
    /// Slots of `entries` by hash (`u32::MAX`: empty); a power of two long.
    slots: Vec<u32>,
    entries: Vec<MemoEntry>,
    texts: String,
    outs: String,
    /// The redactions of the entries that had any.
    deltas: Vec<CompactRedactions>,
    /// Hashes of texts seen once, by their high bits: a text is remembered when
    /// it comes again, so that texts that never repeat (messages with numbers in
    /// them) do not crowd out those that do (paths, names, tags).
    seen: Vec<u64>,
}

struct MemoEntry {
    hash: u64,
    /// Where the text is in `texts`.
    text: Span,
    /// Where what it became is in `outs` (`None`: unchanged).
    out: Option<Span>,
    /// Index in `deltas` (`u32::MAX`: nothing was redacted).
    delta: u32,
    /// As a key, whether the key rule filters its value (`None`: not known yet).
    sensitive: Option<bool>,
}

/// A range of one of the memo's arenas (which never exceed [`MEMO_MAX_BYTES`]).
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// The span of `s` pushed onto `arena`, or `None` if it does not fit in `u32`s.
    fn push(arena: &mut String, s: &str) -> Option<Span> {
        let span = Span {
            start: u32::try_from(arena.len()).ok()?,
            len: u32::try_from(s.len()).ok()?,
        };
        arena.push_str(s);
        Some(span)
    }

    fn of(self, arena: &str) -> Option<&str> {
        let start = usize::try_from(self.start).ok()?;
        let end = start.checked_add(usize::try_from(self.len).ok()?)?;
        arena.get(start..end)
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("texts", &self.entries.len())
            .field("bytes", &(self.texts.len() + self.outs.len()))
            .finish()
    }
}

impl Memo {
    /// The entry of `s` (whose hash is `hash`), if it is remembered.
    pub(crate) fn find(&self, hash: u64, s: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = bucket(hash) & mask;
        loop {
            let index = usize::try_from(*self.slots.get(i)?).ok()?;
            let entry = self.entries.get(index)?;
            if entry.hash == hash && entry.text.of(&self.texts) == Some(s) {
                return Some(index);
            }
            i = (i + 1) & mask;
        }
    }

    /// What the entry at `index` became (`None`: unchanged); what was redacted
    /// in it is added to `counts`.
    pub(crate) fn entry(&self, index: usize, counts: &mut Redactions) -> Option<&str> {
        let entry = self.entries.get(index)?;
        if let Some(delta) = usize::try_from(entry.delta)
            .ok()
            .and_then(|d| self.deltas.get(d))
        {
            counts.add_compact(delta);
        }
        entry.out.and_then(|span| span.of(&self.outs))
    }

    /// As a key, whether the entry at `index` is sensitive, if known.
    pub(crate) fn sensitive(&self, index: usize) -> Option<bool> {
        self.entries.get(index).and_then(|e| e.sensitive)
    }

    pub(crate) fn set_sensitive(&mut self, index: usize, sensitive: bool) {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.sensitive = Some(sensitive);
        }
    }

    /// How many texts are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no text is remembered.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn get(&self, s: &str) -> Option<(Option<&str>, Redactions)> {
        let mut counts = Redactions::default();
        let index = self.find(text_hash(s), s)?;
        Some((self.entry(index, &mut counts), counts))
    }

    /// Remember `s` (whose hash is `hash`) and what it became; returns its entry.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        s: &str,
        out: Option<&str>,
        delta: Redactions,
    ) -> Option<usize> {
        let bytes = self.texts.len() + self.outs.len() + s.len() + out.map_or(0, str::len);
        if self.entries.len() >= MEMO_MAX || bytes > MEMO_MAX_BYTES {
            self.clear();
        }
        if 2 * (self.entries.len() + 1) > self.slots.len() {
            // At most half full: probes stay short.
            self.grow();
        }
        let (Ok(index), Ok(delta_index)) = (
            u32::try_from(self.entries.len()),
            u32::try_from(self.deltas.len()),
        ) else {
            return None;
        };
        let text = Span::push(&mut self.texts, s)?;
        let out = match out.map(|o| Span::push(&mut self.outs, o)) {
            Some(None) => return None,
            Some(Some(span)) => Some(span),
            None => None,
        };
        let delta = if delta.is_empty() {
            u32::MAX
        } else {
            self.deltas.push(delta.compact()?);
            delta_index
        };
        let i = self.free_slot(hash);
        self.slots[i] = index;
        self.entries.push(MemoEntry {
            hash,
            text,
            out,
            delta,
            sensitive: None,
        });
        Some(self.entries.len() - 1)
    }

    /// The first empty slot for `hash` (the table is never full).
    fn free_slot(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = bucket(hash) & mask;
        while self.slots[i] != u32::MAX {
            i = (i + 1) & mask;
        }
        i
    }

    /// Twice the slots (at least 64), every entry placed again.
    fn grow(&mut self) {
        if self.slots.is_empty() {
            // A typical item's texts, without growing the arenas on the way.
            self.entries.reserve(64);
            self.texts.reserve(4 << 10);
            self.outs.reserve(2 << 10);
        }
        let len = (2 * self.slots.len()).max(64);
        self.slots = vec![u32::MAX; len];
        for (index, entry) in self.entries.iter().enumerate() {
            if let Ok(index) = u32::try_from(index) {
                let i = self.free_slot(entry.hash);
                self.slots[i] = index;
            }
        }
    }

    /// Whether a text of this hash was seen before (and if not, note it).
    pub(crate) fn admit(&mut self, hash: u64) -> bool {
        if self.seen.is_empty() {
            self.seen = vec![0; SEEN_SLOTS];
        }
        let slot = bucket(hash) & (SEEN_SLOTS - 1);
        match self.seen.get_mut(slot) {
            Some(seen) if *seen == hash => true,
            Some(seen) => {
                *seen = hash;
                false
            }
            None => false,
        }
    }

    /// Forget every text (the allocations are kept).
    pub(crate) fn clear(&mut self) {
        self.slots.fill(u32::MAX);
        self.entries.clear();
        self.texts.clear();
        self.outs.clear();
        self.deltas.clear();
    }
}

/// Shorter texts are scrubbed again rather than remembered.
pub(crate) const MEMO_MIN_LEN: usize = 8;
/// Longer texts are scrubbed again rather than remembered.
pub(crate) const MEMO_MAX_LEN: usize = 2048;
/// Texts seen once are noted in a table of this many hashes (a power of two).
const SEEN_SLOTS: usize = 2048;
/// At most this many texts are remembered.
const MEMO_MAX: usize = 2048;
/// At most this many bytes of text (before and after) are remembered.
const MEMO_MAX_BYTES: usize = 256 << 10;

/// A random key of this process for [`text_hash`], so that no text can be made
/// to collide with others in every process.
static HASH_KEY: LazyLock<u64> = LazyLock::new(|| {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
});

/// A fast hash for the memo (every hit is checked against the text itself):
/// 16 bytes per folded multiplication, as `foldhash` and `wyhash` do, keyed per
/// process.
pub(crate) fn text_hash(s: &str) -> u64 {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x1319_8a2e_0370_7344;
    let fold = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let b = s.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ *HASH_KEY;
    let (mut lo, mut hi) = (0, 0);
    if b.len() >= 16 {
        let mut chunks = b.chunks_exact(16);
        for chunk in &mut chunks {
            h = fold(word(&chunk[..8]) ^ K0 ^ h, word(&chunk[8..]) ^ K1);
        }
        if !chunks.remainder().is_empty() {
            // The last 16 bytes, overlapping the chunk before.
            let tail = &b[b.len() - 16..];
            (lo, hi) = (word(&tail[..8]), word(&tail[8..]));
        }
    } else if b.len() >= 8 {
        (lo, hi) = (word(&b[..8]), word(&b[b.len() - 8..]));
    } else {
        let mut buf = [0u8; 8];
        buf[..b.len()].copy_from_slice(b);
        lo = u64::from_le_bytes(buf);
    }
    fold(lo ^ K0 ^ h, hi ^ K1 ^ h.rotate_left(32))
}

/// Where a hash starts its probe: its high bits.
fn bucket(hash: u64) -> usize {
    (hash >> 40) as usize
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::privacy::tests::alice as scrubber;

    #[test]
    fn memo_stays_within_its_bounds() {
        let s = scrubber();
        let (mut last, mut emptied) = (0, 0);
        // Distinct texts, each seen twice, beyond both the count and the bytes.
        for chunk in 0..(MEMO_MAX / 100 + 10) {
            for round in 0..2 {
                let crumbs: Vec<Value> = (0..100)
                    .map(|i| json!({"message": format!("opened /home/alice/file{chunk}_{i}.txt{}", "x".repeat(i))}))
                    .collect();
                let mut item = json!({"breadcrumbs": {"values": crumbs}});
                s.scrub_item("event", &mut item, &mut Redactions::default());
                let crumbs = item["breadcrumbs"]["values"].as_array().unwrap();
                for (i, crumb) in crumbs.iter().enumerate() {
                    let want = format!("opened /home/<user>/file{chunk}_{i}.txt{}", "x".repeat(i));
                    assert_eq!(crumb["message"], want.as_str(), "{chunk} {round}");
                }
                let memo = s.memo.lock().unwrap();
                assert!(memo.entries.len() <= MEMO_MAX);
                assert!(memo.texts.len() + memo.outs.len() <= MEMO_MAX_BYTES);
                assert!(memo.slots.len() <= 2 * MEMO_MAX);
                // What the docs promise: well under a MiB, tables included.
                let held = memo.slots.capacity() * size_of::<u32>()
                    + memo.entries.capacity() * size_of::<MemoEntry>()
                    + memo.texts.capacity()
                    + memo.outs.capacity()
                    + memo.deltas.capacity() * size_of::<CompactRedactions>()
                    + memo.seen.capacity() * size_of::<u64>();
                assert!(held < 1 << 20, "{held} bytes");
                if memo.entries.len() < last {
                    emptied += 1;
                }
                last = memo.entries.len();
            }
        }
        assert!(emptied > 0, "the memo never started again");
    }
}
