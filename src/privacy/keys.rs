//! The key rule: is a field, tag, extra, context or span-data key sensitive?
//!
//! A key is split into tokens (on every character that is not a letter or a digit,
//! and on camelCase / PascalCase boundaries, acronyms included: `XApiKey` is
//! `x api key`, `HTTPSProxy` is `https proxy`, `ipv4Addr` is `ipv4 addr`), and the
//! lower-cased tokens are matched whole against [`is_single`] and, as consecutive
//! tokens, against [`is_sequence`]. Whole tokens, not substrings: `author`,
//! `oauth_provider`, `tokenizer` and `authenticated` are not sensitive, while
//! `authToken`, `oauth_token` and `auth` are.
//!
//! Counts are not secrets: a hit on `session`, `sessions`, `token` or `tokens`
//! right next to a measure word ([`is_measure`]: `session_count`,
//! `session_duration_ms`, `num_sessions`, `max_tokens`, `token_limit`) is not a hit,
//! and neither is `tokens` after an LLM usage word (`prompt_tokens`,
//! `completion_tokens`, `input_tokens`). `session_id`, `sessionToken`,
//! `session_key` and `access_tokens` stay sensitive.

/// Tokens that make a key sensitive on their own (lower case).
pub(crate) fn is_single(t: &str) -> bool {
    matches!(
        t,
        // the seed's list (multi-word entries are in `is_sequence`)
        "password" | "secret" | "token" | "authorization" | "cookie" | "session" | "email" | "phone"
            | "address" | "ssn"
            // plurals and spellings
            | "passwords" | "secrets" | "tokens" | "cookies" | "sessions" | "emails" | "phones"
            | "addresses" | "passwd" | "pwd" | "passphrase" | "auth" | "credential" | "credentials"
            | "creds" | "bearer" | "otp" | "totp" | "hotp" | "jwt" | "csrf" | "xsrf" | "sid" | "ip"
            | "iban" | "cvv" | "cvc"
            // words written without a separator
            | "apikey" | "apikeys" | "xapikey" | "privatekey" | "privkey" | "accesskey" | "secretkey"
            | "sessionid" | "sessid" | "phpsessid" | "authtoken" | "accesstoken" | "refreshtoken"
            | "csrftoken" | "xsrftoken" | "setcookie" | "creditcard" | "cardnumber" | "ccnumber"
            | "ipaddr" | "ipaddress" | "emailaddress" | "phonenumber" | "username" | "firstname"
            | "lastname" | "fullname" | "hostname"
    )
}

/// Two consecutive tokens that make a key sensitive (lower case).
pub(crate) fn is_sequence(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("api", "key" | "keys")
            | ("credit", "card")
            | ("card", "number")
            | ("private" | "priv" | "access", "key")
            | ("remote", "addr")
            | ("forwarded", "for")
            | ("two", "factor")
            | ("user" | "first" | "last" | "full" | "host", "name")
    )
}

/// Tokens that may be counted without being secret.
fn is_countable(t: &str) -> bool {
    matches!(t, "session" | "sessions" | "token" | "tokens")
}

/// Measure words: next to a countable token they make it a number, not a secret.
pub(crate) fn is_measure(t: &str) -> bool {
    matches!(
        t,
        "count"
            | "counts"
            | "total"
            | "num"
            | "number"
            | "duration"
            | "ms"
            | "secs"
            | "seconds"
            | "len"
            | "length"
            | "size"
            | "limit"
            | "max"
            | "min"
            | "avg"
            | "used"
            | "remaining"
            | "ttl"
            | "timeout"
    )
}

/// Words that, before `tokens` (plural), name an LLM token count.
fn is_llm_usage(t: &str) -> bool {
    matches!(
        t,
        "prompt" | "completion" | "input" | "output" | "cached" | "reasoning"
    )
}

/// A token in lower case, on the stack; longer tokens match no list and are kept
/// as the empty string.
#[derive(Clone, Copy)]
struct Lower {
    buf: [u8; 16],
    len: usize,
}

impl Lower {
    const EMPTY: Self = Self {
        buf: [0; 16],
        len: 0,
    };

    fn of(token: &str) -> Self {
        let mut lower = Self::EMPTY;
        if token.len() <= lower.buf.len() && token.is_ascii() {
            for (dst, src) in lower.buf.iter_mut().zip(token.bytes()) {
                *dst = src.to_ascii_lowercase();
            }
            lower.len = token.len();
        }
        lower
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// Whether `key` names a value that must not be sent (see the module docs).
/// One pass over the key, no allocation.
pub(crate) fn is_sensitive(key: &str) -> bool {
    let mut prev = Lower::EMPTY;
    // A countable token seen last, and whether its neighbours so far make it a count.
    let mut pending: Option<bool> = None;
    for token in tokens(key) {
        let cur = Lower::of(token);
        let c = cur.as_str();
        if let Some(is_count) = pending.take()
            && !is_count
            && !is_measure(c)
        {
            return true;
        }
        if is_sequence(prev.as_str(), c) {
            return true;
        }
        if is_single(c) {
            if !is_countable(c) {
                return true;
            }
            let p = prev.as_str();
            pending = Some(is_measure(p) || (c == "tokens" && is_llm_usage(p)));
        }
        prev = cur;
    }
    pending == Some(false)
}

/// The tokens of a key, as slices of it (not lower-cased; compare ignoring ASCII case).
pub(crate) fn tokens(key: &str) -> impl Iterator<Item = &str> {
    let mut chars = key.char_indices().peekable();
    let mut start: Option<usize> = None;
    let mut prev: Option<char> = None;
    std::iter::from_fn(move || {
        while let Some((i, c)) = chars.next() {
            if !c.is_alphanumeric() {
                prev = None;
                if let Some(s) = start.take() {
                    return Some(&key[s..i]);
                }
                continue;
            }
            let Some(s) = start else {
                start = Some(i);
                prev = Some(c);
                continue;
            };
            let next_is_lower = chars.peek().is_some_and(|&(_, n)| n.is_lowercase());
            let boundary = c.is_uppercase()
                && prev.is_some_and(|p| {
                    p.is_lowercase() || p.is_numeric() || (p.is_uppercase() && next_is_lower)
                });
            prev = Some(c);
            if boundary {
                start = Some(i);
                return Some(&key[s..i]);
            }
        }
        start.take().map(|s| &key[s..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_table() {
        let cases: &[(&str, &[&str])] = &[
            ("apiKey", &["api", "Key"]),
            ("X-Api-Key", &["X", "Api", "Key"]),
            ("XApiKey", &["X", "Api", "Key"]),
            ("HTTPSProxy", &["HTTPS", "Proxy"]),
            ("XMLHttpRequest", &["XML", "Http", "Request"]),
            ("user.password", &["user", "password"]),
            ("ipv4Addr", &["ipv4", "Addr"]),
            ("v4Address", &["v4", "Address"]),
            ("session_count", &["session", "count"]),
            ("  spaced  key ", &["spaced", "key"]),
            ("__", &[]),
            ("", &[]),
            ("ÉtéMot", &["Été", "Mot"]),
            ("API_KEY", &["API", "KEY"]),
            ("sessionToken", &["session", "Token"]),
        ];
        for (key, want) in cases {
            let got: Vec<&str> = tokens(key).collect();
            assert_eq!(&got, want, "{key}");
        }
    }

    #[test]
    fn sensitive_keys() {
        for key in [
            "password",
            "Password",
            "PASSWORD",
            "user.password",
            "db_password",
            "apiKey",
            "api_key",
            "api-key",
            "api.key",
            "X-Api-Key",
            "XApiKey",
            "x_api_key",
            "apikey",
            "sessionToken",
            "session_token",
            "session",
            "session_id",
            "sessionid",
            "PHPSESSID",
            "connect.sid",
            "userEmail",
            "email",
            "clientSecret",
            "client_secret",
            "secret",
            "token",
            "access_token",
            "refresh_token",
            "oauth_token",
            "authToken",
            "auth",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "set_cookie",
            "phone",
            "phone_number",
            "address",
            "ip",
            "ip_address",
            "ipAddress",
            "X-Forwarded-For",
            "x_real_ip",
            "REMOTE_ADDR",
            "ssn",
            "credit_card",
            "creditCard",
            "card_number",
            "passwd",
            "pwd",
            "MYSQL_PWD",
            "credentials",
            "private_key",
            "privateKey",
            "PRIVATE-KEY",
            "bearer",
            "otp",
            "two_factor",
            "jwt",
            "csrf",
            "xsrf-token",
            "csrftoken",
            "AWS_SECRET_ACCESS_KEY",
            "aws_access_key_id",
            "secret_key",
            "passphrase",
            "username",
            "user_name",
            "hostname",
            "sessions",
            "access_tokens",
            "session_key",
            "session_token_count",
            "iban",
        ] {
            assert!(is_sensitive(key), "{key} should be sensitive");
        }
    }

    #[test]
    fn harmless_keys() {
        for key in [
            "author",
            "authors",
            "oauth_provider",
            "oauth",
            "authenticated",
            "authentication_method",
            "tokenizer",
            "tokenize",
            "session_count",
            "sessionCount",
            "session_duration",
            "session_duration_s",
            "session_duration_ms",
            "num_sessions",
            "max_tokens",
            "token_count",
            "token_limit",
            "total_tokens",
            "prompt_tokens",
            "completion_tokens",
            "feature",
            "count",
            "package",
            "package_version",
            "os",
            "arch",
            "internal",
            "environment",
            "event_id",
            "trace_id",
            "span_id",
            "level",
            "message",
            "name",
            "key",
            "cache_key",
            "primary_key",
            "idempotency_key",
            "instruction_addr",
            "image_addr",
            "code.file.path",
            "code.line.number",
            "thread.name",
            "skip",
            "zip",
            "description",
            "ipv4",
            "keyboard",
            "repeat_count",
            "",
            "-",
        ] {
            assert!(!is_sensitive(key), "{key} should not be sensitive");
        }
    }

    #[test]
    fn very_long_keys() {
        let long = "a_".repeat(100) + "password";
        assert!(is_sensitive(&long));
        let long = "a_".repeat(100) + "b";
        assert!(!is_sensitive(&long));
        let long = "a_".repeat(23) + "api_key";
        assert!(is_sensitive(&long));
    }
}
