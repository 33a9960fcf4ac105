//! The cheap byte prefilter: what one pass over a text's bytes shows, so that
//! the rules that cannot match are skipped.
//!
//! [`Profile`] counts digits, dots, colons, capitals and notes an `@`, a `/`, …
//! (vector code); [`Scan`] finds what the patterns need (a run of 13 digits for
//! cards, a key prefix for API keys, `/home/` for paths, …); the `maybe_*`
//! functions are one rule's gate each. A gate may say yes when its rule finds
//! nothing, never no when it would find something.

use std::sync::LazyLock;

/// Cheap facts about a text, from one pass over its bytes, that let passes which
/// cannot match be skipped. Passes only shrink these counts, so the facts about
/// the original text stay an upper bound.
///
/// The pass is written as sums of comparisons, which the compiler turns into
/// vector code: it costs about what JSON's escaping scan of the same text costs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Profile {
    pub(crate) digits: usize,
    pub(crate) dots: usize,
    pub(crate) colons: usize,
    pub(crate) upper: usize,
    pub(crate) at: bool,
    pub(crate) dash: bool,
    /// How many `-` (a MAC address written with dashes needs five).
    pub(crate) dashes: usize,
    pub(crate) eq: bool,
    pub(crate) slash: bool,
    pub(crate) tilde: bool,
    pub(crate) underscore: bool,
    /// A `b` or `B` (for `bearer`).
    pub(crate) b: bool,
}

/// For [`Profile::of_short`]: each byte's classes as 8-bit lanes of a `u128`
/// (digit, dot, colon, upper case, `@`, (unused), `-`, `=`, `/` or `\\`, `~`, `_`,
/// `b` or `B`), so that one addition per byte counts them all.
const LANES: [u128; 256] = {
    let mut t = [0u128; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let lane = match c {
            b'0'..=b'9' => 0,
            b'.' => 1,
            b':' => 2,
            b'A'..=b'Z' => 3,
            b'@' => 4,
            b'-' => 6,
            b'=' => 7,
            b'/' | b'\\' => 8,
            b'~' => 9,
            b'_' => 10,
            _ => 12,
        };
        if lane < 12 {
            t[b] = 1 << (8 * lane);
        }
        if c == b'b' {
            t[b] = 1 << (8 * 11);
        }
        if c == b'B' {
            t[b] |= 1 << (8 * 11);
        }
        b += 1;
    }
    t
};

impl Profile {
    pub(crate) fn of(s: &str) -> Self {
        if s.len() < 64 {
            Self::of_short(s.as_bytes())
        } else {
            Self::of_long(s)
        }
    }

    /// Short text: one table lookup and one addition per byte.
    fn of_short(bytes: &[u8]) -> Self {
        let mut acc = 0u128;
        for &b in bytes {
            acc += LANES[usize::from(b)];
        }
        let lane = |i: u32| ((acc >> (8 * i)) & 0xff) as usize;
        Self {
            digits: lane(0),
            dots: lane(1),
            colons: lane(2),
            upper: lane(3),
            at: lane(4) > 0,
            dash: lane(6) > 0,
            dashes: lane(6),
            eq: lane(7) > 0,
            slash: lane(8) > 0,
            tilde: lane(9) > 0,
            underscore: lane(10) > 0,
            b: lane(11) > 0,
        }
    }

    /// Longer text: counts in vector code, per block of at most 255 bytes.
    fn of_long(s: &str) -> Self {
        let (mut digits, mut dots, mut colons, mut upper) = (0usize, 0usize, 0usize, 0usize);
        let mut dashes = 0usize;
        let mut flags = 0u8;
        // Byte counters, summed per block of at most 255 bytes: vector code.
        for block in s.as_bytes().chunks(255) {
            let (mut d, mut o, mut c, mut u, mut h) = (0u8, 0u8, 0u8, 0u8, 0u8);
            let (mut at, mut dash, mut eq) = (0u8, 0u8, 0u8);
            let (mut slash, mut tilde, mut under, mut b_) = (0u8, 0u8, 0u8, 0u8);
            for &b in block {
                d += u8::from(b.wrapping_sub(b'0') < 10);
                u += u8::from(b.wrapping_sub(b'A') < 26);
                o += u8::from(b == b'.');
                c += u8::from(b == b':');
                at |= u8::from(b == b'@');
                dash |= u8::from(b == b'-');
                h += u8::from(b == b'-');
                eq |= u8::from(b == b'=');
                slash |= u8::from(b == b'/') | u8::from(b == b'\\');
                tilde |= u8::from(b == b'~');
                under |= u8::from(b == b'_');
                b_ |= u8::from(b | 0x20 == b'b');
            }
            digits += usize::from(d);
            dots += usize::from(o);
            colons += usize::from(c);
            upper += usize::from(u);
            dashes += usize::from(h);
            flags |= at | dash << 2 | eq << 3 | slash << 4 | tilde << 5 | under << 6 | b_ << 7;
        }
        let flag = |bit: u8| flags & (1 << bit) != 0;
        Self {
            digits,
            dots,
            colons,
            upper,
            at: flag(0),
            dash: flag(2),
            dashes,
            eq: flag(3),
            slash: flag(4),
            tilde: flag(5),
            underscore: flag(6),
            b: flag(7),
        }
    }
}

impl Profile {
    /// Whether a rule that needs no knowledge of this machine may match a text
    /// of `len` bytes with this profile (`false` only when none can). The
    /// conditions are those under which `Scrubber::scrub_str` runs each pass.
    pub(crate) fn may_need_rules(&self, len: usize) -> bool {
        self.at
            || self.slash
            || self.tilde
            || self.eq
            || self.colons > 0
            || self.digits >= 9
            || (self.dash && self.upper >= 10)
            || (self.dots >= 2 && self.upper > 0)
            || (len >= 14 && (self.dash || self.underscore || self.upper >= 4))
            || (self.b && len >= 15)
            || (self.digits >= 2 && self.upper >= 2 && len >= 15)
            || (self.dots >= 3 && self.digits >= 4)
    }
}

/// What the patterns need, found in one pass over the text (the tests check
/// each field against a plain definition: `digit_runs`, `maybe_api_key`,
/// `paths::maybe_user_path`, `maybe_iban`, `plus_digit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The most digits in a number whose groups are joined by one ` ` or `-`.
    pub(crate) run: usize,
    /// The most groups in a number whose groups are joined by one `.`.
    pub(crate) dotted: usize,
    /// The most digits in a number whose groups are joined by one `.`.
    pub(crate) dot_run: usize,
    /// A prefix of a known API key shape.
    pub(crate) api_key: bool,
    /// `/home/`, `\\home\\`, `/homes`, `/users`, `\\Users`, `/Documents and` (any
    /// case).
    pub(crate) user_path: bool,
    /// `bearer` (any case).
    pub(crate) bearer: bool,
    /// Two capital letters, then two digits.
    pub(crate) iban: bool,
    /// `+` and a digit.
    pub(crate) plus_digit: bool,
    /// `(` and a digit (an area code in parentheses).
    pub(crate) paren_digit: bool,
}

/// API key prefixes that come before a `_` or `-`.
const KEY_PREFIXES: &[&[u8]] = &[
    b"ghp",
    b"gho",
    b"ghu",
    b"ghs",
    b"ghr",
    b"github_pat",
    b"xoxa",
    b"xoxb",
    b"xoxp",
    b"xoxr",
    b"xoxs",
    b"xapp",
    b"sk",
    b"rk",
    b"pk",
    b"glpat",
    b"hf",
    b"npm",
];

impl Scan {
    pub(crate) fn of(s: &str) -> Self {
        let b = s.as_bytes();
        let starts_ci = |i: usize, word: &[u8]| {
            b.get(i..i + word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        };
        let mut scan = Scan::default();
        let (mut run, mut dotted, mut dot_run) = (0usize, 0usize, 0usize);
        let (mut prev, mut prev2) = (0u8, 0u8);
        for (i, &c) in b.iter().enumerate() {
            // Most bytes are lower-case letters that start nothing.
            if c.is_ascii_lowercase() && c != b'b' {
                (prev2, prev) = (prev, c);
                continue;
            }
            match c {
                b'0'..=b'9' => {
                    if !prev.is_ascii_digit() {
                        // A group starts: the same number if one separator joins it.
                        match (prev2.is_ascii_digit(), prev) {
                            (true, b' ' | b'-') => (dotted, dot_run) = (0, 0),
                            (true, b'.') => run = 0,
                            _ => (run, dotted, dot_run) = (0, 0, 0),
                        }
                        dotted += 1;
                        scan.dotted = scan.dotted.max(dotted);
                    }
                    run += 1;
                    scan.run = scan.run.max(run);
                    dot_run += 1;
                    scan.dot_run = scan.dot_run.max(dot_run);
                }
                b'_' | b'-' => {
                    scan.api_key |= KEY_PREFIXES.iter().any(|p| b[..i].ends_with(p));
                }
                b'A' => {
                    let next = &b[i + 1..];
                    scan.api_key |= next.starts_with(b"KIA")
                        || next.starts_with(b"SIA")
                        || next.starts_with(b"Iza");
                    scan.iban |= b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
                        && b.get(i + 2).is_some_and(u8::is_ascii_digit)
                        && b.get(i + 3).is_some_and(u8::is_ascii_digit);
                }
                b'B'..=b'Z' => {
                    scan.iban |= b.get(i + 1).is_some_and(u8::is_ascii_uppercase)
                        && b.get(i + 2).is_some_and(u8::is_ascii_digit)
                        && b.get(i + 3).is_some_and(u8::is_ascii_digit);
                    scan.bearer |= c == b'B' && starts_ci(i + 1, b"earer");
                }
                b'b' => scan.bearer |= starts_ci(i + 1, b"earer"),
                b'/' | b'\\' => {
                    scan.user_path |= starts_ci(i + 1, b"home")
                        && matches!(b.get(i + 5), Some(b'/' | b'\\' | b's' | b'S'))
                        || starts_ci(i + 1, b"users")
                        || starts_ci(i + 1, b"documents and");
                }
                b'+' => scan.plus_digit |= b.get(i + 1).is_some_and(u8::is_ascii_digit),
                b'(' => scan.paren_digit |= b.get(i + 1).is_some_and(u8::is_ascii_digit),
                _ => {}
            }
            prev2 = prev;
            prev = c;
        }
        scan
    }
}

/// The most digits in a run of digit groups separated by one space or dash
/// (what a card number, an SSN or a phone number's groups need), the most
/// digit groups separated by single dots (an IPv4 address needs 4), and the
/// most digits in such a dotted number (a phone number written with dots needs
/// 10). Text between numbers is skipped quickly.
#[cfg(test)]
pub(crate) fn digit_runs(s: &str) -> (usize, usize, usize) {
    let b = s.as_bytes();
    let (mut best_run, mut best_dotted, mut best_dot_run) = (0, 0, 0);
    let mut i = 0;
    while let Some(k) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(u8::is_ascii_digit))
    {
        // A number: digit groups joined by one ` `, `-` or `.`.
        i += k;
        let (mut run, mut dotted, mut dot_run) = (0, 0, 0);
        loop {
            let group = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            run += group;
            dotted += 1;
            dot_run += group;
            best_run = best_run.max(run);
            best_dotted = best_dotted.max(dotted);
            best_dot_run = best_dot_run.max(dot_run);
            i += group;
            match (b.get(i), b.get(i + 1)) {
                (Some(b' ' | b'-'), Some(d)) if d.is_ascii_digit() => (dotted, dot_run) = (0, 0),
                (Some(b'.'), Some(d)) if d.is_ascii_digit() => run = 0,
                _ => break,
            }
            i += 1;
        }
    }
    (best_run, best_dotted, best_dot_run)
}

/// Whether an API key of a known shape can start in `s`: one of their prefixes
/// before a `_` or `-` (`ghp_`, `xoxb-`, `sk-`, `npm_`, …), or `AKIA`, `ASIA`,
/// `AIza`. A cheap test that skips the pattern.
#[cfg(test)]
pub(crate) fn maybe_api_key(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'_' | b'-' => KEY_PREFIXES.iter().any(|p| b[..i].ends_with(p)),
        b'A' => {
            let next = &b[i + 1..];
            next.starts_with(b"KIA") || next.starts_with(b"SIA") || next.starts_with(b"Iza")
        }
        _ => false,
    })
}

/// Whether an IPv6 address can be in `s`: a run of hexadecimal digits, `:`, `.`
/// and `%` with a decimal digit and either `::` or seven colons (`Add::add`,
/// `capture::encode::chunk3` and `10:30:00` cannot hold one).
pub(crate) fn maybe_ipv6(s: &str) -> bool {
    let (mut colons, mut double, mut digit, mut prev) = (0, false, false, 0u8);
    for &b in s.as_bytes() {
        match b {
            b':' => {
                colons += 1;
                double |= prev == b':';
            }
            b'0'..=b'9' => digit = true,
            b'a'..=b'f' | b'A'..=b'F' | b'.' | b'%' => {}
            _ => {
                if digit && (double || colons >= 7) {
                    return true;
                }
                (colons, double, digit) = (0, false, false);
            }
        }
        prev = b;
    }
    digit && (double || colons >= 7)
}

/// Whether an IBAN can start in `s`: two capital letters, then two digits.
#[cfg(test)]
pub(crate) fn maybe_iban(s: &str) -> bool {
    s.as_bytes().windows(4).any(|w| {
        w[0].is_ascii_uppercase()
            && w[1].is_ascii_uppercase()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    })
}

/// Whether a `+` is followed by a digit (a phone number in international form).
#[cfg(test)]
pub(crate) fn plus_digit(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'+' && w[1].is_ascii_digit())
}

/// Whether a `(` is followed by a digit (an area code in parentheses).
#[cfg(test)]
pub(crate) fn paren_digit(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'(' && w[1].is_ascii_digit())
}

/// Whether [`national_phones`] may match, from the profile's digit count and
/// the scan: 10 digits, and 10 of them in one number joined by blanks or
/// dashes, or 5 after an area code in parentheses, or 10 in one dotted number
/// of three groups or more.
///
/// [`national_phones`]: super::numbers::national_phones
pub(crate) fn maybe_national_phone(prof: &Profile, scan: &Scan) -> bool {
    prof.digits >= 10
        && (scan.run >= 10
            || (scan.paren_digit && scan.run >= 5)
            || (scan.dotted >= 3 && scan.dot_run >= 10))
}

/// Whether `haystack` contains `needle` (ASCII, lower case), ignoring ASCII case.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    let h = haystack.as_bytes();
    // Candidates by the first byte, either case (vector code), then the rest.
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), h).any(|i| {
        h.get(i + 1..i + n.len())
            .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
    })
}

/// Whether [`cloud_keys`] may match: with an `=`, `key` or `sig` (any case:
/// `AccountKey=`, `SharedAccessSignature=`, `sig=`, `secret_access_key=`);
/// without, `secret`, `Secret` or `SECRET` (an AWS secret after its name) in
/// text long enough to hold it; or the prefix of an AWS access key id
/// (`scan_api_key`, from [`Scan`]).
///
/// [`cloud_keys`]: super::patterns::cloud_keys
pub(crate) fn maybe_cloud_key(s: &str, eq: bool, scan_api_key: bool) -> bool {
    // `secret`, `Secret`, `SECRET`: vectorised searches for a rare word, not a
    // candidate at every `s` of a path.
    static SECRET: LazyLock<[memchr::memmem::Finder<'static>; 3]> = LazyLock::new(|| {
        [b"secret".as_slice(), b"Secret", b"SECRET"].map(memchr::memmem::Finder::new)
    });
    scan_api_key
        || (eq && (contains_ci(s, "key") || contains_ci(s, "sig")))
        || (s.len() >= 56 && SECRET.iter().any(|f| f.find(s.as_bytes()).is_some()))
}

/// Whether a webhook URL written without a scheme may be in `s` (text with a
/// `:` is searched anyway): `hook` (Slack, Zapier, Make, Teams, webhook.site,
/// any `/hooks/`). One vectorised search.
pub(crate) fn maybe_bare_webhook(s: &str) -> bool {
    static HOOK: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"hook"));
    HOOK.find(s.as_bytes()).is_some()
}

/// Whether a MAC address can be in `s`: six pairs of hexadecimal digits joined
/// by `:` or `-`, or three groups of four joined by `.`. One pass over the
/// separators.
#[cfg(test)]
pub(crate) fn maybe_mac(s: &str) -> bool {
    maybe_mac_pairs(s) || maybe_cisco_mac(s)
}

/// Whether six pairs of hexadecimal digits joined by one `:` or `-` may be in
/// `s` (a pass over the `:` and `-`).
pub(crate) fn maybe_mac_pairs(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let mut streak = 0;
    let mut last: Option<usize> = None;
    for i in memchr::memchr2_iter(b':', b'-', b) {
        if i >= 2 && hex(i - 2) && hex(i - 1) && hex(i + 1) && hex(i + 2) {
            let joined = last.is_some_and(|l| l + 3 == i && b[l] == b[i]);
            streak = if joined { streak + 1 } else { 1 };
            last = Some(i);
            if streak >= 5 {
                return true;
            }
        }
    }
    false
}

/// Whether three groups of four hexadecimal digits joined by `.` may be in `s`
/// (a pass over the dots).
pub(crate) fn maybe_cisco_mac(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    memchr::memchr_iter(b'.', b).any(|i| {
        i >= 4
            && (i - 4..i).all(hex)
            && (i + 1..i + 5).all(hex)
            && b.get(i + 5) == Some(&b'.')
            && (i + 6..i + 10).all(hex)
    })
}

#[cfg(test)]
mod tests {
    use super::super::Redactions;
    use super::super::numbers::national_phones;
    use super::super::patterns::tests::patterns;
    use super::*;

    #[test]
    fn profile_counts() {
        let p = Profile::of("a@b:1.2/3~=+-_");
        assert_eq!((p.digits, p.dots, p.colons), (3, 1, 1));
        assert!(p.at && p.dash && p.eq && p.slash && p.tilde && p.underscore && p.b);
        let p = Profile::of("plain");
        assert!(!p.slash && !p.b && !p.underscore);
        assert!(Profile::of("a\\b").slash);
        assert_eq!(Profile::of("AbC").upper, 2);
        assert_eq!(Profile::of("é日本").digits, 0);
        // Short and long text are profiled alike.
        for text in [
            "a@b:1.2/3~=+-_ Bb AZ az 09 \\ é",
            "",
            "plain",
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio",
        ] {
            let long = text.repeat(300);
            let short = Profile::of_short(text.as_bytes());
            let many = Profile::of_long(&long);
            assert_eq!(
                (
                    short.digits * 300,
                    short.dots * 300,
                    short.colons * 300,
                    short.upper * 300,
                    short.dashes * 300
                ),
                (many.digits, many.dots, many.colons, many.upper, many.dashes),
                "{text}"
            );
            assert_eq!(
                [
                    short.at,
                    short.dash,
                    short.eq,
                    short.slash,
                    short.tilde,
                    short.underscore,
                    short.b
                ],
                [
                    many.at,
                    many.dash,
                    many.eq,
                    many.slash,
                    many.tilde,
                    many.underscore,
                    many.b
                ],
                "{text}"
            );
        }
    }

    #[test]
    fn prefilters() {
        let cases: &[(&str, (usize, usize, usize))] = &[
            ("", (0, 0, 0)),
            ("4111 1111 1111 1111", (16, 1, 4)),
            ("4111-1111-1111-1111x", (16, 1, 4)),
            ("078-05-1120", (9, 1, 4)),
            ("12 - 34", (2, 1, 2)),
            ("1  2", (1, 1, 1)),
            ("203.0.113.7", (3, 4, 8)),
            ("v1.2.3.4.5 and 1.2", (1, 5, 5)),
            ("tokio-1.40.0/src", (2, 3, 4)),
            ("1949cf8c6b5b557f", (4, 1, 4)),
            ("a.1.2", (1, 2, 2)),
            ("555.123.4567", (4, 3, 10)),
        ];
        for (text, want) in cases {
            assert_eq!(digit_runs(text), *want, "{text}");
        }
        for key in [
            "ghp_x",
            "a github_pat_x",
            "AKIAX",
            "ASIAX",
            "AIzaX",
            "xoxb-1",
            "sk-x",
            "sk_live_x",
            "rk_x",
            "glpat-x",
            "hf_x",
            "npm_x",
            "xapp-1",
        ] {
            assert!(maybe_api_key(key), "{key}");
        }
        for text in [
            "src/layer.rs",
            "tokio-1.40.0",
            "AKI",
            "A",
            "_-",
            "open_file",
        ] {
            assert!(!maybe_api_key(text), "{text}");
        }
        for text in [
            "2001:db8::1",
            "fe80::1%eth0",
            "x ::ffff:1.2.3.4 y",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ] {
            assert!(maybe_ipv6(text), "{text}");
        }
        for text in [
            "Add::add",
            "capture::encode::chunk3",
            "a:1",
            "::",
            "std::io::Error",
            "10:30:00",
        ] {
            assert!(!maybe_ipv6(text), "{text}");
        }
        assert!(maybe_iban("iban GB82 WEST"));
        assert!(maybe_iban("DE89370400440532013000"));
        assert!(!maybe_iban("2024-01-15T10:30:00Z and G8"));
        assert!(plus_digit("call +44 20"));
        assert!(!plus_digit("C++ 17 and +x"));
        for text in [
            "",
            "4111 1111 1111 1111 and 078-05-1120, 203.0.113.7 v1.2.3.4.5",
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.40.0/src",
            "ghp_x AKIAX sk-1 C:\\Users\\Bob /home/x Bearer b BEARER GB82 +44",
            "1 - 2 1..2 1.-2 -1-2-",
            "(555) 123-4567 555.123.4567 \\\\wsl$\\Ubuntu\\home\\x",
        ] {
            assert_eq!(Scan::of(text), scan_by_parts(text), "{text}");
        }
    }

    /// [`Scan`] as the plain definitions compute it.
    fn scan_by_parts(text: &str) -> Scan {
        let (run, dotted, dot_run) = digit_runs(text);
        Scan {
            run,
            dotted,
            dot_run,
            api_key: maybe_api_key(text),
            user_path: super::super::paths::maybe_user_path(text),
            bearer: contains_ci(text, "bearer"),
            iban: maybe_iban(text),
            plus_digit: plus_digit(text),
            paren_digit: paren_digit(text),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// The national phone pass runs only where it may match: whatever it
        /// changes, the scrubber's gate for it lets through.
        #[test]
        fn national_phone_gate_is_sound(text in "[0-9 .()\\-]{0,40}") {
            if national_phones(patterns(), &text, &mut Redactions::default()).is_some() {
                let (prof, scan) = (Profile::of(&text), Scan::of(&text));
                proptest::prop_assert!(maybe_national_phone(&prof, &scan), "{:?}", text);
                proptest::prop_assert!(prof.may_need_rules(text.len()));
            }
        }

        /// The one-pass scan agrees with the plain definitions.
        #[test]
        fn scan_agrees(text in "[0-9 .\\-+_/\\\\AKISzabehmorsuxBEGH(]{0,40}") {
            proptest::prop_assert_eq!(Scan::of(&text), scan_by_parts(&text));
        }
    }

    #[test]
    fn contains_ignoring_case() {
        assert!(contains_ci("x BeArEr y", "bearer"));
        assert!(contains_ci("bearer", "bearer"));
        assert!(!contains_ci("beare", "bearer"));
        assert!(!contains_ci("", "bearer"));
        assert!(contains_ci("é", ""));
        assert!(contains_ci("C:\\USERS\\x", "users"));
    }
}
