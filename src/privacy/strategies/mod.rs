//! Proptest strategies that plant random secrets of every kind the privacy rules
//! know, in random surrounding text. Shared by the unit property tests
//! (`proptests.rs`) and the pipeline property test (`tests/privacy_proptest.rs`,
//! which includes this file by path), so it uses nothing of the crate.
#![allow(dead_code, reason = "each includer uses a part")]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::select;

mod credentials;
pub(crate) use credentials::{
    api_key, bearer, connection_string, jwt, key_value, private_key, url, webhook,
};

/// A planted secret: the text planted, and what of it must never be sent.
#[derive(Debug, Clone)]
pub(crate) struct Planted {
    /// What kind of secret (for failure messages).
    pub(crate) kind: &'static str,
    /// The text planted.
    pub(crate) text: String,
    /// Substrings that must not appear in any string sent (names are compared
    /// ignoring ASCII case).
    pub(crate) forbidden: Vec<String>,
}

impl Planted {
    fn new(kind: &'static str, text: String, forbidden: Vec<String>) -> Self {
        Self {
            kind,
            text,
            forbidden,
        }
    }

    fn whole(kind: &'static str, text: String) -> Self {
        let forbidden = vec![text.clone()];
        Self::new(kind, text, forbidden)
    }

    /// The forbidden parts found in `sent`, if any.
    pub(crate) fn found_in(&self, sent: &str) -> Vec<String> {
        let lower = sent.to_ascii_lowercase();
        self.forbidden
            .iter()
            .filter(|f| lower.contains(&f.to_ascii_lowercase()))
            .cloned()
            .collect()
    }
}

/// Names that the rules deliberately keep (shared directories, generic accounts).
const NOT_NAMES: &[&str] = &[
    "shared",
    "public",
    "default",
    "system",
    "builder",
    "tester",
    "runner",
    "ubuntu",
    "debian",
    "fedora",
    "centos",
    "alpine",
    "docker",
    "jenkins",
    "vagrant",
    "daemon",
    "nobody",
    "unknown",
    "vscode",
    "filtered",
    "redacted",
    "localhost",
    "windows",
    "darwin",
    "circleci",
    "travis",
    "buildkite",
    "gitlab",
    "github",
    "codespace",
    "codespaces",
];

/// A random user-like name: 6 to 12 characters, starting with a letter, not a
/// name the rules keep on purpose. Long enough never to occur by chance.
pub(crate) fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{5,11}".prop_filter("a name the rules keep", |n| {
        !NOT_NAMES.contains(&n.as_str())
    })
}

fn capitalized() -> impl Strategy<Value = String> {
    name().prop_map(|n| {
        let mut c = n.chars();
        c.next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default()
    })
}

/// Random path components after a home directory.
fn rest_of_path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[A-Za-z0-9_.][A-Za-z0-9_.-]{0,9}", 1..4)
}

pub(crate) fn email() -> impl Strategy<Value = Planted> {
    (
        "[a-z][a-z0-9._%+-]{2,14}[a-z0-9]",
        "[a-z0-9][a-z0-9-]{1,10}",
        select(vec!["com", "org", "io", "co.uk", "de", "example", "dev"]),
    )
        .prop_map(|(local, domain, tld)| {
            let text = format!("{local}@{domain}.{tld}");
            Planted::new("email", text.clone(), vec![text, format!("{local}@")])
        })
}

pub(crate) fn ipv4() -> impl Strategy<Value = Planted> {
    (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_filter("loopback is kept", |(a, ..)| *a != 127)
        .prop_map(|(a, b, c, d)| Planted::whole("ipv4", Ipv4Addr::new(a, b, c, d).to_string()))
}

pub(crate) fn ipv6() -> impl Strategy<Value = Planted> {
    (any::<u128>(), select(vec!["", "%eth0"]), any::<bool>())
        .prop_map(|(n, zone, bracket)| (Ipv6Addr::from(n), zone, bracket))
        .prop_filter("a plain, public address with a digit", |(ip, _, _)| {
            let s = ip.to_string();
            !ip.is_loopback()
                && !ip.is_unspecified()
                && !s.contains('.')
                && s.bytes().any(|b| b.is_ascii_digit())
        })
        .prop_map(|(ip, zone, bracket)| {
            let addr = ip.to_string();
            let text = if bracket {
                format!("[{addr}]:8443")
            } else {
                format!("{addr}{zone}")
            };
            Planted::new("ipv6", text, vec![addr])
        })
}

/// The Luhn check digit that completes `digits`.
fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

pub(crate) fn card() -> impl Strategy<Value = Planted> {
    let networks = vec![
        ("4", 16),
        ("4", 13),
        ("4", 19),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("2720", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("65", 16),
        ("36", 14),
        ("3528", 16),
    ];
    (
        select(networks),
        prop::collection::vec(0u8..10, 18),
        select(vec!["", " ", "-"]),
    )
        .prop_map(|((prefix, len), random, sep)| {
            let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
            digits.extend(random.iter().take(len - 1 - digits.len()));
            digits.push(luhn_digit(&digits));
            let compact: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let groups: Vec<&str> = match (len, sep) {
                (_, "") => vec![&compact],
                (16, _) => (0..4).map(|i| &compact[i * 4..i * 4 + 4]).collect(),
                (15, _) => vec![&compact[..4], &compact[4..10], &compact[10..]],
                _ => vec![&compact],
            };
            let text = groups.join(sep);
            Planted::new("card", text.clone(), vec![text, compact.clone()])
        })
}

pub(crate) fn ssn() -> impl Strategy<Value = Planted> {
    (1u32..900, 1u32..100, 1u32..10000)
        .prop_filter("never issued", |(a, ..)| *a != 666)
        .prop_map(|(a, g, s)| Planted::whole("ssn", format!("{a:03}-{g:02}-{s:04}")))
}

pub(crate) fn phone() -> impl Strategy<Value = Planted> {
    (
        "[1-9][0-9]{0,2}",
        prop::collection::vec("[0-9]{2,4}", 3..5),
        select(vec![" ", "-", ".", ""]),
        any::<bool>(),
    )
        .prop_filter_map(
            "9 to 15 digits",
            |(country, groups, sep, paren): (String, Vec<String>, &str, bool)| {
                let digits = country.len() + groups.iter().map(String::len).sum::<usize>();
                if !(9..=15).contains(&digits) {
                    return None;
                }
                let mut rest = groups.clone();
                if paren {
                    rest[0] = format!("({})", rest[0]);
                }
                let text = format!("+{country} {}", rest.join(sep));
                let mut forbidden = vec![text.clone()];
                if !sep.is_empty() {
                    // The subscriber's number, however the rest was rewritten.
                    let n = groups.len();
                    forbidden.push(format!("{}{sep}{}", groups[n - 2], groups[n - 1]));
                }
                Some(Planted::new("phone", text, forbidden))
            },
        )
}

/// A phone number in national form: North American with dashes, dots or an
/// area code in parentheses; UK, French and German trunk-prefixed numbers.
pub(crate) fn national_phone() -> impl Strategy<Value = Planted> {
    let forms = vec![
        "{a}-{x}-{y}",
        "{a}.{x}.{y}",
        "({a}) {x}-{y}",
        "({a}){x}-{y}",
        "({a}) {x} {y}",
        "1-{a}-{x}-{y}",
        "0{u} {v} {y}",
        "(0{u}) {v} {y}",
        "0{f} {p} {q} {r} {t}",
        "0{f}.{p}.{q}.{r}.{t}",
        "0{d}-{g}",
    ];
    (
        select(forms),
        "[2-9][0-9]{2}",
        "[0-9]{3}",
        "[0-9]{4}",
        (
            "[1-9][0-9]",
            "[0-9]{4}",
            "[1-9]",
            "[0-9]{2}",
            "[0-9]{2}",
            "[0-9]{2}",
            "[0-9]{2}",
        ),
        ("[1-9][0-9]{2}", "[1-9][0-9]{6}"),
    )
        .prop_map(|(form, a, x, y, (u, v, f, p, q, r, t), (d, g))| {
            let text = form
                .replace("{a}", &a)
                .replace("{x}", &x)
                .replace("{y}", &y)
                .replace("{u}", &u)
                .replace("{v}", &v)
                .replace("{f}", &f)
                .replace("{p}", &p)
                .replace("{q}", &q)
                .replace("{r}", &r)
                .replace("{t}", &t)
                .replace("{d}", &d)
                .replace("{g}", &g);
            // The subscriber's part, however the rest was rewritten.
            let tail = if form.contains("{x}") {
                let sep = &form[form.find("{x}").map_or(0, |i| i + 3)..][..1];
                format!("{x}{sep}{y}")
            } else if form.contains("{v}") {
                format!("{v} {y}")
            } else if form.contains("{g}") {
                g
            } else {
                let sep = if form.contains('.') { "." } else { " " };
                format!("{q}{sep}{r}{sep}{t}")
            };
            Planted::new("national phone", text.clone(), vec![text, tail])
        })
}

/// IBAN check digits for `country` and `bban`.
fn iban_check(country: &str, bban: &str) -> u32 {
    let mut rem: u32 = 0;
    for b in bban.bytes().chain(country.bytes()).chain(*b"00") {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            _ => u32::from(b - b'A') + 10,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    98 - rem
}

pub(crate) fn iban() -> impl Strategy<Value = Planted> {
    let formats = vec![
        ("GB", "[A-Z]{4}[0-9]{14}"),
        ("DE", "[0-9]{18}"),
        ("FR", "[0-9]{10}[A-Z0-9]{11}[0-9]{2}"),
        ("NL", "[A-Z]{4}[0-9]{10}"),
        ("ES", "[0-9]{20}"),
        ("CH", "[0-9]{5}[A-Z0-9]{12}"),
        ("IT", "[A-Z][0-9]{10}[A-Z0-9]{12}"),
        ("NO", "[0-9]{11}"),
    ];
    (select(formats), any::<bool>())
        .prop_flat_map(|((country, bban), spaced)| {
            (
                Just(country),
                proptest::string::string_regex(bban).expect("a valid pattern"),
                Just(spaced),
            )
        })
        .prop_map(|(country, bban, spaced)| {
            let compact = format!("{country}{:02}{bban}", iban_check(country, &bban));
            let text = if spaced {
                let chars: Vec<char> = compact.chars().collect();
                chars
                    .chunks(4)
                    .map(|c| c.iter().collect::<String>())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                compact.clone()
            };
            Planted::new("iban", text.clone(), vec![text, compact])
        })
}

/// Another user's home directory in a path, in every form the rules know.
pub(crate) fn user_path() -> impl Strategy<Value = Planted> {
    let forms = vec![
        "/home/{n}/{p}",
        "/Users/{N}/{p}",
        "/var/home/{n}/{p}",
        "/mnt/c/Users/{N}/{p}",
        "file:///home/{n}/{p}",
        r"C:\Users\{N}\{P}",
        r"C:\\Users\\{N}\\{PP}",
        "C:/Users/{n}/{p}",
        r"D:\Users\{N} {M}\{P}",
        r"\\?\C:\Users\{N}\{P}",
        r"C:\Documents and Settings\{N}\{P}",
        "~{n}/{p}",
        r"\\fileserver\share\Users\{N}\{P}",
        r"\\desk-01\Users\{N} {M}\{P}",
        r"\\wsl$\Ubuntu\home\{n}\{P}",
        r"\\?\UNC\srv\c$\Users\{N}\{P}",
        r"\\\\srv\\share\\Users\\{N}\\{PP}",
        r"C:\cygwin64\home\{n}\{P}",
        "/usr/home/{n}/{p}",
        "/export/home/{n}/{p}",
        "/cygdrive/c/Users/{N}/{p}",
        "/c/Users/{N}/{p}",
        "/System/Volumes/Data/Users/{N}/{p}",
    ];
    (
        select(forms),
        name(),
        capitalized(),
        capitalized(),
        rest_of_path(),
    )
        .prop_map(|(form, n, cap, second, rest)| {
            let text = form
                .replace("{n}", &n)
                .replace("{N}", &cap)
                .replace("{M}", &second)
                .replace("{p}", &rest.join("/"))
                .replace("{PP}", &rest.join(r"\\"))
                .replace("{P}", &rest.join(r"\"));
            let mut forbidden = vec![n, cap];
            if form.contains("{M}") {
                forbidden.push(second);
            }
            Planted::new("user path", text, forbidden)
        })
}

/// A MAC address in one of its three notations (never all zeros or all `f`,
/// which are kept on purpose; Cisco's with a letter).
pub(crate) fn mac() -> impl Strategy<Value = Planted> {
    (any::<[u8; 6]>(), 0..4usize)
        .prop_filter("an address that identifies a device", |(b, form)| {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            !b.iter().all(|x| *x == 0)
                && !b.iter().all(|x| *x == 0xff)
                && (*form != 3 || hex.bytes().any(|c| c.is_ascii_alphabetic()))
        })
        .prop_map(|(b, form)| {
            let pairs: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
            let text = match form {
                0 => pairs.join(":"),
                1 => pairs.join(":").to_ascii_uppercase(),
                2 => pairs.join("-").to_ascii_uppercase(),
                _ => pairs
                    .chunks(2)
                    .map(|c| c.concat())
                    .collect::<Vec<_>>()
                    .join("."),
            };
            Planted::whole("mac", text)
        })
}

/// Any secret that needs no knowledge of the machine.
pub(crate) fn generic_secret() -> impl Strategy<Value = Planted> {
    prop_oneof![
        email(),
        ipv4(),
        ipv6(),
        card(),
        ssn(),
        phone(),
        national_phone(),
        iban(),
        private_key(),
        bearer(),
        jwt(),
        api_key(),
        key_value(),
        url(),
        user_path(),
        connection_string(),
        webhook(),
        mac(),
    ]
}

/// What goes right before a secret: a boundary (the rules do not look inside
/// words: `x4111111111111111` is an identifier, not a card).
pub(crate) fn opener() -> impl Strategy<Value = &'static str> {
    select(vec![
        " ", "\n", "\t", "(", "\"", "'", "[", "{", ", ", ": ", "; ", " → ", "「", "é ", "🎉",
        "\u{a0}", "=",
    ])
}

/// What goes right after a secret.
pub(crate) fn closer() -> impl Strategy<Value = &'static str> {
    select(vec![
        " ", "\n", "\t", ")", "\"", "'", "]", "}", ", ", "; ", ". ", " ←", "」", " é", "🎉",
        "\u{a0}", "\r\n",
    ])
}

/// Random text around a secret: words, numbers, unicode, punctuation.
pub(crate) fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z ]{0,24}",
        "[a-z0-9 .,:;=/_-]{0,24}",
        "\\PC{0,16}",
        "[éü日本語🎉١٢ß\u{200b} ]{0,8}",
        select(vec![
            "upload failed for",
            "error: ",
            "retry 3/5 after 250 ms,",
            "at src/layer.rs:42",
            "v1.2.3",
            "2024-01-15T10:30:00Z",
            "12",
            "+1",
            "AB12",
            "password",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A secret in random surrounding text.
pub(crate) fn in_text(secret: impl Strategy<Value = Planted>) -> impl Strategy<Value = Planted> {
    (filler(), opener(), secret, closer(), filler()).prop_map(|(before, open, p, close, after)| {
        Planted {
            text: format!("{before}{open}{}{close}{after}", p.text),
            ..p
        }
    })
}
