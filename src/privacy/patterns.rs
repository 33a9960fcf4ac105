//! The compiled patterns ([`Patterns`], every regex of the value rules, compiled
//! once), and the rules for secrets and contact data found by them in free text:
//! private key blocks, URLs' user-info and query, Oracle JDBC credentials,
//! cloud storage keys, webhook URLs, JWTs, API keys, bearer tokens and email
//! addresses. These need no knowledge of this machine.
//!
//! Every pass takes the text and returns `None` when it changed nothing (so the
//! caller keeps borrowing), or the rewritten text. Passes are linear in the text:
//! regexes (the `regex` crate never backtracks) plus bounded checks around each
//! match, and a pass that rejects a candidate resumes after it.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::prefilter::contains_ci;
use super::rewrite::{
    FILTERED, Rewriter, at, before, escape_before, replace_simple, word_at, word_before,
};
use super::{Redactions, Rule};

/// The compiled patterns (all literals; `patterns_compile` proves they compile).
#[derive(Debug)]
pub(crate) struct Patterns {
    pem_begin: Regex,
    pem_end: Regex,
    url: Regex,
    oracle: Regex,
    cloud: Regex,
    webhook: Regex,
    pub(crate) mac: Regex,
    jwt: Regex,
    api_key: Regex,
    bearer: Regex,
    email: Regex,
    pub(crate) iban: Regex,
    pub(crate) digit_run: Regex,
    pub(crate) ssn: Regex,
    pub(crate) phone: Regex,
    pub(crate) phone_national: Regex,
    pub(crate) ipv6: Regex,
    pub(crate) ipv4: Regex,
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
///
/// A body that stops inside a word (`…AAAA.`, `…AAAA, https://hooks…` where
/// `https` looks like base64) takes the rest of that line: what follows may be
/// another secret (a webhook, `sk_live_…`, a phone number with blanks), and the
/// part of it left behind would no longer look like one. It stops earlier at a
/// quote (the end of a JSON value written in the text) and before `-----` (the
/// next block's armour, which is then matched on its own).
fn truncated_pem_len(text: &str) -> usize {
    let body = |c: char| c.is_ascii_alphanumeric() || c.is_whitespace() || "+/=\\:,-".contains(c);
    let Some((stop, _)) = text.char_indices().find(|&(_, c)| !body(c)) else {
        return text.len();
    };
    let before = &text[..stop];
    let at_word_start = stop == 0
        || before.ends_with(char::is_whitespace)
        || [r"\n", r"\r", r"\t"].iter().any(|e| before.ends_with(e));
    if at_word_start {
        return stop;
    }
    // One pass to the first end (each search to its own first match would read
    // the rest of the text once per key: quadratic for many keys on a line).
    let rest = &text.as_bytes()[stop..];
    let end = (0..rest.len())
        .find(|&i| match rest[i] {
            b'\n' | b'\r' | b'"' | b'\'' | b'`' => true,
            b'\\' => matches!(rest.get(i + 1), Some(b'n' | b'r')),
            b'-' => rest[i..].starts_with(b"-----"),
            _ => false,
        })
        .unwrap_or(rest.len());
    stop + end
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
        if memchr::memchr3(b'@', b'?', b'#', url.as_str().as_bytes()).is_none() {
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
            // A quoted value (`AccountKey="…"`, or `\"…\"` in Debug text): its inside.
            let mut start = all.end();
            let slashes = b[start..].iter().take_while(|&&c| c == b'\\').count();
            if matches!(b.get(start + slashes), Some(b'"' | b'\'')) {
                start += slashes + 1;
            }
            let len = b[start..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || b";\"'<>\\".contains(c))
                .unwrap_or(b.len() - start);
            (len > 0).then(|| start..start + len)
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
            // (`\nhooks.slack.com/…`: a line break written as an escape is
            // not part of the name.)
            let glued = before(s, m.start())
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !escape_before(s, m.start());
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

#[cfg(test)]
pub(crate) mod tests {
    use super::super::prefilter::maybe_cloud_key;
    use super::*;

    pub(crate) fn patterns() -> &'static Patterns {
        match &*PATTERNS {
            Ok(p) => p,
            Err(e) => panic!("patterns do not compile: {e}"),
        }
    }

    pub(crate) type Pass = fn(&Patterns, &str, &mut Redactions) -> Option<String>;

    /// Run one pass over each case; `None` expected means "unchanged".
    pub(crate) fn table(pass: Pass, rule: Rule, cases: &[(&str, Option<&str>)]) {
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
                // ... and never inside a word: a secret after the key is not
                // cut in half (the rest of the line goes with the key).
                (
                    "-----BEGIN PRIVATE KEY-----\nAAAA, https://hooks.slack.com/services/T0/B0/abc1 end\nnext",
                    Some("[private-key]\nnext"),
                ),
                (
                    "-----BEGIN PRIVATE KEY-----\nAAAA sk_live_abcdef12345 end",
                    Some("[private-key]"),
                ),
                (
                    "-----BEGIN PRIVATE KEY-----\nAAAA.(555) 123-4567 end",
                    Some("[private-key]"),
                ),
                // An escaped line break ends a word: what follows is whole.
                (
                    r"-----BEGIN PRIVATE KEY-----\nAAAA\n(555) 123-4567 end",
                    Some(r"[private-key](555) 123-4567 end"),
                ),
                // A second truncated block right after: matched on its own.
                (
                    "-----BEGIN PRIVATE KEY-----\nAAAA.-----BEGIN PRIVATE KEY-----\nSECRET",
                    Some("[private-key][private-key]"),
                ),
                (
                    r#"["-----BEGIN PRIVATE KEY-----\nMIIEvQ","-----BEGIN PRIVATE KEY-----\nMIIEsecond"]"#,
                    Some(r#"["[private-key]","[private-key]"]"#),
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
                // Found by the property test: a quoted value, escaped in Debug text.
                (
                    r#"" AccountKey=\"AAaaA#aa\" ""#,
                    Some(r#"" AccountKey=\"[Filtered]\" ""#),
                ),
                (r#"AccountKey="abc""#, Some(r#"AccountKey="[Filtered]""#)),
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
                // Found by the property test: after a line break in Debug text.
                (
                    r"\nhooks.slack.com/services/T000AA0AA/B000AA0AA/aaaa0a0a0aaaaa0a000aaaa0aa ",
                    Some(r"\nhooks.slack.com/[webhook] "),
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
}
