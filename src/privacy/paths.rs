//! User names in paths, the running user's home directory, and this machine's
//! login and host names as words.

use regex::Regex;

use super::patterns::{NAME_STOPS, Patterns};
use super::prefilter::contains_ci;
use super::rewrite::{Rewriter, at, before, escape_before};
use super::{Redactions, Rule};

/// The marker for a user name.
pub(crate) const USER: &str = "<user>";
/// The marker for the running user's home directory when it is not of the form
/// `/home/NAME`, `/Users/NAME` or `C:\Users\NAME`.
pub(crate) const HOME: &str = "<home>";
/// The marker for this machine's host name.
pub(crate) const HOST: &str = "<host>";

/// Directories under `/Users` or `C:\Users` that belong to no one.
const SHARED_DIRS: &[&str] = &["Shared", "Public", "Default", "Default User", "All Users"];

/// Login and host names that identify no one (and would turn common words into
/// markers): they are not replaced as words. Paths still are.
pub(crate) const GENERIC_NAMES: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "user",
    "users",
    "guest",
    "nobody",
    "default",
    "daemon",
    "system",
    "ubuntu",
    "debian",
    "fedora",
    "centos",
    "alpine",
    "arch",
    "runner",
    "vagrant",
    "docker",
    "jenkins",
    "circleci",
    "travis",
    "buildkite",
    "gitlab",
    "github",
    "ec2-user",
    "dev",
    "test",
    "tester",
    "build",
    "builder",
    "app",
    "node",
    "codespace",
    "codespaces",
    "vscode",
    "www-data",
    "home",
    "host",
    "localhost",
    "local",
    "linux",
    "windows",
    "macos",
    "darwin",
    "none",
    "(none)",
    "unknown",
    "filtered",
    "redacted",
    "email",
    "phone",
    "card",
    "ssn",
    "iban",
    "jwt",
    "key",
];

/// Whether [`path_users`] can match: a `/` or `\\` right before `home` and a
/// separator or an `s` (`/home/`, `\\home\\`, `\\homes\\`), `users` or
/// `documents and`, all in any case. A cheap test that skips the pattern.
pub(crate) fn maybe_user_path(s: &str) -> bool {
    let b = s.as_bytes();
    let starts_ci = |i: usize, word: &[u8]| {
        b.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    memchr::memchr2_iter(b'/', b'\\', b).any(|i| {
        (starts_ci(i + 1, b"home") && matches!(b.get(i + 5), Some(b'/' | b'\\' | b's' | b'S')))
            || starts_ci(i + 1, b"users")
            || starts_ci(i + 1, b"documents and")
    })
}

/// `/home/NAME`, `/Users/NAME`, `C:\Users\NAME`, `/mnt/c/Users/NAME`, … : the
/// name becomes `<user>`, the rest of the path stays.
pub(crate) fn path_users(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    // Leftmost-first matches, as `find_iter` finds them; but a path that starts
    // with a user's home needs no pattern for its first match, and the rest of a
    // text is not searched once it holds no candidate (most paths hold one user).
    let mut next = leading_user_path(s).or_else(|| p.path_user.find(s).map(|m| m.range()));
    while let Some(m) = next {
        next = if s.get(m.end..).is_some_and(maybe_user_path) {
            p.path_user.find_at(s, m.end).map(|m| m.range())
        } else {
            None
        };
        // The name is the last segment of the match (a multi-word Windows name is
        // followed by its separator, which the match includes).
        let text = s[m.clone()].trim_end_matches(['/', '\\']);
        let Some(sep) = text.rfind(['/', '\\']) else {
            continue;
        };
        let name = &text[sep + 1..];
        if name.is_empty() || SHARED_DIRS.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            continue;
        }
        let start = m.start + sep + 1;
        if w.replace(start..start + name.len(), USER) {
            counts.bump(Rule::PathUser);
        }
    }
    w.finish()
}

/// The first match of the user-path pattern in a text that starts with
/// `/home/NAME` or `/Users/NAME` (`users` in any ASCII case), found without the
/// pattern: the pattern's match there, by its first alternatives and the
/// greedy name (up to a blank or one of [`NAME_STOPS`]). `None` for any other
/// text.
fn leading_user_path(s: &str) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let prefix = if b.starts_with(b"/home/") {
        6
    } else if b
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"/users/"))
    {
        7
    } else {
        return None;
    };
    let rest = s.get(prefix..)?;
    let name = rest
        .find(|c: char| c.is_whitespace() || NAME_STOPS.contains(&c))
        .unwrap_or(rest.len());
    (name > 0).then_some(0..prefix + name)
}

/// `~NAME/` (another user's home), not inside a word or a path: the name becomes
/// `<user>`. `~/`, `PROGRA~1/` and `a/~b/` survive.
pub(crate) fn tildes(p: &Patterns, s: &str, counts: &mut Redactions) -> Option<String> {
    let mut w = Rewriter::new(s);
    for m in p.tilde.find_iter(s) {
        // Not inside a word or a path (`PROGRA~1`, `a/~b/`).
        let opens = escape_before(s, m.start())
            || before(s, m.start()).is_none_or(|b| !is_path_byte(b) && b != b'/' && b != b'\\');
        let closes = matches!(at(s, m.end()), Some(b'/' | b'\\'));
        if opens && closes && w.replace(m.start() + 1..m.end(), USER) {
            counts.bump(Rule::PathUser);
        }
    }
    w.finish()
}

/// A byte that can continue a path component.
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~')
}

/// The pattern for the running user's home directory, or `None` when no pattern
/// is needed: no home, a home too short to be told apart from other text (`/`,
/// `C:`), or a home that the generic path rule already covers (`/home/alice`).
pub(crate) fn home_regex(p: Option<&Patterns>, home: &str) -> Option<Result<Finder, regex::Error>> {
    let home = home.trim().trim_end_matches(['/', '\\']);
    let parts: Vec<&str> = home.split(['/', '\\']).filter(|c| !c.is_empty()).collect();
    if home.chars().count() < 3 || parts.is_empty() {
        return None;
    }
    if let Some(p) = p
        && path_users(p, home, &mut Redactions::default()).is_some_and(|s| s.ends_with(USER))
    {
        return None;
    }
    let sep = r"(?:\\+|/)";
    let windows = home.contains('\\') || home.as_bytes().get(1) == Some(&b':');
    let mut pattern = String::from(if windows { "(?i)" } else { "" });
    if home.starts_with(['/', '\\']) {
        pattern.push_str(sep);
    }
    let escaped: Vec<String> = parts.iter().map(|c| regex::escape(c)).collect();
    pattern.push_str(&escaped.join(sep));
    let needle = parts
        .last()
        .filter(|c| c.is_ascii())
        .map(|c| c.to_ascii_lowercase());
    // A Unix home is matched as written: a plain substring search.
    let literal = (!windows && home.starts_with('/'))
        .then(|| memchr::memmem::Finder::new(home.as_bytes()).into_owned());
    Some(Regex::new(&pattern).map(|re| Finder {
        re,
        needle,
        literal,
    }))
}

/// A pattern for one of this machine's names, with a cheap test that skips it.
#[derive(Debug)]
pub(crate) struct Finder {
    pub(crate) re: Regex,
    /// Lower-case ASCII text that every match contains, ignoring ASCII case.
    needle: Option<String>,
    /// The exact text to find instead of the pattern (a Unix home directory).
    literal: Option<memchr::memmem::Finder<'static>>,
}

impl Finder {
    /// Whether the pattern can match `s` (`false` only when it certainly cannot).
    pub(crate) fn may_match(&self, s: &str) -> bool {
        match &self.literal {
            Some(literal) => literal.find(s.as_bytes()).is_some(),
            None => self.needle.as_deref().is_none_or(|n| contains_ci(s, n)),
        }
    }

    /// Calls `each` with every match in `s`, in order.
    fn each_match(&self, s: &str, mut each: impl FnMut(std::ops::Range<usize>)) {
        match &self.literal {
            Some(literal) => {
                let len = literal.needle().len();
                for i in literal.find_iter(s.as_bytes()) {
                    each(i..i + len);
                }
            }
            None => {
                for m in self.re.find_iter(s) {
                    each(m.range());
                }
            }
        }
    }
}

/// The running user's home directory, wherever it appears as a whole path prefix,
/// becomes `<home>`.
pub(crate) fn home(f: &Finder, s: &str, counts: &mut Redactions) -> Option<String> {
    if f.literal.is_none() && !f.may_match(s) {
        return None;
    }
    let mut w = Rewriter::new(s);
    f.each_match(s, |m| {
        let whole = (escape_before(s, m.start) || !before(s, m.start).is_some_and(is_path_byte))
            && !at(s, m.end).is_some_and(is_path_byte);
        if whole && w.replace(m, HOME) {
            counts.bump(Rule::Home);
        }
    });
    w.finish()
}

/// Whether a login or host name is replaced as a word: 3 characters or more, not
/// all digits, and not one of [`GENERIC_NAMES`].
pub(crate) fn usable_name(name: &str) -> bool {
    let name = name.trim();
    name.chars().count() >= 3
        && !name.chars().all(|c| c.is_ascii_digit())
        && name.chars().any(char::is_alphanumeric)
        && !GENERIC_NAMES.iter().any(|g| g.eq_ignore_ascii_case(name))
}

/// A case-insensitive pattern for these names as words (longest first), or `None`
/// when none is usable. ASCII names ignore ASCII case only, so that the cheap
/// test of [`Finder`] is exact.
pub(crate) fn words_regex<'n>(
    names: impl IntoIterator<Item = &'n str>,
) -> Option<Result<Finder, regex::Error>> {
    let mut names: Vec<&str> = names
        .into_iter()
        .map(str::trim)
        .filter(|n| usable_name(n))
        .collect();
    if names.is_empty() {
        return None;
    }
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    let ascii = names.iter().all(|n| n.is_ascii());
    let flags = if ascii { "(?i-u)" } else { "(?i)" };
    let needle = names
        .last()
        .filter(|_| ascii)
        .map(|n| n.to_ascii_lowercase());
    Some(
        Regex::new(&format!("{flags}(?:{})", alternatives.join("|"))).map(|re| Finder {
            re,
            needle,
            literal: None,
        }),
    )
}

/// Whole-word occurrences (not next to an ASCII letter or digit) become `marker`.
pub(crate) fn words(
    f: &Finder,
    s: &str,
    marker: &str,
    rule: Rule,
    counts: &mut Redactions,
) -> Option<String> {
    if !f.may_match(s) {
        return None;
    }
    let mut w = Rewriter::new(s);
    for m in f.re.find_iter(s) {
        let whole = (escape_before(s, m.start())
            || !before(s, m.start()).is_some_and(|b| b.is_ascii_alphanumeric()))
            && !at(s, m.end()).is_some_and(|b| b.is_ascii_alphanumeric());
        if whole && w.replace(m.range(), marker) {
            counts.bump(rule);
        }
    }
    w.finish()
}

/// The names a host is known by: the full name and, for a dotted name, its first
/// label (`alice-laptop.example.com` and `alice-laptop`).
pub(crate) fn host_names(host: &str) -> Vec<&str> {
    let host = host.trim();
    let mut names = vec![host];
    if let Some((first, _)) = host.split_once('.')
        && !first.is_empty()
    {
        names.push(first);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::super::patterns::PATTERNS;
    use super::*;

    fn patterns() -> &'static Patterns {
        match &*PATTERNS {
            Ok(p) => p,
            Err(e) => panic!("patterns do not compile: {e}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2048,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// The leading match found without the pattern is the pattern's.
        #[test]
        fn leading_user_path_is_the_patterns_match(
            start in proptest::sample::select(vec!["/home/", "/Users/", "/USERS/", "/users/", "/home", "/uſers/", "/Users", "C:/Users/", "/var/home/", ""]),
            rest in "[a-zA-Z0-9 ./\\\\:*?\"'<>|,;()\\[\\]{}_~\u{a0}\u{2003}\u{17f}é\n\t-]{0,24}",
        ) {
            let text = format!("{start}{rest}");
            if let Some(fast) = leading_user_path(&text) {
                let slow = patterns().path_user.find(&text).map(|m| m.range());
                proptest::prop_assert_eq!(Some(fast), slow, "{:?}", text);
            }
            // And the rule as a whole agrees with the pattern's own matches.
            let mut plain = Rewriter::new(&text);
            for m in patterns().path_user.find_iter(&text) {
                let t = m.as_str().trim_end_matches(['/', '\\']);
                if let Some(sep) = t.rfind(['/', '\\']) {
                    let name = &t[sep + 1..];
                    if !name.is_empty() && !SHARED_DIRS.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                        let at = m.start() + sep + 1;
                        plain.replace(at..at + name.len(), USER);
                    }
                }
            }
            let plain = plain.finish();
            proptest::prop_assert_eq!(path_users(patterns(), &text, &mut Redactions::default()), plain, "{:?}", text);
        }
    }

    #[test]
    fn path_user_rule() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "/home/alice/code/main.rs",
                Some("/home/<user>/code/main.rs"),
            ),
            (
                "/Users/john/code/file.py",
                Some("/Users/<user>/code/file.py"),
            ),
            (
                r"C:\Users\Alice\AppData\x.log",
                Some(r"C:\Users\<user>\AppData\x.log"),
            ),
            ("D:/Users/bob/proj", Some("D:/Users/<user>/proj")),
            (r"C:\\Users\\alice\\proj", Some(r"C:\\Users\\<user>\\proj")),
            (
                r"C:\Users\John Smith\Documents\a.txt",
                Some(r"C:\Users\<user>\Documents\a.txt"),
            ),
            (r"C:\\Users\\John Smith\\x", Some(r"C:\\Users\\<user>\\x")),
            // Escaped twice (`Debug` of a `Debug` string).
            (
                r"C:\\\\Users\\\\alice\\\\x",
                Some(r"C:\\\\Users\\\\<user>\\\\x"),
            ),
            (r"C:\Users\John Smith", Some(r"C:\Users\<user> Smith")),
            (r"\\?\C:\Users\alice\x", Some(r"\\?\C:\Users\<user>\x")),
            (
                r"C:\Documents and Settings\alice\x",
                Some(r"C:\Documents and Settings\<user>\x"),
            ),
            ("/mnt/c/Users/alice/x", Some("/mnt/c/Users/<user>/x")),
            ("/var/home/alice/x", Some("/var/home/<user>/x")),
            ("file:///home/alice/x", Some("file:///home/<user>/x")),
            (
                "open /home/alice: permission denied",
                Some("open /home/<user>: permission denied"),
            ),
            (
                "a /home/alice/x and /home/bob/y",
                Some("a /home/<user>/x and /home/<user>/y"),
            ),
            ("\"/Users/carol\"", Some("\"/Users/<user>\"")),
            (
                "/home/alice/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs",
                Some(
                    "/home/<user>/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs",
                ),
            ),
            (r"C:\Users\ALICE~1\x", Some(r"C:\Users\<user>\x")),
            // UNC paths, WSL and other forms that carry a user name.
            (
                r"\\fileserver\share\Users\alice\x.log",
                Some(r"\\fileserver\share\Users\<user>\x.log"),
            ),
            (r"\\srv\Users\bob", Some(r"\\srv\Users\<user>")),
            (
                r"\\srv\c$\Users\John Smith\x",
                Some(r"\\srv\c$\Users\<user>\x"),
            ),
            (
                r"\\wsl$\Ubuntu\home\alice\code",
                Some(r"\\wsl$\Ubuntu\home\<user>\code"),
            ),
            (
                r"\\wsl.localhost\Ubuntu-22.04\home\alice",
                Some(r"\\wsl.localhost\Ubuntu-22.04\home\<user>"),
            ),
            (r"\\nas\homes\carol\x", Some(r"\\nas\homes\<user>\x")),
            (
                r"\\?\UNC\srv\share\Users\dave\x",
                Some(r"\\?\UNC\srv\share\Users\<user>\x"),
            ),
            (
                r#""\\\\srv\\share\\Users\\erin\\x""#,
                Some(r#""\\\\srv\\share\\Users\\<user>\\x""#),
            ),
            (r"\\.\C:\Users\frank\x", Some(r"\\.\C:\Users\<user>\x")),
            (r"cd \Users\gina\x", Some(r"cd \Users\<user>\x")),
            ("C:/Users/alice/proj", Some("C:/Users/<user>/proj")),
            (
                "/cygdrive/c/Users/alice/x",
                Some("/cygdrive/c/Users/<user>/x"),
            ),
            ("/c/Users/alice/x", Some("/c/Users/<user>/x")),
            (
                r"C:\cygwin64\home\alice\x",
                Some(r"C:\cygwin64\home\<user>\x"),
            ),
            ("C:/msys64/home/alice/x", Some("C:/msys64/home/<user>/x")),
            ("/export/home/alice/x", Some("/export/home/<user>/x")),
            ("/usr/home/alice/x", Some("/usr/home/<user>/x")),
            (
                "/System/Volumes/Data/Users/alice/x",
                Some("/System/Volumes/Data/Users/<user>/x"),
            ),
            (
                "「\\\\srv\\Users\\hana\\x",
                Some("「\\\\srv\\Users\\<user>\\x"),
            ),
            // Look-alikes that survive.
            (r"C:\\data\\home\\x", None),
            (r"\\fileserver\builds\app.exe", None),
            (r"\\.\pipe\openadapt", None),
            (r"BUILTIN\Users", None),
            (r"\\srv\share\Users\Public\x", None),
            ("/usr/homebrew/x", None),
            ("src/home/mod.rs", None),
            ("/data/homes/x", None),
            ("/home/<user>/code", None),
            ("src/users/mod.rs", None),
            ("./users/x", None),
            ("/Users/Shared/x", None),
            (r"C:\Users\Public\x", None),
            ("/home/", None),
            ("/homework/x", None),
            ("src/layer.rs:42", None),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", None),
        ];
        for (input, want) in cases {
            let mut counts = Redactions::default();
            let got = path_users(patterns(), input, &mut counts);
            assert_eq!(got.as_deref(), *want, "{input}");
            assert_eq!(counts.get(Rule::PathUser) > 0, want.is_some(), "{input}");
        }
    }

    #[test]
    fn tilde_rule() {
        let cases: &[(&str, Option<&str>)] = &[
            ("~alice/code", Some("~<user>/code")),
            ("cd ~bob/x", Some("cd ~<user>/x")),
            ("path=~carol\\x", Some("path=~<user>\\x")),
            ("~/code", None),
            ("PROGRA~1/x", None),
            ("takes ~five minutes", None),
            ("~<user>/x", None),
            ("🎉~dave/x", Some("🎉~<user>/x")),
            ("「~erin/x」", Some("「~<user>/x」")),
            ("a/~frank/x", None),
            ("x~frank/y", None),
        ];
        for (input, want) in cases {
            let got = tildes(patterns(), input, &mut Redactions::default());
            assert_eq!(got.as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn home_rule() {
        let p = Some(patterns());
        assert!(
            home_regex(p, "/home/alice").is_none(),
            "covered by the generic rule"
        );
        assert!(home_regex(p, r"C:\Users\alice").is_none());
        assert!(home_regex(p, "/").is_none());
        assert!(home_regex(p, "").is_none());
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "/root",
                "/root/.cargo/registry/src/x.rs",
                Some("<home>/.cargo/registry/src/x.rs"),
            ),
            ("/root/", "cwd /root", Some("cwd <home>")),
            ("/root", "/rootfs/x and /srv/root/y", None),
            (
                "/var/lib/alice",
                "at /var/lib/alice/app/main.rs:3",
                Some("at <home>/app/main.rs:3"),
            ),
            ("/var/lib/alice", "/var/lib/alice2/x", None),
            (
                r"D:\Profiles\alice",
                r"D:\profiles\ALICE\x and D:/Profiles/alice/y",
                Some(r"<home>\x and <home>/y"),
            ),
        ];
        for (home_dir, input, want) in cases {
            let re = match home_regex(p, home_dir) {
                Some(Ok(re)) => re,
                other => panic!("{home_dir}: {other:?}"),
            };
            let mut counts = Redactions::default();
            assert_eq!(
                home(&re, input, &mut counts).as_deref(),
                *want,
                "{home_dir} {input}"
            );
            assert_eq!(counts.get(Rule::Home) > 0, want.is_some());
        }
    }

    #[test]
    fn usable_names() {
        for name in [
            "alice",
            "Alice-MacBook-Pro",
            "bob",
            "3f2a9c1b7d4e",
            "jürgen",
        ] {
            assert!(usable_name(name), "{name}");
        }
        for name in [
            "root",
            "ROOT",
            "al",
            "",
            "  ",
            "runner",
            "ubuntu",
            "localhost",
            "1234",
            "---",
            "user",
            "(none)",
        ] {
            assert!(!usable_name(name), "{name}");
        }
    }

    #[test]
    fn word_rule() {
        let re = match words_regex(["alice", "root", "al"]) {
            Some(Ok(re)) => re,
            other => panic!("{other:?}"),
        };
        let cases: &[(&str, Option<&str>)] = &[
            ("alice ran it", Some("<user> ran it")),
            ("by Alice.", Some("by <user>.")),
            ("alice_backup", Some("<user>_backup")),
            ("alice-laptop", Some("<user>-laptop")),
            ("malice and alicent", None),
            ("root cause", None),
            ("al", None),
        ];
        for (input, want) in cases {
            let got = words(&re, input, USER, Rule::UserName, &mut Redactions::default());
            assert_eq!(got.as_deref(), *want, "{input}");
        }
        assert!(words_regex(["root", "al", ""]).is_none());
        assert_eq!(
            host_names("alice-laptop.example.com"),
            ["alice-laptop.example.com", "alice-laptop"]
        );
        assert_eq!(host_names("box"), ["box"]);
    }
}
