//! Size limits: every text the layer keeps is cut as it is written, so memory,
//! scrubbing time and the size of what is sent follow the limits, never the
//! size of what the program logged.
//!
//! A cut text ends with `…[cut N bytes]`, N being the bytes left out. A cut
//! never leaves half a word: it backs off to the last blank or separator in the
//! last [`BACK_OFF`] bytes, so the start of a secret that straddled the limit
//! (an email, a token) is left out with the rest rather than sent unrecognised.

use std::fmt;

/// An error's message, and each exception value.
pub(crate) const MESSAGE: usize = 8 * 1024;
/// One breadcrumb: its message and field values together.
pub(crate) const CRUMB_TEXT: usize = 2 * 1024;
/// One field value of an event (extra data) or a span (span data).
pub(crate) const FIELD: usize = 1024;
/// Fields kept per event or span; further fields are left out (and counted).
pub(crate) const FIELDS: usize = 32;
/// Fields kept per breadcrumb.
pub(crate) const CRUMB_FIELDS: usize = 8;
/// Links of a `source()` chain kept: the outermost half and the innermost half,
/// with a marker between them saying how many were left out.
pub(crate) const CHAIN: usize = 32;
/// Tags per event: the crate's own and the program's together.
pub(crate) const TAGS: usize = 64;
/// Characters of a tag value, a release or an environment (GlitchTip indexes
/// 255 and refuses to store an event whose release is longer).
pub(crate) const TAG_VALUE: usize = 200;
/// Characters of a tag key.
pub(crate) const TAG_KEY: usize = 32;
/// One item (event or transaction) as serialised JSON: the Sentry protocol's
/// limit, and well under GlitchTip's 2.5 MB decompressed cap.
pub(crate) const ITEM: usize = 1024 * 1024;
/// Breadcrumbs kept per trace (root span tree) and per thread (outside spans).
pub(crate) const BREADCRUMBS: usize = 100;
/// Breadcrumbs held by the process's rings at once, whatever the number of
/// threads and traces: with [`CRUMB_TEXT`], about 10 MiB at most.
pub(crate) const LIVE_CRUMBS: usize = 4096;
/// Bytes of breadcrumbs copied into errors waiting for the worker; an error
/// queued past this carries none.
pub(crate) const QUEUED_CRUMB_BYTES: usize = 4 * 1024 * 1024;
/// How far back a cut looks for a blank or separator to end on.
pub(crate) const BACK_OFF: usize = 64;

/// Writes into a `String` until it holds `limit` bytes, counting what did not fit.
///
/// Formatting a 10 MB `Debug` value through it costs the formatting, not a
/// 10 MB allocation.
pub(crate) struct Bounded<'a> {
    buf: &'a mut String,
    start: usize,
    limit: usize,
    dropped: usize,
}

impl<'a> Bounded<'a> {
    /// Appends to `buf`, at most `limit` bytes from its current end.
    pub(crate) fn new(buf: &'a mut String, limit: usize) -> Self {
        let start = buf.len();
        Bounded {
            buf,
            start,
            limit: start.saturating_add(limit),
            dropped: 0,
        }
    }

    /// Ends the value: when anything was left out, backs off to a word
    /// boundary and appends the marker. Returns the bytes left out.
    pub(crate) fn finish(self) -> usize {
        if self.dropped == 0 {
            return 0;
        }
        let kept_from = back_off(self.buf, self.start);
        let dropped = self.dropped + (self.buf.len() - kept_from);
        self.buf.truncate(kept_from);
        mark(self.buf, dropped);
        dropped
    }
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.dropped > 0 {
            self.dropped = self.dropped.saturating_add(s.len());
            return Ok(());
        }
        let room = self.limit.saturating_sub(self.buf.len());
        if s.len() <= room {
            self.buf.push_str(s);
        } else {
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.buf.push_str(&s[..end]);
            self.dropped = s.len() - end;
        }
        Ok(())
    }
}

/// Where a cut text should end: after the last blank or separator within
/// [`BACK_OFF`] bytes of its end (but not before `start`), else at its end.
fn back_off(buf: &str, start: usize) -> usize {
    let end = buf.len();
    let mut from = end.saturating_sub(BACK_OFF).max(start);
    while !buf.is_char_boundary(from) {
        from += 1;
    }
    match buf[from..].rfind(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '|')) {
        Some(i) => from + i + 1,
        None => end,
    }
}

fn mark(buf: &mut String, dropped: usize) {
    use fmt::Write as _;
    let _ = write!(buf, "…[cut {dropped} bytes]");
}

/// Cuts `text` to at most `limit` bytes (plus the marker), in place.
pub(crate) fn cut(text: &mut String, limit: usize) -> usize {
    if text.len() <= limit {
        return 0;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    let kept_from = back_off(text, 0);
    let dropped = dropped + (text.len() - kept_from);
    text.truncate(kept_from);
    mark(text, dropped);
    dropped
}

/// `text` cut to at most `limit` characters (for tags, release, environment:
/// GlitchTip's limits count characters), with the marker inside the limit.
pub(crate) fn cut_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    // Room for the marker: "…[cut 123456 bytes]" is at most 22 characters.
    let keep = limit.saturating_sub(22);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let mut out = text[..end].to_owned();
    let from = back_off(&out, 0);
    out.truncate(from);
    mark(&mut out, text.len() - from);
    out
}

/// Formats `value` into a new string of at most `limit` bytes (plus the marker).
pub(crate) fn format_bounded(value: &dyn fmt::Debug, limit: usize) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    let mut w = Bounded::new(&mut out, limit);
    let _ = write!(w, "{value:?}");
    w.finish();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn short_text_is_untouched() {
        let mut s = String::new();
        let mut w = Bounded::new(&mut s, 16);
        w.write_str("hello").unwrap();
        assert_eq!(w.finish(), 0);
        assert_eq!(s, "hello");
        let mut t = "hello".to_owned();
        assert_eq!(cut(&mut t, 5), 0);
        assert_eq!(t, "hello");
    }

    #[test]
    fn long_text_is_cut_at_a_word_with_a_marker() {
        let mut s = String::new();
        let mut w = Bounded::new(&mut s, 20);
        w.write_str("contact alice@example.com now please").unwrap();
        let dropped = w.finish();
        // "contact alice@exampl" would leave half an email: it backs off to "contact ".
        assert_eq!(s, format!("contact …[cut {dropped} bytes]"));
        assert_eq!(dropped, "alice@example.com now please".len());
    }

    #[test]
    fn a_text_without_blanks_is_cut_at_the_limit() {
        let text = "x".repeat(1000);
        let mut t = text.clone();
        let dropped = cut(&mut t, 100);
        assert_eq!(dropped, 900);
        assert!(t.starts_with(&"x".repeat(100)));
        assert!(t.ends_with("…[cut 900 bytes]"));
    }

    #[test]
    fn cuts_respect_char_boundaries() {
        let text = "é".repeat(100); // 200 bytes
        let mut t = text.clone();
        cut(&mut t, 51);
        assert!(t.starts_with(&"é".repeat(25)));
        let mut s = String::new();
        let mut w = Bounded::new(&mut s, 51);
        w.write_str(&text).unwrap();
        w.finish();
        assert!(s.contains("…[cut"));
    }

    #[test]
    fn bounded_counts_everything_after_the_limit() {
        let mut s = String::from("prefix:");
        let mut w = Bounded::new(&mut s, 10);
        for _ in 0..1000 {
            w.write_str("abcdefghij").unwrap();
        }
        let dropped = w.finish();
        assert_eq!(dropped, 10_000 - 10);
        assert!(s.starts_with("prefix:abcdefghij…[cut"));
    }

    #[test]
    fn format_bounded_never_holds_the_whole_value() {
        let big = "y".repeat(5_000_000);
        let out = format_bounded(&format_args!("{big}"), 1024);
        assert!(out.len() < 1100, "{}", out.len());
        assert!(out.ends_with(&format!("…[cut {} bytes]", 5_000_000 - 1024)));
    }

    #[test]
    fn chars_are_counted_for_tags() {
        let v = "a".repeat(300);
        let out = cut_chars(&v, TAG_VALUE);
        assert!(out.chars().count() <= TAG_VALUE, "{}", out.chars().count());
        assert!(out.contains("…[cut"));
        assert_eq!(cut_chars("short", TAG_VALUE), "short");
    }
}
