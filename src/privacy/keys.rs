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
pub(crate) fn is_single(t: &[u8]) -> bool {
    matches!(
        t,
        // the seed's list (multi-word entries are in `is_sequence`)
        b"password" | b"secret" | b"token" | b"authorization" | b"cookie" | b"session" | b"email" | b"phone"
            | b"address" | b"ssn"
            // plurals and spellings
            | b"passwords" | b"secrets" | b"tokens" | b"cookies" | b"sessions" | b"emails" | b"phones"
            | b"addresses" | b"passwd" | b"pwd" | b"passphrase" | b"auth" | b"credential" | b"credentials"
            | b"creds" | b"bearer" | b"otp" | b"totp" | b"hotp" | b"jwt" | b"csrf" | b"xsrf" | b"sid" | b"ip"
            | b"iban" | b"cvv" | b"cvc"
            // words written without a separator
            | b"apikey" | b"apikeys" | b"xapikey" | b"privatekey" | b"privkey" | b"accesskey" | b"secretkey"
            | b"sessionid" | b"sessid" | b"phpsessid" | b"authtoken" | b"accesstoken" | b"refreshtoken"
            | b"csrftoken" | b"xsrftoken" | b"setcookie" | b"creditcard" | b"cardnumber" | b"ccnumber"
            | b"ipaddr" | b"ipaddress" | b"emailaddress" | b"phonenumber" | b"username" | b"firstname"
            | b"lastname" | b"fullname" | b"hostname"
    )
}

/// Two consecutive tokens that make a key sensitive (lower case).
pub(crate) fn is_sequence(first: &[u8], second: &[u8]) -> bool {
    matches!(
        (first, second),
        (b"api", b"key" | b"keys")
            | (b"credit", b"card")
            | (b"card", b"number")
            | (b"private" | b"priv" | b"access", b"key")
            | (b"remote", b"addr")
            | (b"forwarded", b"for")
            | (b"two", b"factor")
            | (b"user" | b"first" | b"last" | b"full" | b"host", b"name")
    )
}

/// Tokens that may be counted without being secret.
fn is_countable(t: &[u8]) -> bool {
    matches!(t, b"session" | b"sessions" | b"token" | b"tokens")
}

/// Measure words: next to a countable token they make it a number, not a secret.
pub(crate) fn is_measure(t: &[u8]) -> bool {
    matches!(
        t,
        b"count"
            | b"counts"
            | b"total"
            | b"num"
            | b"number"
            | b"duration"
            | b"ms"
            | b"secs"
            | b"seconds"
            | b"len"
            | b"length"
            | b"size"
            | b"limit"
            | b"max"
            | b"min"
            | b"avg"
            | b"used"
            | b"remaining"
            | b"ttl"
            | b"timeout"
    )
}

/// Words that, before `tokens` (plural), name an LLM token count.
fn is_llm_usage(t: &[u8]) -> bool {
    matches!(
        t,
        b"prompt" | b"completion" | b"input" | b"output" | b"cached" | b"reasoning"
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

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Whether `key` names a value that must not be sent (see the module docs).
/// One pass over the key, no allocation.
pub(crate) fn is_sensitive(key: &str) -> bool {
    if key.is_ascii() {
        sensitive_tokens(ascii_tokens(key))
    } else {
        sensitive_tokens(tokens(key))
    }
}

/// [`is_sensitive`] over the tokens of a key.
fn sensitive_tokens<'k>(tokens: impl Iterator<Item = &'k str>) -> bool {
    let mut prev = Lower::EMPTY;
    // A countable token seen last, and whether its neighbours so far make it a count.
    let mut pending: Option<bool> = None;
    for token in tokens {
        let cur = Lower::of(token);
        let c = cur.as_bytes();
        if let Some(is_count) = pending.take()
            && !is_count
            && !is_measure(c)
        {
            return true;
        }
        if is_sequence(prev.as_bytes(), c) {
            return true;
        }
        if is_single(c) {
            if !is_countable(c) {
                return true;
            }
            let p = prev.as_bytes();
            pending = Some(is_measure(p) || (c == b"tokens" && is_llm_usage(p)));
        }
        prev = cur;
    }
    pending == Some(false)
}

/// [`tokens`] of an ASCII key, a byte at a time (the same tokens, faster).
fn ascii_tokens(key: &str) -> impl Iterator<Item = &str> {
    let b = key.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        // Skip separators.
        while i < b.len() && !b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        i += 1;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            let (p, c) = (b[i - 1], b[i]);
            let next_is_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            if c.is_ascii_uppercase()
                && (p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next_is_lower))
            {
                break;
            }
            i += 1;
        }
        key.get(start..i)
    })
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
            if key.is_ascii() {
                let fast: Vec<&str> = ascii_tokens(key).collect();
                assert_eq!(&fast, want, "{key} (ASCII)");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// The ASCII tokenizer agrees with the general one.
        #[test]
        fn ascii_tokenizer_agrees(key in "[a-zA-Z0-9_. -]{0,24}") {
            let slow: Vec<&str> = tokens(&key).collect();
            let fast: Vec<&str> = ascii_tokens(&key).collect();
            proptest::prop_assert_eq!(slow, fast);
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
