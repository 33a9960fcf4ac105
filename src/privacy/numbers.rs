//! The rules for numbers that identify someone or something: MAC addresses,
//! IBANs (mod 97), card numbers (card network and Luhn), US social security
//! numbers, phone numbers in international and national form, and IPv6 and
//! IPv4 addresses. Each finds candidates with a pattern of [`Patterns`] and
//! keeps only those that pass its checks: not glued to a word, of a valid form,
//! not a version, a date or a loopback address.
//!
//! Passes work as in [`patterns`](super::patterns): `None` when nothing changed,
//! linear in the text.

use std::ops::Range;

use super::patterns::Patterns;
use super::rewrite::{
    Rewriter, at, before, escape_before, is_word, replace_simple, word_at, word_before,
};
use super::{Redactions, Rule};

/// MAC addresses: `00:1A:2B:3C:4D:5E`, `00-1A-2B-3C-4D-5E` (one separator
/// throughout), Cisco's `001a.2b3c.4d5e` (with a letter: three numbers of four
/// digits are kept), not part of a longer run of groups (IPv6 addresses, hex
/// dumps, EUI-64) nor glued to a word; `00:00:00:00:00:00` and
/// `ff:ff:ff:ff:ff:ff` identify no device and are kept.
pub(crate) fn macs(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let mut w = Rewriter::new(s);
    for m in p.mac.find_iter(s) {
        let text = m.as_str();
        let dotted = text.as_bytes()[4] == b'.';
        let sep = if dotted { b'.' } else { text.as_bytes()[2] };
        if !text
            .bytes()
            .filter(|c| !c.is_ascii_hexdigit())
            .all(|c| c == sep)
        {
            continue;
        }
        let (start, end) = (m.start(), m.end());
        let glued_before = word_before(s, start)
            || (before(s, start).is_some_and(|c| b":-.".contains(&c))
                && start >= 2
                && hex(start - 2));
        let glued_after =
            word_at(s, end) || (at(s, end).is_some_and(|c| b":-.".contains(&c)) && hex(end + 1));
        let digits: Vec<u8> = text
            .bytes()
            .filter(u8::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let anonymous = digits.iter().all(|c| *c == b'0') || digits.iter().all(|c| *c == b'f');
        let numbers_only = dotted && digits.iter().all(u8::is_ascii_digit);
        if glued_before || glued_after || anonymous || numbers_only {
            continue;
        }
        if w.replace(m.range(), "[mac]") {
            counts.bump(Rule::MacAddress);
        }
    }
    w.finish()
}

/// IBANs (mod-97 checked). A candidate that fails is retried without its last
/// space-separated group (`GB82WEST12345698765432 ABCD` still holds an IBAN), and
/// the search resumes right after the candidate's first character, not after the
/// whole candidate: in `AB12 GB82WEST12345698765432`, `AB12 GB82…` fails and
/// `GB82…` is the IBAN. A candidate is at most 43 bytes long, so the cost stays
/// linear.
pub(crate) fn ibans(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    let mut from = 0;
    while let Some(m) = p.iban.find_at(s, from) {
        // The match starts with an ASCII letter: `start + 1` is a char boundary.
        from = m.start() + 1;
        if word_before(s, m.start()) || m.start() < w.position() {
            continue;
        }
        let mut text = m.as_str();
        loop {
            let end = m.start() + text.len();
            if !word_at(s, end) && iban_valid(text) {
                if w.replace(m.start()..end, "[iban]") {
                    counts.bump(Rule::Iban);
                }
                from = end;
                break;
            }
            match text.rfind(' ') {
                Some(space) if space >= 15 => text = &text[..space],
                _ => break,
            }
        }
    }
    w.finish()
}

/// Whether `text` (spaces allowed) is an IBAN: 15 to 34 characters, mod 97 = 1.
pub(crate) fn iban_valid(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Card numbers: 13 to 19 digits, alone or in groups of 3 or more separated by one
/// space or dash, with a card network's first digits (2221–2720, 3, 4, 5, 6) and a
/// valid Luhn check digit.
pub(crate) fn cards(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    let bytes = s.as_bytes();
    for m in p.digit_run.find_iter(s) {
        let r = m.range();
        // Whether the run is glued to a word, a decimal number or a dotted version
        // (`x4111…`, `1.4111…`, `4111….5`): then a card cannot start at its first
        // group, or end at its last one. Groups inside the run are separated by a
        // space or a dash: `v1.2.3 4111…` still holds a card.
        let glued_start = word_before(s, r.start) || before(s, r.start) == Some(b'.');
        let glued_end = word_at(s, r.end)
            || (at(s, r.end) == Some(b'.') && at(s, r.end + 1).is_some_and(|b| b.is_ascii_digit()));
        // The digit groups of the run, as byte ranges.
        let mut groups: Vec<Range<usize>> = Vec::new();
        let mut start = r.start;
        for i in r.clone() {
            if !bytes[i].is_ascii_digit() {
                groups.push(start..i);
                start = i + 1;
            }
        }
        groups.push(start..r.end);
        let last = groups.len() - 1;
        let mut i = if glued_start { 1 } else { 0 };
        while i < groups.len() {
            let mut digits = 0;
            let mut found = None;
            for j in i..groups.len() {
                digits += groups[j].len();
                if digits > 19 || (j == last && glued_end) {
                    break;
                }
                if digits < 13 {
                    continue;
                }
                // One group, or the groups of a printed card: two numbers that
                // happen to pass the check (`5221846 732136`) are not a card.
                let grouped = i == j
                    || CARD_GROUPINGS.iter().any(|g| {
                        g.len() == j - i + 1
                            && g.iter().zip(&groups[i..=j]).all(|(n, r)| *n == r.len())
                    });
                if grouped && card_valid(&s[groups[i].start..groups[j].end]) {
                    found = Some(j);
                    break;
                }
            }
            match found {
                Some(j) => {
                    if w.replace(groups[i].start..groups[j].end, "[card]") {
                        counts.bump(Rule::Card);
                    }
                    i = j + 1;
                }
                None => i += 1,
            }
        }
    }
    w.finish()
}

/// How card numbers are printed in groups: 4-4-4-4 (and 13 to 19 digits with a
/// shorter last group), 4-6-5 and 4-6-4 (American Express, Diners Club).
const CARD_GROUPINGS: &[&[usize]] = &[
    &[4, 4, 4, 4],
    &[4, 4, 4, 4, 3],
    &[4, 4, 4, 4, 2],
    &[4, 4, 4, 4, 1],
    &[4, 4, 4, 3],
    &[4, 4, 4, 2],
    &[4, 4, 4, 1],
    &[4, 6, 5],
    &[4, 6, 4],
];

/// Whether `text` (digits with spaces or dashes) is a plausible card number.
pub(crate) fn card_valid(text: &str) -> bool {
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let network = match digits[0] {
        3..=6 => true,
        2 => {
            let prefix = digits[..4]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(*d));
            (2221..=2720).contains(&prefix)
        }
        _ => false,
    };
    network && luhn(&digits)
}

/// The Luhn check over decimal digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// US Social Security numbers `ddd-dd-dddd` (area not 000, 666 or 9xx; group not
/// 00; serial not 0000).
pub(crate) fn ssns(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    replace_simple(s, &p.ssn, "[ssn]", Rule::Ssn, counts, |s, r| {
        if word_before(s, r.start) || word_at(s, r.end) {
            return false;
        }
        if before(s, r.start) == Some(b'-')
            || (at(s, r.end) == Some(b'-') && at(s, r.end + 1).is_some_and(|b| b.is_ascii_digit()))
        {
            return false;
        }
        let t = &s.as_bytes()[r];
        let area = &t[0..3];
        area != b"000"
            && area != b"666"
            && area[0] != b'9'
            && &t[4..6] != b"00"
            && &t[7..11] != b"0000"
    })
}

/// Phone numbers in international form: `+`, then 9 to 15 digits in groups
/// separated by spaces, dots, dashes or parentheses. The number ends at the end
/// of the last group that keeps it within 15 digits, so a number followed by
/// more digits (`+44 20 7946 0958 (2024)`) is still found.
pub(crate) fn phones(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    for m in p.phone.find_iter(s) {
        if word_before(s, m.start()) {
            continue;
        }
        let mut digits = 0;
        let mut end = None;
        // The separators since the last digit.
        let mut gap = 0..0;
        // After the `+` (one byte).
        for (i, b) in m.as_str().bytes().enumerate().skip(1) {
            if !b.is_ascii_digit() {
                if gap.is_empty() {
                    gap = i..i;
                }
                gap.end = i + 1;
                continue;
            }
            // Groups are separated by one space, dot or dash, or parentheses:
            // `. ` or two spaces end the number.
            let sep = &m.as_str()[gap.clone()];
            if !PHONE_GAPS.contains(&sep) {
                break;
            }
            gap = 0..0;
            digits += 1;
            if digits > 15 {
                break;
            }
            // A group may end here, not glued to a word.
            let next = m.start() + i + 1;
            if digits >= 9 && !word_at(s, next) {
                end = Some(next);
            }
        }
        if let Some(end) = end
            && w.replace(m.start()..end, "[phone]")
        {
            counts.bump(Rule::Phone);
        }
    }
    w.finish()
}

/// What may separate the digit groups of a phone number.
const PHONE_GAPS: &[&str] = &[
    "", " ", ".", "-", "(", ")", " (", ") ", ")-", "-(", ").", ".(", " - ",
];

/// Phone numbers in national form, with separators or an area code in
/// parentheses (see [`national_phone`]): `555-123-4567`, `(555) 123-4567`,
/// `555.123.4567`, `1-555-123-4567`, `020 7946 0958`, `01 23 45 67 89`,
/// `0170-1234567`, `(030) 1234 5678`. A rejected candidate is searched again from
/// its second group, so text glued to its start does not hide a number after it;
/// a candidate is at most about 50 bytes long, so the cost stays linear.
pub(crate) fn national_phones(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    let mut from = 0;
    while let Some(m) = p.phone_national.find_at(s, from) {
        match national_phone(s, m.range()) {
            Some(end) => {
                if w.replace(m.start()..end, "[phone]") {
                    counts.bump(Rule::Phone);
                }
                from = end;
            }
            None => {
                // After the first group (the match is ASCII: any index is a
                // char boundary).
                let text = m.as_str().as_bytes();
                let first = text
                    .iter()
                    .skip(1)
                    .position(|b| !b.is_ascii_digit() && *b != b')')
                    .map_or(text.len(), |i| i + 1);
                from = m.start() + first;
            }
        }
    }
    w.finish()
}

/// Whether the candidate at `m` is a phone number in national form, and where
/// it ends (a number written with blanks may be followed by more numbers).
///
/// - North American: `ddd-ddd-dddd` or `ddd.ddd.dddd` (area code 2–9 first), also
///   after `1-` / `1.`; `(ddd) ddd-dddd`, `(ddd) ddd dddd`, `(ddd)ddd-dddd`.
/// - With a trunk prefix (`0`, not `00`): a first group of 2–5 digits, then groups
///   of 2–8, 10 to 12 digits in all, joined by `-` (2 groups or more), `.` or a
///   blank (3 groups or more), or after the first group in parentheses.
/// - Not glued to a word, a decimal or a dotted number, a path, an `@` or a `+`
///   before (`+` is the international rule's; an area code in parentheses only
///   to a digit), nor followed by a word or by a separator and a digit
///   (`10.0.19045.3803`, `2026-11-28-1`).
///
/// So dates (`2026-11-28`, `28.11.2026`, `01.02.2026`), times, versions, IPv4
/// addresses, UUIDs, bare digit runs and three numbers side by side
/// (`555 123 4567`) are not phone numbers.
fn national_phone(s: &str, m: Range<usize>) -> Option<usize> {
    let text = &s[m.clone()];
    let paren = text.starts_with('(');
    // An opening parenthesis is a boundary of its own: only a digit glues it.
    let glued_before = !escape_before(s, m.start)
        && before(s, m.start).is_some_and(|b| {
            if paren {
                b.is_ascii_digit()
            } else {
                is_word(b) || b".-/\\+@~%#$".contains(&b)
            }
        });
    if glued_before {
        return None;
    }
    // The digit groups, and the separator between them (blank or dash after
    // a parenthesised area code may mix).
    let groups: Vec<(usize, usize)> = {
        let b = text.as_bytes();
        let mut out = Vec::with_capacity(5);
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push((start, i));
            } else {
                i += 1;
            }
        }
        out
    };
    let sep = if paren {
        None
    } else {
        text.bytes().find(|b| !b.is_ascii_digit())
    };
    let ends_well = |end: usize| {
        let after = at(s, end);
        let next_digit = at(s, end + 1).is_some_and(|b| b.is_ascii_digit());
        let continues = matches!(after, Some(b'.' | b'-' | b':' | b'/' | b'\\')) && next_digit;
        !(after.is_some_and(is_word) || continues)
    };
    let len = |g: &(usize, usize)| g.1 - g.0;
    let digits = |gs: &[(usize, usize)]| gs.iter().map(len).sum::<usize>();
    let area = |g: &(usize, usize)| len(g) == 3 && text.as_bytes()[g.0] >= b'2';
    let trunk = |g: &(usize, usize)| {
        (2..=5).contains(&len(g))
            && text.as_bytes()[g.0] == b'0'
            && text.as_bytes()[g.0 + 1] != b'0'
    };
    let byte = |g: &(usize, usize)| text.as_bytes()[g.0];
    let nanp = |gs: &[(usize, usize)]| match (paren, sep, gs) {
        (true, _, [a, x, y]) | (false, Some(b'-' | b'.'), [a, x, y]) => {
            area(a) && len(x) == 3 && len(y) == 4
        }
        (false, Some(b'-' | b'.'), [one, a, x, y]) => {
            len(one) == 1 && byte(one) == b'1' && area(a) && len(x) == 3 && len(y) == 4
        }
        _ => false,
    };
    let trunk_number = |gs: &[(usize, usize)]| {
        let min_groups = match sep {
            None | Some(b'-') => 2,
            _ => 3,
        };
        gs.len() >= min_groups
            && trunk(&gs[0])
            && gs[1..].iter().all(|g| (2..=8).contains(&len(g)))
            && (10..=12).contains(&digits(gs))
    };
    // The longest run of groups that is a number and ends the number: a number
    // written with blanks may be followed by more numbers, while one written
    // with dashes or dots may not (`555-123-4567-89` is not one).
    (1..=groups.len()).rev().find_map(|n| {
        let end = m.start + groups[n - 1].1;
        ((nanp(&groups[..n]) || trunk_number(&groups[..n])) && ends_well(end)).then_some(end)
    })
}

/// IPv6 addresses (with a digit, so that Rust paths such as `Add::add` survive),
/// except `::` and the loopback `::1`. A trailing `:` or `.` (`addr fe80::1: down`)
/// is not part of the address.
pub(crate) fn ipv6(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    for m in p.ipv6.find_iter(s) {
        let text = m.as_str().trim_end_matches([':', '.']);
        let r = m.start()..m.start() + text.len();
        if text.is_empty()
            || word_before(s, r.start)
            || word_at(s, r.end)
            || before(s, r.start) == Some(b':')
        {
            continue;
        }
        let addr = text.split('%').next().unwrap_or_default();
        if !addr.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let public = addr
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| !ip.is_unspecified() && !ip.is_loopback());
        if public && w.replace(r, "[ip]") {
            counts.bump(Rule::Ip);
        }
    }
    w.finish()
}

/// IPv4 addresses, except loopback (127/8) and `0.0.0.0`. Dotted numbers with more
/// than four parts (versions) and numbers inside words survive.
pub(crate) fn ipv4(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    replace_simple(s, &p.ipv4, "[ip]", Rule::Ip, counts, |s, r| {
        if word_before(s, r.start) || word_at(s, r.end) || before(s, r.start) == Some(b'.') {
            return false;
        }
        if at(s, r.end) == Some(b'.') && at(s, r.end + 1).is_some_and(|b| b.is_ascii_digit()) {
            return false;
        }
        match s[r].parse::<std::net::Ipv4Addr>() {
            Ok(ip) => !ip.is_loopback() && !ip.is_unspecified(),
            Err(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::patterns::tests::table;
    use super::super::prefilter::maybe_mac;
    use super::*;

    #[test]
    fn mac_rule() {
        table(
            macs,
            Rule::MacAddress,
            &[
                ("eth0 00:1A:2B:3C:4D:5E up", Some("eth0 [mac] up")),
                ("hw 00-1a-2b-3c-4d-5e", Some("hw [mac]")),
                ("cisco 001a.2b3c.4d5e", Some("cisco [mac]")),
                ("mac=a4:83:e7:12:34:56,", Some("mac=[mac],")),
                ("(00:1A:2B:3C:4D:5E)", Some("([mac])")),
                ("link 00:1A:2B:3C:4D:5E: down", Some("link [mac]: down")),
                // Look-alikes that survive: times, IPv6, hex dumps, EUI-64,
                // mixed separators, numbers, all-zero and broadcast addresses.
                ("12:34:56", None),
                ("at 2024-01-15T10:30:00Z", None),
                ("fe80::1a2b:3c4d:5e6f:7a8b", None),
                ("2001:db8:0:0:0:0:2:1", None),
                ("00:1a:2b:3c:4d", None),
                ("00:1a:2b:3c:4d:5e:6f", None),
                ("de:ad:be:ef:00:11:22:33:44:55:66:77", None),
                ("00:1a:2b:ff:fe:3c:4d:5e", None),
                ("00:1a-2b:3c:4d:5e", None),
                ("1234.5678.9012", None),
                ("x00:1a:2b:3c:4d:5e", None),
                ("00:00:00:00:00:00", None),
                ("FF:FF:FF:FF:FF:FF", None),
                ("550e8400-e29b-41d4-a716-446655440000", None),
                ("version 10.0.19045.3803", None),
            ],
        );
        for (text, want) in [
            ("00:1A:2B:3C:4D:5E", true),
            ("x 00-1a-2b-3c-4d-5e", true),
            ("001a.2b3c.4d5e", true),
            ("00:1a:2b:3c:4d", false),
            ("00:1a-2b:3c:4d:5e", false),
            ("12:34:56 and 1.2.3", false),
            ("001a.2b3c", false),
        ] {
            assert_eq!(maybe_mac(text), want, "{text}");
        }
    }

    #[test]
    fn iban_rule() {
        table(
            ibans,
            Rule::Iban,
            &[
                (
                    "pay DE89 3704 0044 0532 0130 00 today",
                    Some("pay [iban] today"),
                ),
                ("GB82WEST12345698765432", Some("[iban]")),
                ("FR1420041010050500013M02606", Some("[iban]")),
                ("DE89 3704 0044 0532 0130 01", None),
                ("AB12CDEF34567890ABCD", None),
                ("X86_64", None),
                ("GB82WEST12345698765432 ABCD", Some("[iban] ABCD")),
                ("BE68 5390 0754 7034 ABCD", Some("[iban] ABCD")),
                ("BE68539007547034", Some("[iban]")),
            ],
        );
    }

    #[test]
    fn card_rule() {
        table(
            cards,
            Rule::Card,
            &[
                ("card 4111 1111 1111 1111 ok", Some("card [card] ok")),
                ("4111-1111-1111-1111", Some("[card]")),
                ("4111111111111111", Some("[card]")),
                ("amex 3782 822463 10005", Some("amex [card]")),
                (
                    "5555555555554444 and 2223003122003222",
                    Some("[card] and [card]"),
                ),
                ("4242424242424242 then 2024", Some("[card] then 2024")),
                ("4111 1111 1111 1111 2024", Some("[card] 2024")),
                // Luhn fails: an order number
                ("order 4111111111111112", None),
                ("order 1234567812345678", None),
                // no card network
                ("1705312200123456789", None),
                ("ts 1705312200123", None),
                ("1234567", None),
                ("4242", None),
                ("0.4111111111111111", None),
                ("4111111111111111.5", None),
                ("x4111111111111111", None),
                ("550e8400-e29b-41d4-a716-446655440000", None),
                ("2024-01-15T10:30:00Z", None),
                ("1 2 3 4 5 6 7 8 9 10 11 12 13 14", None),
                // Numbers side by side that pass the check are not grouped like a card.
                ("5221846 732136", None),
                ("ids 6721524 1392385357", None),
                ("v1.2.3 4111111111111111", Some("v1.2.3 [card]")),
                ("12 4111 1111 1111 1111", Some("12 [card]")),
            ],
        );
    }

    #[test]
    fn luhn_and_card_checks() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
        assert!(card_valid("4111 1111 1111 1111"));
        assert!(!card_valid("4111 1111 1111"));
        assert!(!card_valid("0000000000000000"));
        assert!(!card_valid("2000000000000008"));
    }

    #[test]
    fn ssn_rule() {
        table(
            ssns,
            Rule::Ssn,
            &[
                ("ssn 123-45-6789.", Some("ssn [ssn].")),
                ("078-05-1120", Some("[ssn]")),
                ("000-12-3456", None),
                ("666-12-3456", None),
                ("923-12-3456", None),
                ("123-00-4567", None),
                ("123-45-0000", None),
                ("2024-01-1234", None),
                ("1123-45-6789", None),
                ("123-45-67890", None),
                ("a123-45-6789", None),
            ],
        );
    }

    #[test]
    fn phone_rule() {
        table(
            phones,
            Rule::Phone,
            &[
                ("call +1 415 555 2671 now", Some("call [phone] now")),
                ("+44 20 7946 0958", Some("[phone]")),
                ("+491701234567", Some("[phone]")),
                ("(+1 (415) 555-2671)", Some("([phone])")),
                ("+33.1.23.45.67.89", Some("[phone]")),
                // Digits after the number do not hide it.
                ("+44 20 7946 0958 (2024)", Some("[phone] (2024)")),
                ("+1 415 555 2671. 2024-01-15", Some("[phone]. 2024-01-15")),
                ("+44 20 7946 0958x", None),
                ("+1", None),
                ("+5 seconds", None),
                ("offset +0200", None),
                ("1.0.0+20240115", None),
                ("+1234567", None),
                ("C++ 17", None),
            ],
        );
    }

    #[test]
    fn national_phone_rule() {
        table(
            national_phones,
            Rule::Phone,
            &[
                ("Call 555-123-4567", Some("Call [phone]")),
                ("(555) 123-4567", Some("[phone]")),
                ("call (555)123-4567.", Some("call [phone].")),
                ("(555) 123 4567 or", Some("[phone] or")),
                ("555.123.4567", Some("[phone]")),
                ("1-555-123-4567", Some("[phone]")),
                ("1 (555) 123-4567", Some("1 [phone]")),
                ("tel:555-123-4567", Some("tel:[phone]")),
                ("phone=555-123-4567;", Some("phone=[phone];")),
                ("(555-123-4567)", Some("([phone])")),
                ("x-(555) 123-4567", Some("x-[phone]")),
                ("f(555) 123-4567", Some("f[phone]")),
                (
                    "a 555-123-4567, b 555.765.4321",
                    Some("a [phone], b [phone]"),
                ),
                // Trunk-prefixed national forms (UK, France, Germany).
                ("020 7946 0958", Some("[phone]")),
                ("(020) 7946 0958", Some("[phone]")),
                ("01 23 45 67 89", Some("[phone]")),
                ("01.23.45.67.89", Some("[phone]")),
                ("0170-1234567", Some("[phone]")),
                ("(030) 1234 5678", Some("[phone]")),
                ("(01632) 960123", Some("[phone]")),
                ("020 7946 0958 12 times", Some("[phone] 12 times")),
                // Text glued before the first candidate does not hide the number.
                ("v 1 2 555-123-4567", Some("v 1 2 [phone]")),
                // Look-alikes that survive: bare digit runs, three numbers side by
                // side, dates, times, versions, IPs, UUIDs, ids, durations.
                ("5551234567", None),
                ("555 123 4567", None),
                ("07700 900123", None),
                ("2026-11-28", None),
                ("28.11.2026", None),
                ("01.02.2026", None),
                ("2026-11-28 12:34:56", None),
                ("12:34:56", None),
                ("1.2.3", None),
                ("10.0.19045", None),
                ("10.0.19045.3803", None),
                ("192.168.100.200", None),
                ("550e8400-e29b-41d4-a716-446655440000", None),
                ("12345678-1234-4123-8123-123456789012", None),
                ("order 1234-5678-9012", None),
                ("ORD-555-123-4567", None),
                ("x555-123-4567", None),
                ("555-123-4567-89", None),
                ("555-123-4567.5", None),
                ("+555-123-4567", None),
                ("155-123-4567", None),
                ("100-200-3000", None),
                ("555-12-3456", None),
                ("978-3-16-148410-0", None),
                ("0-306-40615-2", None),
                ("0000-00-00 00:00:00", None),
                ("001-234-5678", None),
                ("took 1.234567s", None),
                ("src/layer.rs:123:45", None),
                ("localhost:8080", None),
                ("6.8.0-45-generic", None),
                ("5.15.0-1034-azure", None),
                ("ts 1705312200123", None),
                ("retry 3/5 after 250 ms", None),
                ("/v1/555-123-4567", None),
                ("a.555-123-4567", None),
            ],
        );
    }

    #[test]
    fn ip_rules() {
        table(
            ipv4,
            Rule::Ip,
            &[
                ("from 192.168.1.23:8080", Some("from [ip]:8080")),
                ("203.0.113.7.", Some("[ip].")),
                ("10.0.0.0/8", Some("[ip]/8")),
                ("127.0.0.1", None),
                ("0.0.0.0:80", None),
                ("0.49.5", None),
                ("1.95.0", None),
                ("1.2.3.4.5", None),
                ("v1.2.3.4", None),
                ("300.1.1.1", None),
                ("6.1.0-18-amd64", None),
                ("10.0.19045.3803", None),
                ("2024-01-15T10:30:00.123Z", None),
            ],
        );
        table(
            ipv6,
            Rule::Ip,
            &[
                ("addr 2001:db8::8a2e:370:7334 down", Some("addr [ip] down")),
                ("[fe80::1%eth0]:80", Some("[[ip]]:80")),
                ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", Some("[ip]")),
                ("::ffff:192.168.1.1", Some("[ip]")),
                ("addr fe80::1: down", Some("addr [ip]: down")),
                ("::", None),
                ("::1", None),
                ("std::io::Error", None),
                ("Add::add", None),
                ("f64::EPSILON", None),
                ("openadapt_capture::record::start", None),
                ("10:30:00", None),
                ("2024-01-15T10:30:00Z", None),
                ("00:1a:2b:3c:4d:5e", None),
                ("src/layer.rs:42:7", None),
            ],
        );
    }
}
