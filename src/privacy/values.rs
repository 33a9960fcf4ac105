//! The value rules that need no knowledge of this machine: secrets, contact data,
//! card numbers, addresses and URLs found in free text.
//!
//! Every pass takes the text and returns `None` when it changed nothing (so the
//! caller keeps borrowing), or the rewritten text. Passes are linear in the text:
//! regexes (the `regex` crate never backtracks) plus bounded checks around each
//! match, and a pass that rejects a candidate resumes after it.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::keys;
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

/// The compiled patterns (all literals; `patterns_compile` proves they compile).
#[derive(Debug)]
pub(crate) struct Patterns {
    pem_begin: Regex,
    pem_end: Regex,
    url: Regex,
    oracle: Regex,
    cloud: Regex,
    webhook: Regex,
    mac: Regex,
    jwt: Regex,
    api_key: Regex,
    bearer: Regex,
    email: Regex,
    iban: Regex,
    digit_run: Regex,
    ssn: Regex,
    phone: Regex,
    phone_national: Regex,
    ipv6: Regex,
    ipv4: Regex,
    pub(crate) path_user: Regex,
    pub(crate) tilde: Regex,
}

/// The patterns, compiled once. `Err` never happens for these literals (a test
/// proves it); if it did, the scrubber fails closed (see `Scrubber::scrub_str`).
pub(crate) static PATTERNS: LazyLock<Result<Patterns, regex::Error>> = LazyLock::new(Patterns::new);

/// What ends a user-name segment of a path, besides blanks: separators and the
/// characters that cannot be in a file name or that delimit one in text.
pub(crate) const NAME_STOPS: &[char] = &[
    '/', '\\', ':', '*', '?', '"', '\'', '<', '>', '|', ',', ';', '(', ')', '[', ']', '{', '}',
];

/// [`NAME_STOPS`] and blanks end a user-name segment: the pattern for one.
fn name_pattern() -> String {
    let stops: String = NAME_STOPS
        .iter()
        .map(|c| regex::escape(c.encode_utf8(&mut [0; 4])))
        .collect();
    format!(r"[^\s{stops}]+")
}

impl Patterns {
    fn new() -> Result<Self, regex::Error> {
        let windows_sep = r"(?:\\+|/)";
        let name = name_pattern();
        // A UNC server or share, or the `?` / `.` of `\\?\` and `\\.\`. A UNC
        // path starts after a character that cannot be in a path (not after
        // `C:` or a name: `C:\\data\\home\\x` is a path escaped, not a UNC path).
        let segment = format!(r"(?:{name}|[?.])");
        let path_user = format!(
            r#"(?x)
            (?:^|[^A-Za-z0-9._~\-]|\\[ntr])
            (?:
                (?:
                    (?:/var|/export|/usr)?/home/
                  | (?:/mnt|/cygdrive)?/[A-Za-z]/(?i:users)/
                  | (?:/System/Volumes/Data)?/(?i:users)/
                )
                {name}
              |
                (?:
                    (?:\\\\[?.]\\)?[A-Za-z]:{windows_sep}
                    (?:(?i:users|documents\ and\ settings)|(?i:cygwin|cygwin64|msys64|msys32|msys2){windows_sep}(?i:home))
                  | \\+(?i:users)
                )
                {windows_sep}
                (?:{name}(?:\ {name}){{1,3}}{windows_sep}|{name})
            )
            | (?:^|[^A-Za-z0-9._~\-:$\\/]|\\[ntr])
              \\{{2,}}{segment}(?:{windows_sep}{segment}){{0,3}}{windows_sep}
              (?i:users|home|homes|documents\ and\ settings){windows_sep}
              (?:{name}(?:\ {name}){{1,3}}{windows_sep}|{name})"#
        );
        Ok(Self {
            pem_begin: Regex::new(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")?,
            pem_end: Regex::new(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")?,
            url: Regex::new(
                r#"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?://|\\/\\/)(?P<userinfo>[^\s/?#"'<>\[\]]*@)?(?P<rest>[^\s?#"'<>]*)(?P<query>\?[^\s#"'<>]*)?(?P<fragment>#[^\s"'<>]*)?"#,
            )?,
            oracle: Regex::new(r"(?i:jdbc:oracle:[a-z0-9]+:)(?:@?//)?")?,
            cloud: Regex::new(
                r#"(?x)
                (?P<azure>(?i:AccountKey|SharedAccessKey|SharedAccessSignature)[\ \t]*=[\ \t]*)
                | (?P<sig>(?:^|[?&;\s"'])(?i:sig)=)
                | (?i:secret[_.\-\ ]?access[_.\-\ ]?key)["']?[\s:=>,"']{1,8}(?P<aws>[A-Za-z0-9/+]{40})
                | (?:AKIA|ASIA)[A-Z0-9]{16}[\s:,;|"'=/]{1,4}(?P<aws_pair>[A-Za-z0-9/+]{40})"#,
            )?,
            // Where a webhook's path starts; the path runs on (see `webhooks`).
            webhook: Regex::new(
                r#"(?x)
                (?i:
                    hooks\.slack\.com
                  | discord(?:app)?\.com
                  | webhook\.office\.com
                  | outlook\.office(?:365)?\.com
                  | logic\.azure\.com
                  | hooks\.zapier\.com
                  | maker\.ifttt\.com
                  | api\.telegram\.org
                  | hook\.(?:[a-z0-9]+\.)?make\.com
                  | hook\.integromat\.com
                  | m\.pipedream\.net
                  | webhook\.site
                  | chat\.googleapis\.com
                )
                (?::[0-9]{1,5})?(?:/|\\/)
                | /hooks/[A-Za-z0-9]{20}"#,
            )?,
            mac: Regex::new(
                r"[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
            )?,
            jwt: Regex::new(
                r"eyJ[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]{2,}(?:\.[A-Za-z0-9_\-]*){1,3}",
            )?,
            api_key: Regex::new(
                r"(?x)
                gh[pousr]_[A-Za-z0-9]{20,}
                | github_pat_[A-Za-z0-9_]{20,}
                | (?:AKIA|ASIA)[A-Z0-9]{16}
                | xox[abprs]-[A-Za-z0-9\-]{10,}
                | xapp-[0-9]+-[A-Za-z0-9\-]{10,}
                | AIza[0-9A-Za-z_\-]{35}
                | sk-[A-Za-z0-9_\-]{20,}
                | (?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}
                | glpat-[A-Za-z0-9_\-]{20,}
                | hf_[A-Za-z0-9]{30,}
                | npm_[A-Za-z0-9]{36}",
            )?,
            bearer: Regex::new(r"(?i:bearer)[ \t]+(?P<token>[A-Za-z0-9\-._~+/]+=*)")?,
            email: Regex::new(
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            )?,
            iban: Regex::new(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?")?,
            digit_run: Regex::new(r"[0-9]+(?:[ \-][0-9]+)*")?,
            ssn: Regex::new(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")?,
            phone: Regex::new(r"\+[1-9][0-9 .\-()]{6,24}")?,
            // Candidates only: `national_phone` decides. One separator kind per
            // number (after an area code in parentheses, blanks and dashes); the
            // first group is an area code (2-9) or starts with a trunk `0`.
            phone_national: Regex::new(
                r"(?x)
                \((?:[2-9][0-9]{2}|0[1-9][0-9]{0,3})\)[\ \-]?[0-9]{2,8}(?:[\ \-][0-9]{2,8}){0,3}
                | (?:1-)?[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}
                | (?:1\.)?[2-9][0-9]{2}\.[0-9]{3}\.[0-9]{4}
                | 0[1-9][0-9]{0,3}(?:-[0-9]{2,8}){1,4}
                | 0[1-9][0-9]{0,3}(?:\.[0-9]{2,8}){2,4}
                | 0[1-9][0-9]{0,3}(?:\ [0-9]{2,8}){2,4}",
            )?,
            ipv6: Regex::new(r"[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z]+)?")?,
            ipv4: Regex::new(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")?,
            path_user: Regex::new(&path_user)?,
            tilde: Regex::new(r"~[A-Za-z_][A-Za-z0-9._\-]{0,31}")?,
        })
    }
}

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
fn word_before(s: &str, i: usize) -> bool {
    before(s, i).is_some_and(is_word) && !escape_before(s, i)
}

fn word_at(s: &str, i: usize) -> bool {
    at(s, i).is_some_and(is_word)
}

/// Replace every match of `re` that `accept` approves with `marker`, counting
/// each under `rule`.
fn replace_simple(
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

/// A private key block longer than this (a 16384-bit RSA key is about 13 KB)
/// is not looked for its END line: it is taken as truncated.
const PEM_MAX: usize = 64 << 10;

/// PEM private key blocks, from the BEGIN line to the next END line; a block
/// without its END line (truncated) runs as far as base64 and blanks go.
///
/// Not one regex: a lazy `BEGIN(?s:.)*?END` searches to the end of the text for
/// every BEGIN line that has no END, which is quadratic. Here the END lines are
/// found once, in one pass, and each BEGIN line takes the next one.
pub(crate) fn private_keys(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    if !s.contains("PRIVATE KEY") {
        return None;
    }
    let ends: Vec<Range<usize>> = p.pem_end.find_iter(s).map(|m| m.range()).collect();
    let mut next = 0;
    let mut w = Rewriter::new(s);
    let mut from = 0;
    while let Some(begin) = p.pem_begin.find_at(s, from) {
        while ends.get(next).is_some_and(|e| e.start < begin.end()) {
            next += 1;
        }
        let end = match ends.get(next) {
            Some(e) if e.start - begin.end() <= PEM_MAX => e.end,
            _ => begin.end() + truncated_pem_len(&s[begin.end()..]),
        };
        if w.replace(begin.start()..end, "[private-key]") {
            counts.bump(Rule::PrivateKey);
        }
        from = end;
    }
    w.finish()
}

/// How far the body of a truncated key block runs: base64, blanks, escaped line
/// breaks, and the `:`/`,`/`-` of headers such as `Proc-Type: 4,ENCRYPTED`.
fn truncated_pem_len(text: &str) -> usize {
    text.char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c.is_whitespace() || "+/=\\:,-".contains(c)))
        .map_or(text.len(), |(i, _)| i)
}

/// URLs keep scheme, host, port and path; user-info becomes `[Filtered]@`, the
/// query `?[Filtered]` and the fragment `#[Filtered]`. User-info runs to the
/// last `@` before the host (a password may hold an `@`); `:\/\/` (JSON with
/// escaped slashes) starts a URL too.
pub(crate) fn urls(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let b = s.as_bytes();
    if !memchr::memchr_iter(b':', b)
        .any(|i| b.get(i + 1..i + 3) == Some(b"//") || b.get(i + 1..i + 5) == Some(b"\\/\\/"))
    {
        return None;
    }
    let mut w = Rewriter::new(s);
    // Find the URLs first (fast); only one with user-info, a query or a fragment
    // is taken apart (captures are slower), on its own text: the same match.
    for url in p.url.find_iter(s) {
        if !url.as_str().contains(['@', '?', '#']) {
            continue;
        }
        let Some(caps) = p.url.captures(url.as_str()) else {
            continue;
        };
        let parts = [
            (caps.name("userinfo"), "[Filtered]@", Rule::UrlUserinfo),
            (caps.name("query"), "?[Filtered]", Rule::UrlQuery),
            (caps.name("fragment"), "#[Filtered]", Rule::UrlQuery),
        ];
        for (part, marker, rule) in parts {
            if let Some(m) = part
                && m.as_str() != marker
                && m.len() > 1
                && w.replace(url.start() + m.start()..url.start() + m.end(), marker)
            {
                counts.bump(rule);
            }
        }
    }
    w.finish()
}

/// Oracle's JDBC URLs carry `user/password@` with no `//` before them
/// (`jdbc:oracle:thin:scott/tiger@host:1521:orcl`): they become `[Filtered]@`,
/// like a URL's user-info (up to the last `@` of the URL: a password may hold
/// one).
pub(crate) fn oracle_urls(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    if !contains_ci(s, "jdbc:oracle:") {
        return None;
    }
    let mut w = Rewriter::new(s);
    let mut token = Token::default();
    // The last `@` of the run the previous match was in (one search per run).
    let mut last_at: Option<(usize, Option<usize>)> = None;
    for m in p.oracle.find_iter(s) {
        if m.start() < w.position() {
            continue;
        }
        let end = token.end(s, m.end());
        let at = match last_at {
            Some((run_end, at)) if run_end == end => at,
            _ => {
                let at = memchr::memrchr(b'@', &s.as_bytes()[m.end()..end]).map(|i| m.end() + i);
                last_at = Some((end, at));
                at
            }
        };
        let Some(at) = at.filter(|at| *at > m.end()) else {
            continue;
        };
        let at = at - m.end();
        let creds = &s[m.end()..m.end() + at];
        let user_ok = creds
            .split_once('/')
            .is_some_and(|(user, _)| !user.is_empty() && !user.contains(['@', ':']));
        if user_ok && w.replace(m.end()..m.end() + at, FILTERED) {
            counts.bump(Rule::UrlUserinfo);
        }
    }
    w.finish()
}

/// The end of a run of text with no blank, quote or angle bracket, remembered:
/// a pass that looks from several starts in one run scans it once.
#[derive(Default)]
struct Token {
    start: usize,
    end: usize,
}

impl Token {
    /// Where the run that holds `from` ends (what may end it: blanks, quotes,
    /// `<`, `>`, and `extra`).
    fn end_with(&mut self, s: &str, from: usize, extra: &[u8]) -> usize {
        if !(self.start <= from && from <= self.end) || self.end == 0 {
            let b = s.as_bytes();
            let len = b[from..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || b"\"'<>".contains(c) || extra.contains(c))
                .unwrap_or(b.len() - from);
            (self.start, self.end) = (from, from + len);
        }
        self.end
    }

    fn end(&mut self, s: &str, from: usize) -> usize {
        self.end_with(s, from, b"")
    }
}

/// Whether [`cloud_keys`] may match: with an `=`, `key` or `sig` (any case:
/// `AccountKey=`, `SharedAccessSignature=`, `sig=`, `secret_access_key=`);
/// without, `secret`, `Secret` or `SECRET` (an AWS secret after its name) in
/// text long enough to hold it; or the prefix of an AWS access key id
/// (`scan_api_key`, from [`Scan`]).
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

/// Cloud storage account keys: Azure connection strings' `AccountKey=`,
/// `SharedAccessKey=` and `SharedAccessSignature=` values (to the next `;`), a
/// shared access signature's `sig=` (20 characters or more) outside a URL, and
/// an AWS secret access key (exactly 40 characters of base64) after a
/// `secret_access_key`-style name or right after an access key id
/// (`AKIA…:secret`): the secret becomes `[Filtered]`.
pub(crate) fn cloud_keys(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let b = s.as_bytes();
    let mut w = Rewriter::new(s);
    for caps in p.cloud.captures_iter(s) {
        let Some(all) = caps.get(0) else {
            continue;
        };
        if all.start() < w.position() {
            continue;
        }
        let value = if caps.name("azure").is_some() {
            let len = b[all.end()..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || b";\"'<>".contains(c))
                .unwrap_or(b.len() - all.end());
            (len > 0).then(|| all.end()..all.end() + len)
        } else if caps.name("sig").is_some() {
            let len = b[all.end()..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || b"%+/=_-".contains(c)))
                .unwrap_or(b.len() - all.end());
            (len >= 20).then(|| all.end()..all.end() + len)
        } else {
            // An AWS secret is exactly 40 characters.
            caps.name("aws")
                .or_else(|| caps.name("aws_pair"))
                .filter(|v| {
                    !at(s, v.end())
                        .is_some_and(|c| c.is_ascii_alphanumeric() || b"/+=".contains(&c))
                })
                .map(|v| v.range())
        };
        if let Some(value) = value
            && &s[value.clone()] != FILTERED
            && w.replace(value, FILTERED)
        {
            counts.bump(Rule::CloudKey);
        }
    }
    w.finish()
}

/// Webhook URLs whose path is the secret: Slack (`hooks.slack.com/…`), Discord
/// (`discord.com/api/webhooks/…`), Microsoft Teams and Office 365
/// (`….webhook.office.com/…`, `outlook.office.com/webhook…`, Power Automate's
/// `….logic.azure.com/workflows/…`), Zapier, IFTTT, Telegram bots
/// (`api.telegram.org/bot…`), Make, Pipedream, webhook.site, Google Chat; and
/// any `/hooks/` followed by an id of 20 characters or more (Mattermost,
/// Rocket.Chat). Scheme and host are kept, the path (to a blank, a quote, `?`
/// or `#`) becomes `/[webhook]`; slashes escaped (`\/`) or not. The scrubber
/// runs this pass on text with a `:` (a scheme) or with `hook` (the hosts that
/// are written without one: Slack, Zapier, Make, Teams).
pub(crate) fn webhooks(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    let mut token = Token::default();
    for m in p.webhook.find_iter(s) {
        if m.start() < w.position() {
            continue;
        }
        let text = m.as_str();
        let start = if text.starts_with("/hooks/") {
            m.start()
        } else {
            // A host of its own (`ptb.discord.com`), not part of another name.
            let glued = before(s, m.start())
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let slash = if text.ends_with("\\/") { 2 } else { 1 };
            let host = text[..text.len() - slash]
                .split(':')
                .next()
                .unwrap_or_default();
            let path = &s[m.end() - slash..];
            let mut head = path.len().min(32);
            while !path.is_char_boundary(head) {
                head -= 1;
            }
            if glued || !webhook_path(host, &path[..head]) {
                continue;
            }
            m.end() - slash
        };
        let end = token.end_with(s, start, b"?#");
        if end > start + 1 && w.replace(start..end, "/[webhook]") {
            counts.bump(Rule::Webhook);
        }
    }
    w.finish()
}

/// Whether a webhook URL written without a scheme may be in `s` (text with a
/// `:` is searched anyway): `hook` (Slack, Zapier, Make, Teams, webhook.site,
/// any `/hooks/`). One vectorised search.
pub(crate) fn maybe_bare_webhook(s: &str) -> bool {
    static HOOK: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"hook"));
    HOOK.find(s.as_bytes()).is_some()
}

/// Whether `path` (its slashes maybe escaped; its first 32 bytes are enough)
/// is the secret part of a webhook URL on `host`.
fn webhook_path(host: &str, path: &str) -> bool {
    let path = path.replace("\\/", "/");
    let host = host.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| path.starts_with(p));
    if host.starts_with("discord") {
        path.starts_with("/api/")
            && path
                .split('/')
                .skip(2)
                .take(2)
                .any(|part| part == "webhooks")
    } else if host.starts_with("outlook.") {
        starts(&["/webhook"])
    } else if host == "logic.azure.com" {
        starts(&["/workflows/"])
    } else if host == "maker.ifttt.com" {
        starts(&["/trigger/", "/use/"])
    } else if host == "api.telegram.org" {
        starts(&["/bot", "/file/bot"])
    } else if host == "chat.googleapis.com" {
        starts(&["/v1/spaces/"])
    } else {
        path.len() > 1
    }
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

/// JSON Web Tokens.
pub(crate) fn jwts(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    if !s.contains("eyJ") {
        return None;
    }
    replace_simple(s, &p.jwt, "[jwt]", Rule::Jwt, counts, |s, r| {
        !word_before(s, r.start)
    })
}

/// Well-known API key and token shapes (GitHub, AWS, Slack, Google, OpenAI and
/// Anthropic `sk-…`, Stripe, GitLab, Hugging Face, npm).
pub(crate) fn api_keys(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    if s.len() < 14 {
        return None;
    }
    replace_simple(s, &p.api_key, "[api-key]", Rule::ApiKey, counts, |s, r| {
        let text = &s[r.clone()];
        if word_before(s, r.start) || word_at(s, r.end) {
            return false;
        }
        // `sk-` is short: require the mix of letters and digits of a real key.
        !text.starts_with("sk-")
            || (text.bytes().any(|b| b.is_ascii_digit())
                && text.bytes().any(|b| b.is_ascii_alphabetic()))
    })
}

/// `Bearer <token>` becomes `Bearer [Filtered]` (the word keeps its case). Prose
/// such as "bearer authentication" survives: a token has 8 or more characters and
/// a digit or a symbol, or 24 or more characters.
pub(crate) fn bearer(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    for caps in p.bearer.captures_iter(s) {
        let (Some(all), Some(token)) = (caps.get(0), caps.name("token")) else {
            continue;
        };
        let t = token.as_str();
        let tokenish = t.len() >= 24
            || t.bytes()
                .any(|b| b.is_ascii_digit() || b"-._~+/=".contains(&b));
        if t.len() >= 8
            && tokenish
            && !word_before(s, all.start())
            && w.replace(token.range(), FILTERED)
        {
            counts.bump(Rule::Bearer);
        }
    }
    w.finish()
}

/// Email addresses.
pub(crate) fn emails(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    replace_simple(s, &p.email, "[email]", Rule::Email, counts, |_, _| true)
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
                // One group, or the groups of a printed card: two numbers that
                // happen to pass the check (`5221846 732136`) are not a card.
                let grouped = i == j
                    || CARD_GROUPINGS.iter().any(|g| {
                        g.len() == j - i + 1
                            && g.iter().zip(&groups[i..=j]).all(|(n, r)| *n == r.len())
                    });
                if digits >= 13 && grouped && card_valid(&s[groups[i].start..groups[j].end]) {
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

/// Words that introduce a credential after `Authorization:` and its kin.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "negotiate", "ntlm"];

/// How far an unquoted value runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extent {
    /// To a blank or a delimiter.
    Word,
    /// To the end of the line (`Cookie`, `Authorization`).
    Line,
    /// To the next `;` or the end of the line (a connection string's field,
    /// which may hold blanks: `Password=my pass word;`).
    Field,
}

/// Whether the pair whose key starts at `key_start` (its value after `from`) is
/// a field of a connection string (`Server=x;User Id=y;Password=z;`,
/// `Driver={…};PWD=…`): a `;` right before the key, or the value followed, in
/// the same line and before any `=` or quote, by `;` and another `Key=`. Looks
/// at most 256 bytes ahead.
fn in_connection_string(s: &str, key_start: usize, from: usize) -> bool {
    let b = s.as_bytes();
    let mut i = key_start;
    while i > 0 && matches!(b[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    if i > 0 && b[i - 1] == b';' {
        return true;
    }
    let window = &b[from.min(b.len())..(from + 256).min(b.len())];
    let Some(semi) = window
        .iter()
        .position(|c| matches!(c, b';' | b'\n' | b'\r' | b'"' | b'\'' | b'=' | b'\\'))
    else {
        return false;
    };
    if window[semi] != b';' {
        return false;
    }
    // `;` then a key (letters, digits, blanks, `_`) and `=`.
    let next = &b[from + semi + 1..];
    let key_len = next
        .iter()
        .take(64)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'_'))
        .count();
    key_len > 0
        && next[..key_len].iter().any(u8::is_ascii_alphabetic)
        && next.get(key_len) == Some(&b'=')
}

/// Keys whose unquoted value runs to the end of the line (`Cookie: a=b; c=d`).
fn whole_line_key(key: &str) -> bool {
    keys::tokens(key).any(|t| {
        ["cookie", "setcookie", "authorization"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
    })
}

/// `key=value`, `key: value`, `"key": "value"` (also with `\"` escapes and
/// `Some("…")`) whose key is sensitive: the value becomes `[Filtered]`, quotes kept.
pub(crate) fn pairs(s: &str, counts: &mut Redactions) -> Option<String> {
    let bytes = s.as_bytes();
    let mut w = Rewriter::new(s);
    let mut i = 0;
    // From one `=` or `:` to the next (vector code in between).
    while let Some(k) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'=', b':', rest))
    {
        i += k;
        let b = bytes[i];
        let op = i;
        i += 1;
        if b == b':'
            && (at(s, op + 1) == Some(b':')
                || before(s, op) == Some(b':')
                || s[op..].starts_with("://")
                || s[op..].starts_with(":\\/\\/"))
        {
            continue;
        }
        if b == b'=' && (at(s, op + 1) == Some(b'=') || before(s, op) == Some(b'=')) {
            continue;
        }
        if op < w.position() {
            continue;
        }
        let Some((key_start, key)) = key_before(s, op) else {
            continue;
        };
        if !keys::is_sensitive(key) {
            continue;
        }
        let extent = if whole_line_key(key) {
            Extent::Line
        } else if in_connection_string(s, key_start, op + 1) {
            Extent::Field
        } else {
            Extent::Word
        };
        if let Some(value) = value_after(s, op + 1, extent) {
            let text = &s[value.clone()];
            if !MARKERS.contains(&text) && w.replace(value.clone(), FILTERED) {
                counts.bump(Rule::KeyValue);
            }
            i = i.max(value.end);
        }
    }
    w.finish()
}

/// The key that ends just before the operator at `op`, if any: a quoted key
/// (`"key"`, `'key'`, `\"key\"`) or a run of key characters, at most 64 bytes;
/// with where it starts (its opening quote, if quoted).
fn key_before(s: &str, op: usize) -> Option<(usize, &str)> {
    const MAX: usize = 64;
    let bytes = s.as_bytes();
    let mut end = op;
    while end > 0 && end + 4 > op && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let last = *bytes.get(end.checked_sub(1)?)?;
    if last == b'"' || last == b'\'' {
        let close = end - 1;
        let mut start = close;
        while start > 0 && close - start <= MAX {
            let c = bytes[start - 1];
            if c == last || c == b'\n' {
                break;
            }
            start -= 1;
        }
        if start == 0 || bytes[start - 1] != last || close - start > MAX {
            return None;
        }
        return Some((start - 1, s.get(start..close)?));
    }
    let mut start = end;
    while start > 0 && end - start < MAX && is_key_byte(bytes[start - 1]) {
        start -= 1;
    }
    // `\npassword=`: the key starts after the escape sequence.
    if escape_before(s, start + 1) {
        start += 1;
    }
    if start == end {
        return None;
    }
    // A path or a file name is not a key: `src/auth.rs:42`, `session.py:10`.
    let key = s.get(start..end)?;
    if (start > 0 && matches!(bytes[start - 1], b'/' | b'\\')) || is_file_name(key) {
        return None;
    }
    Some((start, key))
}

/// Extensions of source and data files: `name.EXT` before a `:` is a location.
const FILE_EXTENSIONS: &[&str] = &[
    "rs", "py", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "c", "h", "cc", "cpp", "hpp",
    "java", "kt", "swift", "rb", "php", "cs", "m", "mm", "toml", "json", "yaml", "yml", "txt",
    "log", "md", "lock", "html", "css",
];

/// Whether `key` is a file name (`auth.rs`, `token_store.py`).
fn is_file_name(key: &str) -> bool {
    key.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && FILE_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The value that starts after the operator (blanks skipped): the inside of quotes
/// or of ODBC braces (`{…}`, `}}` escaping a `}`), or an unquoted run as far as
/// `extent` says; `Some("…")` and `Bearer …` are understood.
fn value_after(s: &str, from: usize, extent: Extent) -> Option<Range<usize>> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() && i < from + 4 && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    let mut rest = s.get(i..)?;
    // `Some("…")`, `Some(\"…\")`, `Some(…)`: the value is inside.
    if let Some(inner) = rest.strip_prefix("Some(") {
        i += 5;
        rest = inner;
    }
    // A quote, escaped any number of times (`"`, `\"`, `\\\"` in text that was
    // escaped twice): the value ends at the same sequence.
    let slashes = rest.bytes().take_while(|&b| b == b'\\').count();
    if let Some(&quote) = rest.as_bytes().get(slashes)
        && (quote == b'"' || quote == b'\'')
    {
        let (open, inner) = rest.split_at(slashes + 1);
        let start = i + open.len();
        let len = if slashes == 0 {
            quoted_len(inner, char::from(quote))
        } else {
            inner.find(open).unwrap_or_else(|| line_len(inner, false))
        };
        return Some(start..start + len);
    }
    if let Some(inner) = rest.strip_prefix('{') {
        let len = braced_len(inner);
        return (len > 0).then_some(i + 1..i + 1 + len);
    }
    if extent != Extent::Word {
        let len = line_len(rest, extent == Extent::Field);
        let trimmed = rest[..len].trim_end().len();
        return (trimmed > 0).then_some(i..i + trimmed);
    }
    let mut len = unquoted_len(rest);
    // The value goes on through a marker another rule wrote
    // (`password=[ip]:hunter2`) and through the value of a nested pair
    // (`auth=token="x y"`, `password: auth: x`). Each step consumes text: linear.
    loop {
        let tail = &rest[len..];
        if let Some(marker) = MARKERS.iter().find(|m| tail.starts_with(**m)) {
            len += marker.len();
        } else if rest[..len].ends_with(['=', ':']) {
            let mut blanks = tail.len() - tail.trim_start_matches([' ', '\t']).len();
            let mut after = &tail[blanks..];
            if let Some(inner) = after.strip_prefix("Some(") {
                blanks += 5;
                after = inner;
            }
            match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    len += blanks + 1 + quoted_len(&after[1..], quote);
                    if rest[len..].starts_with(quote) {
                        len += 1;
                    }
                }
                _ if unquoted_len(after) > 0 => len += blanks,
                _ => break,
            }
        } else {
            break;
        }
        len += unquoted_len(&rest[len..]);
    }
    if len == 0 {
        return None;
    }
    // `Bearer abc`, `Basic abc`: take the credential after the scheme word too.
    if AUTH_SCHEMES
        .iter()
        .any(|w| rest[..len].eq_ignore_ascii_case(w))
    {
        let after = &rest[len..];
        let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
        let next = unquoted_len(&after[blanks..]);
        if blanks > 0 && next > 0 {
            len += blanks + next;
        }
    }
    Some(i..i + len)
}

/// The length of a quoted value up to its closing quote (backslash escapes
/// honoured), or to the end of the line if it is not closed.
fn quoted_len(inner: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\n' => return i,
            c if c == quote => return i,
            _ => {}
        }
    }
    inner.len()
}

/// The length of a value in ODBC braces up to its closing brace (`}}` within
/// the value is an escaped `}`), or to the end of the line if it is not closed.
fn braced_len(inner: &str) -> usize {
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() && !line_ends(b, i) {
        if b[i] == b'}' {
            // `}}` inside the value escapes a `}`; at its end (`{"a": "b"}}`,
            // JSON nested in text) it closes the value and what holds it.
            let escaped = b.get(i + 1) == Some(&b'}')
                && b.get(i + 2)
                    .is_some_and(|c| !c.is_ascii_whitespace() && !b";,\"'".contains(c));
            if escaped {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    i
}

/// The length of the line: up to a line break, or an escaped one (`\n`, `\r`);
/// with `field`, up to a `;` if one comes first.
fn line_len(text: &str, field: bool) -> usize {
    let b = text.as_bytes();
    (0..b.len())
        .find(|&i| line_ends(b, i) || (field && b[i] == b';'))
        .unwrap_or(b.len())
}

/// Whether a line break, or an escaped one (`\n`, `\r`), starts at `i`.
fn line_ends(b: &[u8], i: usize) -> bool {
    matches!(b[i], b'\n' | b'\r') || (b[i] == b'\\' && matches!(b.get(i + 1), Some(b'n' | b'r')))
}

/// The length of an unquoted value: up to a blank, a delimiter or an escape
/// sequence (`\n`, `\r`, `\t`).
fn unquoted_len(text: &str) -> usize {
    let b = text.as_bytes();
    text.char_indices()
        .find(|&(i, c)| {
            c.is_whitespace()
                || ",;&\"'<>(){}[]".contains(c)
                || (c == '\\' && matches!(b.get(i + 1), Some(b'n' | b'r' | b't')))
        })
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns() -> &'static Patterns {
        match &*PATTERNS {
            Ok(p) => p,
            Err(e) => panic!("patterns do not compile: {e}"),
        }
    }

    type Pass = fn(&Patterns, &str, &mut Redactions) -> Option<String>;

    /// Run one pass over each case; `None` expected means "unchanged".
    fn table(pass: Pass, rule: Rule, cases: &[(&str, Option<&str>)]) {
        for (input, want) in cases {
            let mut counts = Redactions::default();
            let got = pass(patterns(), input, &mut counts);
            assert_eq!(got.as_deref(), *want, "input {input:?}");
            assert_eq!(
                counts.get(rule) > 0,
                want.is_some(),
                "count for {input:?}: {counts:?}"
            );
        }
    }

    #[test]
    fn patterns_compile() {
        assert!(PATTERNS.is_ok(), "{:?}", PATTERNS.as_ref().err());
    }

    #[test]
    fn private_key_rule() {
        let pem = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc+/=\n-----END RSA PRIVATE KEY-----\nafter";
        let truncated = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIEvQ";
        let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEA\\n-----END OPENSSH PRIVATE KEY-----";
        table(
            private_keys,
            Rule::PrivateKey,
            &[
                (pem, Some("key:\n[private-key]\nafter")),
                (truncated, Some("[private-key]")),
                (openssh, Some("[private-key]")),
                (
                    "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
                    None,
                ),
                ("-----BEGIN CERTIFICATE-----", None),
                ("no key here", None),
                // Each block ends at its own END line; text after it survives.
                (
                    "a -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY----- b -----BEGIN EC PRIVATE KEY-----\nBBBB\n-----END EC PRIVATE KEY----- c",
                    Some("a [private-key] b [private-key] c"),
                ),
                // Truncated blocks stop at what is not base64.
                (
                    "-----BEGIN PRIVATE KEY-----\nAAAA (1) -----BEGIN PRIVATE KEY-----\nBBBB",
                    Some("[private-key](1) [private-key]"),
                ),
            ],
        );
    }

    #[test]
    fn url_rule() {
        table(
            urls,
            Rule::UrlUserinfo,
            &[
                (
                    "see https://u:p@host/a?token=x",
                    Some("see https://[Filtered]@host/a?[Filtered]"),
                ),
                (
                    "postgres://admin:hunter2@db.internal:5432/app",
                    Some("postgres://[Filtered]@db.internal:5432/app"),
                ),
                (
                    "dsn https://abc123@o1.ingest.sentry.io/42",
                    Some("dsn https://[Filtered]@o1.ingest.sentry.io/42"),
                ),
                ("https://[Filtered]@host/a", None),
                // Connection strings: a password may hold an `@`.
                (
                    "mongodb+srv://app:p@ss:w0rd@cluster0.example.net/db?retryWrites=true",
                    Some("mongodb+srv://[Filtered]@cluster0.example.net/db?[Filtered]"),
                ),
                (
                    "redis://:s3cret@cache:6379/0",
                    Some("redis://[Filtered]@cache:6379/0"),
                ),
                (
                    "postgresql+psycopg2://user:pass@db/app",
                    Some("postgresql+psycopg2://[Filtered]@db/app"),
                ),
                (
                    r#"{"url":"postgres:\/\/admin:hunter2@db.internal\/app"}"#,
                    Some(r#"{"url":"postgres:\/\/[Filtered]@db.internal\/app"}"#),
                ),
                ("see https://example.com and bob@example.org", None),
            ],
        );
        table(
            urls,
            Rule::UrlQuery,
            &[
                (
                    "GET https://api.example.com/v1/items?page=2&key=abc#frag failed",
                    Some("GET https://api.example.com/v1/items?[Filtered]#[Filtered] failed"),
                ),
                (
                    "jdbc:mysql://db:3306/app?user=x&password=y",
                    Some("jdbc:mysql://db:3306/app?[Filtered]"),
                ),
                ("https://host/a?", None),
                ("https://host/a?[Filtered]", None),
                ("https://crates.io/crates/sentry", None),
                ("file:///home/x/code/main.rs", None),
                ("no url: here", None),
                ("https://host/path@v2/x", None),
            ],
        );
    }

    #[test]
    fn oracle_rule() {
        table(
            oracle_urls,
            Rule::UrlUserinfo,
            &[
                (
                    "jdbc:oracle:thin:scott/tiger@db.example.com:1521:orcl",
                    Some("jdbc:oracle:thin:[Filtered]@db.example.com:1521:orcl"),
                ),
                (
                    "JDBC:ORACLE:OCI:app/p@ss@//db:1521/svc",
                    Some("JDBC:ORACLE:OCI:[Filtered]@//db:1521/svc"),
                ),
                ("jdbc:oracle:thin:@//db:1521/svc", None),
                ("jdbc:oracle:thin:@db:1521:orcl", None),
                ("oracle thin driver: scott/tiger@host", None),
            ],
        );
    }

    #[test]
    fn cloud_key_rule() {
        let azure = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net";
        table(
            cloud_keys,
            Rule::CloudKey,
            &[
                (
                    azure,
                    Some(
                        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=[Filtered];EndpointSuffix=core.windows.net",
                    ),
                ),
                (
                    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=AbCdEf0123456789+/AbCdEf0123456789abcdefgh=",
                    Some(
                        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[Filtered]",
                    ),
                ),
                (
                    "BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&sig=AbC%2Bdef0123456789xyzXYZ%3D",
                    Some(
                        "BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=[Filtered]",
                    ),
                ),
                (
                    "token sv=2022-11-02&se=2026-12-01&sp=r&sig=AbC%2Bdef0123456789xyzXYZ%3D done",
                    Some("token sv=2022-11-02&se=2026-12-01&sp=r&sig=[Filtered] done"),
                ),
                (
                    "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    Some("aws configure set aws_secret_access_key [Filtered]"),
                ),
                (
                    r#"{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
                    Some(r#"{"SecretAccessKey": "[Filtered]"}"#),
                ),
                (
                    "--secret-access-key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    Some("--secret-access-key [Filtered]"),
                ),
                (
                    "creds AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    Some("creds AKIAIOSFODNN7EXAMPLE:[Filtered]"),
                ),
                // Look-alikes that survive.
                ("AccountName=acme;EndpointSuffix=core.windows.net", None),
                ("SharedAccessKeyName=RootManageSharedAccessKey", None),
                ("sig=SIGTERM", None),
                ("signal sig=15 received", None),
                ("secret access key rotated 3 days ago", None),
                (
                    "aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYTOOLONG",
                    None,
                ),
                ("commit e83c5163316f89bfbde7d9ab23ca2e25604af290 key", None),
            ],
        );
        for (text, eq, want) in [
            ("SharedAccessSignature=sv=1", true, true),
            ("AccountKey=x", true, true),
            ("x sig=abc", true, true),
            (
                "aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                false,
                true,
            ),
            (
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.40.0/src/lib.rs",
                false,
                false,
            ),
            ("retries=3", true, false),
            (
                "SecretAccessKey wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                false,
                true,
            ),
            (
                "AWS_SECRET_ACCESS_KEY wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                false,
                true,
            ),
        ] {
            assert_eq!(maybe_cloud_key(text, eq, false), want, "{text}");
        }
    }

    #[test]
    fn webhook_rule() {
        table(
            webhooks,
            Rule::Webhook,
            &[
                (
                    "post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
                    Some("post to https://hooks.slack.com/[webhook] failed"),
                ),
                (
                    "hooks.slack.com/workflows/T0/A0/123/abc",
                    Some("hooks.slack.com/[webhook]"),
                ),
                (
                    "https://discord.com/api/webhooks/123456789012345678/AbCdEf-ghIJkl_mnOP",
                    Some("https://discord.com/[webhook]"),
                ),
                (
                    "https://ptb.discordapp.com/api/v10/webhooks/1/x",
                    Some("https://ptb.discordapp.com/[webhook]"),
                ),
                (
                    "https://contoso.webhook.office.com/webhookb2/a-b-c@d-e/IncomingWebhook/123/456",
                    Some("https://contoso.webhook.office.com/[webhook]"),
                ),
                (
                    "https://outlook.office.com/webhook/abc/IncomingWebhook/def",
                    Some("https://outlook.office.com/[webhook]"),
                ),
                (
                    "https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
                    Some("https://prod-00.westus.logic.azure.com:443/[webhook]?sig=x"),
                ),
                (
                    "https://hooks.zapier.com/hooks/catch/123456/abcdef/",
                    Some("https://hooks.zapier.com/[webhook]"),
                ),
                (
                    "https://maker.ifttt.com/trigger/event/with/key/abcDEF123",
                    Some("https://maker.ifttt.com/[webhook]"),
                ),
                (
                    "https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage",
                    Some("https://api.telegram.org/[webhook]"),
                ),
                (
                    "https://hook.eu1.make.com/abcdefghijklmnop",
                    Some("https://hook.eu1.make.com/[webhook]"),
                ),
                (
                    "https://eo1234abcd.m.pipedream.net/x",
                    Some("https://eo1234abcd.m.pipedream.net/[webhook]"),
                ),
                (
                    r#"{"url":"https:\/\/hooks.slack.com\/services\/T0\/B0\/xyz"}"#,
                    Some(r#"{"url":"https:\/\/hooks.slack.com/[webhook]"}"#),
                ),
                (
                    "https://chat.example.com/hooks/xj4kq8w7dpfymbz3tn5ecu9rgo",
                    Some("https://chat.example.com/[webhook]"),
                ),
                // Look-alikes that survive.
                ("https://discord.com/channels/123/456", None),
                ("https://api.slack.com/messaging/webhooks", None),
                ("https://notdiscord.com/api/webhooks/1/x", None),
                ("https://hooks.slack.com/", None),
                ("https://api.telegram.org/file", None),
                ("/home/x/repo/.git/hooks/pre-commit", None),
                ("https://learn.microsoft.com/webhook.office.com", None),
            ],
        );
    }

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
    fn jwt_rule() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        table(
            jwts,
            Rule::Jwt,
            &[
                (&format!("token {jwt} expired"), Some("token [jwt] expired")),
                (&format!("({jwt})"), Some("([jwt])")),
                ("eyJhbGciOiJIUzI1NiJ9 alone", None),
                ("keyJunk.abc.def", None),
            ],
        );
    }

    #[test]
    fn api_key_rule() {
        table(
            api_keys,
            Rule::ApiKey,
            &[
                (
                    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
                    Some("[api-key]"),
                ),
                (
                    "token gho_16C7e42F292c6912E7710c838347Ae178B4a end",
                    Some("token [api-key] end"),
                ),
                (
                    "github_pat_11ABCDEFG0abcdefghij_KLMNOPQRSTUVWXYZ0123456789abcdef",
                    Some("[api-key]"),
                ),
                ("aws AKIAIOSFODNN7EXAMPLE here", Some("aws [api-key] here")),
                ("ASIAY34FZKBOKMUTVV7A", Some("[api-key]")),
                (
                    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
                    Some("[api-key]"),
                ),
                ("xoxp-1234567890-abcdefghij", Some("[api-key]")),
                (
                    "key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
                    Some("key=[api-key]"),
                ),
                ("sk-proj-abc123DEF456ghi789JKL012mno345", Some("[api-key]")),
                (
                    "sk-ant-api03-abcdEFGH1234ijklMNOP5678-qrst",
                    Some("[api-key]"),
                ),
                ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", Some("[api-key]")),
                ("glpat-xxxxxxxxxxxxxxxxxxxx1", Some("[api-key]")),
                ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", Some("[api-key]")),
                ("AKIAIOSFODNN7EXAMPLEXX", None),
                ("task-scheduler-worker-pool-size", None),
                ("sk-learn-is-a-python-library-name", None),
                ("the ghp_ prefix", None),
                ("myAKIAIOSFODNN7EXAMPLE", None),
            ],
        );
    }

    #[test]
    fn bearer_rule() {
        table(
            bearer,
            Rule::Bearer,
            &[
                (
                    "Authorization: Bearer abc.def-ghi_123",
                    Some("Authorization: Bearer [Filtered]"),
                ),
                ("bearer 0123456789abcdef", Some("bearer [Filtered]")),
                (
                    "BEARER aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    Some("BEARER [Filtered]"),
                ),
                ("missing bearer authentication", None),
                ("Bearer [Filtered]", None),
                ("Bearer short1", None),
                ("tokenbearer 0123456789abc", None),
            ],
        );
    }

    #[test]
    fn email_rule() {
        table(
            emails,
            Rule::Email,
            &[
                ("mail alice@example.com now", Some("mail [email] now")),
                ("<first.last+tag@mail.co.uk>", Some("<[email]>")),
                ("a@b.io,c@d.org", Some("[email],[email]")),
                ("openadapt-capture@0.1.0", None),
                ("sentry-core@0.49.5", None),
                ("user@localhost", None),
                ("@ alone", None),
            ],
        );
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

    fn pairs_pass(_: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
        pairs(s, counts)
    }

    #[test]
    fn pair_rule() {
        table(
            pairs_pass,
            Rule::KeyValue,
            &[
                ("password=hunter2 next", Some("password=[Filtered] next")),
                ("db password = hunter2", Some("db password = [Filtered]")),
                ("api_key: abc123", Some("api_key: [Filtered]")),
                ("X-Api-Key: abc123", Some("X-Api-Key: [Filtered]")),
                (
                    r#"{"password": "hunter 2", "user": "x"}"#,
                    Some(r#"{"password": "[Filtered]", "user": "x"}"#),
                ),
                (
                    r#"{"token":"a\"b","n":1}"#,
                    Some(r#"{"token":"[Filtered]","n":1}"#),
                ),
                (
                    r#"{\"secret\":\"s3cr3t\"}"#,
                    Some(r#"{\"secret\":\"[Filtered]\"}"#),
                ),
                (
                    "Config { api_key: \"abc\", token: Some(\"xyz\") }",
                    Some("Config { api_key: \"[Filtered]\", token: Some(\"[Filtered]\") }"),
                ),
                (
                    "user=bob&password=x&page=2",
                    Some("user=bob&password=[Filtered]&page=2"),
                ),
                ("a=password=hunter2", Some("a=password=[Filtered]")),
                (
                    "Authorization: Bearer abc.def",
                    Some("Authorization: [Filtered]"),
                ),
                (
                    "authorization=Basic dXNlcjpwYXNz",
                    Some("authorization=[Filtered]"),
                ),
                ("Cookie: a=b; sid=c\nnext", Some("Cookie: [Filtered]\nnext")),
                ("sessionToken='x y'", Some("sessionToken='[Filtered]'")),
                (
                    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
                    Some("AWS_SECRET_ACCESS_KEY=[Filtered]"),
                ),
                ("--api-key=abc", Some("--api-key=[Filtered]")),
                // The Python family's key words.
                ("e-mail: bob", Some("e-mail: [Filtered]")),
                ("pin=1234 retries=3", Some("pin=[Filtered] retries=3")),
                (
                    r#"{"city": "Paris", "zip": "75001"}"#,
                    Some(r#"{"city": "[Filtered]", "zip": "[Filtered]"}"#),
                ),
                ("DB_PASS=hunter2", Some("DB_PASS=[Filtered]")),
                ("tax_id: 12-3456789", Some("tax_id: [Filtered]")),
                ("pass_count=3 zip_file=a.zip pin_memory=true", None),
                // Connection strings: a field runs to `;`, ODBC braces quote.
                (
                    "Server=db;Database=app;User Id=sa;Password=my pass word;Encrypt=true",
                    Some("Server=db;Database=app;User Id=sa;Password=[Filtered];Encrypt=true"),
                ),
                (
                    "Password=pa ss;Server=db",
                    Some("Password=[Filtered];Server=db"),
                ),
                (
                    "Driver={ODBC Driver 18};Server=db;UID=sa;PWD={a;b}}c};",
                    Some("Driver={ODBC Driver 18};Server=db;UID=sa;PWD={[Filtered]};"),
                ),
                (
                    "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Secret1;",
                    Some("jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=[Filtered];"),
                ),
                (
                    "host=db port=5432 dbname=app user=x password=s3cret sslmode=require",
                    Some("host=db port=5432 dbname=app user=x password=[Filtered] sslmode=require"),
                ),
                (
                    "password=abc; retrying",
                    Some("password=[Filtered]; retrying"),
                ),
                (
                    r#"{"secret": {"a": "b"}}"#,
                    Some(r#"{"secret": {[Filtered]}}"#),
                ),
                ("token=[jwt]", None),
                ("password=[Filtered]", None),
                ("session_count=5", None),
                ("author: Jane", None),
                ("token::parse failed", None),
                ("std::io::Error: token", None),
                ("src/layer.rs:42", None),
                ("https://x.io/a", None),
                ("password == other", None),
                ("password:", None),
                ("feature=capture.record", None),
            ],
        );
    }

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
