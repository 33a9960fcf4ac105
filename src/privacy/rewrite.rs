//! How a rule rewrites text: the markers it writes, a rewriter that copies
//! nothing until the first replacement, and the byte tests that say where a
//! word or a match begins and ends. Every value rule builds on these.

use std::ops::Range;

use regex::Regex;

use super::{Redactions, Rule};

/// The replacement of a value whose key is sensitive.
pub(crate) const FILTERED: &str = "[Filtered]";

/// Every marker a rule writes: a value that is one of these is already scrubbed.
pub(crate) const MARKERS: &[&str] = &[
    FILTERED,
    "[private-key]",
    "[jwt]",
    "[api-key]",
    "[email]",
    "[iban]",
    "[card]",
    "[ssn]",
    "[phone]",
    "[ip]",
    "[mac]",
    "[webhook]",
    "<user>",
    "<home>",
    "<host>",
];

/// Builds the rewritten text lazily: nothing is allocated until the first
/// replacement.
pub(crate) struct Rewriter<'h> {
    src: &'h str,
    out: Option<String>,
    last: usize,
}

impl<'h> Rewriter<'h> {
    pub(crate) fn new(src: &'h str) -> Self {
        Self {
            src,
            out: None,
            last: 0,
        }
    }

    /// Replace `range` (in order, after earlier replacements; otherwise ignored).
    pub(crate) fn replace(&mut self, range: Range<usize>, with: &str) -> bool {
        let Some(before) = self.src.get(self.last..range.start) else {
            return false;
        };
        if range.end < range.start || !self.src.is_char_boundary(range.end) {
            return false;
        }
        let out = self
            .out
            // Room for a marker longer than what it replaces (`alice` → `<user>`).
            .get_or_insert_with(|| String::with_capacity(self.src.len() + 16));
        out.push_str(before);
        out.push_str(with);
        self.last = range.end;
        true
    }

    /// Where the next replacement may start.
    pub(crate) fn position(&self) -> usize {
        self.last
    }

    pub(crate) fn finish(self) -> Option<String> {
        let mut out = self.out?;
        out.push_str(self.src.get(self.last..).unwrap_or_default());
        Some(out)
    }
}

/// The byte before `i`, if any.
pub(crate) fn before(s: &str, i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| s.as_bytes().get(j).copied())
}

/// The byte at `i`, if any.
pub(crate) fn at(s: &str, i: usize) -> Option<u8> {
    s.as_bytes().get(i).copied()
}

/// A byte that continues a word (ASCII letters, digits, `_`).
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether an escape sequence (`\n`, `\r`, `\t`, as `Debug` and JSON write a
/// line break or a tab) ends right before `i`: a boundary, though it ends in a
/// letter.
pub(crate) fn escape_before(s: &str, i: usize) -> bool {
    let b = s.as_bytes();
    i >= 2 && b.get(i - 2) == Some(&b'\\') && matches!(b.get(i - 1), Some(b'n' | b'r' | b't'))
}

/// Whether a word ends right before `i` (an escape sequence is not a word).
pub(crate) fn word_before(s: &str, i: usize) -> bool {
    before(s, i).is_some_and(is_word) && !escape_before(s, i)
}

pub(crate) fn word_at(s: &str, i: usize) -> bool {
    at(s, i).is_some_and(is_word)
}

/// Replace every match of `re` that `accept` approves with `marker`, counting
/// each under `rule`.
pub(crate) fn replace_simple(
    s: &str,
    re: &Regex,
    marker: &str,
    rule: Rule,
    counts: &mut Redactions,
    mut accept: impl FnMut(&str, Range<usize>) -> bool,
) -> Option<String> {
    let mut w = Rewriter::new(s);
    for m in re.find_iter(s) {
        if accept(s, m.range()) && w.replace(m.range(), marker) {
            counts.bump(rule);
        }
    }
    w.finish()
}
