//! The key rule: is a field, tag, extra, context or span-data key sensitive?
//!
//! A key is split into tokens (on every character that is not a letter or a digit,
//! and on camelCase / PascalCase boundaries, acronyms included: `XApiKey` is
//! `x api key`, `HTTPSProxy` is `https proxy`, `ipv4Addr` is `ipv4 addr`), and the
//! lower-cased tokens are matched whole against [`is_single`] and, as consecutive
//! tokens, against [`is_sequence`]. Whole tokens, not substrings: `author`,
//! `oauth_provider`, `tokenizer`, `authenticated`, `zipper`, `passage`, `pinned`,
//! `mailbox` and `capacity` are not sensitive, while `authToken`, `oauth_token`,
//! `e-mail`, `db_pass` and `zip` are.
//!
//! A neighbouring token can make a hit harmless ([`harmless_before`],
//! [`harmless_after`]):
//!
//! - counts are not secrets: a hit on `session`, `sessions`, `token`, `tokens` or
//!   `pass` right next to a measure word ([`is_measure`]: `session_count`,
//!   `session_duration_ms`, `num_sessions`, `max_tokens`, `token_limit`,
//!   `pass_count`) is not a hit, and neither is `tokens` after an LLM usage word
//!   (`prompt_tokens`, `completion_tokens`, `input_tokens`);
//! - `pass` after an ordinal or a stage (`first_pass`, `second_pass`,
//!   `render_pass`, `encode_pass`) is a pass of an algorithm;
//! - `zip` before an archive word or a measure (`zip_file`, `zip_path`,
//!   `zip_level`, `zip_size`) is a compressed archive, `pin` before `memory`
//!   (`pin_memory`) is pinned memory, `mobile` before `net` (`MobileNetV2`) a model.
//!
//! `session_id`, `sessionToken`, `session_key`, `access_tokens`, `zip`,
//! `zip_code`, `pin`, `pin_code` and `pass` stay sensitive. Other contact words
//! get no such exemption: `mail_count`, like `email_count` and `phone_count`, is
//! filtered (the value is a number, and Python's list filters it too), while
//! `mailbox_count` is not (`mailbox` is its own token).

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
            // the Python family's list (notes/python-package.md)
            | b"mail" | b"mails" | b"telephone" | b"telephones" | b"mobile" | b"street" | b"city" | b"zip"
            | b"zipcode" | b"postal" | b"postalcode" | b"postcode" | b"expiry" | b"pass" | b"passcode"
            | b"pin" | b"dbpass" | b"dbpassword" | b"taxid" | b"bankaccount" | b"routingnumber"
            | b"databaseurl" | b"dburl" | b"connectionstring" | b"connstring" | b"connstr"
            | b"encryptionkey" | b"signingkey" | b"socialsecurity" | b"socialsecuritynumber"
            // cloud storage and webhooks
            | b"accountkey" | b"sastoken" | b"webhookurl"
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
            | (b"social", b"security")
            | (b"tax", b"id" | b"number")
            | (b"bank", b"account")
            | (b"routing", b"number")
            | (b"database" | b"db", b"url" | b"uri")
            | (b"connection" | b"conn", b"string" | b"str")
            | (b"encryption" | b"signing" | b"account", b"key")
            | (b"access", b"signature")
            | (b"post", b"code")
            | (b"webhook", b"url")
    )
}

/// Tokens that may be counted without being secret.
fn is_countable(t: &[u8]) -> bool {
    matches!(t, b"session" | b"sessions" | b"token" | b"tokens" | b"pass")
}

/// Whether the token before a hit makes it harmless (`session_count` is not a
/// secret, nor `prompt_tokens`, nor `first_pass`).
fn harmless_before(hit: &[u8], prev: &[u8]) -> bool {
    (is_countable(hit) && is_measure(prev))
        || (hit == b"tokens" && is_llm_usage(prev))
        || (hit == b"pass" && is_stage(prev))
}

/// Whether the token after a hit makes it harmless (`session_count`,
/// `zip_file`, `pin_memory`).
fn harmless_after(hit: &[u8], next: &[u8]) -> bool {
    match hit {
        b"zip" => is_measure(next) || is_archive(next),
        b"pin" => next == b"memory",
        b"mobile" => next == b"net",
        _ => is_countable(hit) && is_measure(next),
    }
}

/// Words that, before `pass`, name a pass of an algorithm.
fn is_stage(t: &[u8]) -> bool {
    matches!(
        t,
        b"first"
            | b"second"
            | b"third"
            | b"final"
            | b"next"
            | b"render"
            | b"encode"
            | b"decode"
            | b"two"
            | b"single"
            | b"multi"
    )
}

/// Words that, after `zip`, name a compressed archive.
fn is_archive(t: &[u8]) -> bool {
    matches!(
        t,
        b"file"
            | b"files"
            | b"path"
            | b"paths"
            | b"archive"
            | b"archives"
            | b"entry"
            | b"entries"
            | b"level"
            | b"format"
            | b"bytes"
            | b"compression"
    )
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
    buf: [u8; 24],
    len: usize,
}

impl Lower {
    const EMPTY: Self = Self {
        buf: [0; 24],
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
    // A hit seen last, waiting for the next token (which may make it harmless).
    let mut pending: Option<Lower> = None;
    for token in tokens {
        let cur = Lower::of(token);
        let c = cur.as_bytes();
        if let Some(hit) = pending.take()
            && !harmless_after(hit.as_bytes(), c)
        {
            return true;
        }
        if is_sequence(prev.as_bytes(), c) {
            return true;
        }
        if is_single(c) && !harmless_before(c, prev.as_bytes()) {
            pending = Some(cur);
        }
        prev = cur;
    }
    pending.is_some()
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
            // The Python family's key words (issue 13).
            "e-mail",
            "E-Mail-Address",
            "mail",
            "user_mail",
            "telephone",
            "mobile",
            "mobilePhone",
            "street",
            "city",
            "zip",
            "zipcode",
            "zip_code",
            "ZipCode",
            "postal",
            "postal_code",
            "postcode",
            "post_code",
            "social_security",
            "social_security_number",
            "socialSecurityNumber",
            "SOCIALSECURITYNUMBER",
            "tax_id",
            "taxId",
            "expiry",
            "card_expiry",
            "bank_account",
            "routing_number",
            "database_url",
            "DATABASE_URL",
            "db_url",
            "connection_string",
            "ConnectionString",
            "connectionstring",
            "encryption_key",
            "signing_key",
            "pass",
            "passwd",
            "passcode",
            "db_pass",
            "DB_PASS",
            "pin",
            "pin_code",
            "pass_token",
            "mail_count",
            // Cloud storage and webhooks.
            "AccountKey",
            "account_key",
            "SharedAccessKey",
            "SharedAccessSignature",
            "sas_token",
            "webhook_url",
            "slackWebhookUrl",
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
            "description",
            "ipv4",
            "keyboard",
            "repeat_count",
            // Words that contain a key word, or name something else next to it.
            "zipper",
            "gzip",
            "zipfile",
            "zip_file",
            "zip_path",
            "zip_level",
            "zip_size",
            "passage",
            "passed",
            "passes",
            "passthrough",
            "bypass",
            "compass",
            "pass_count",
            "num_pass",
            "first_pass",
            "render_pass",
            "pinned",
            "pinned_version",
            "spin",
            "pin_memory",
            "mailbox",
            "mailbox_count",
            "mailer",
            "gmail_enabled",
            "capacity",
            "velocity",
            "cityscapes",
            "mobilenet",
            "MobileNetV2",
            "tooltip",
            "expiration_policy",
            "postfix",
            "database",
            "connection",
            "connection_count",
            "signing",
            "encryption",
            "account_id",
            "key_id",
            "webhook",
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
        // Tokens up to 24 characters are compared; longer ones match nothing.
        assert!(is_sensitive("socialsecuritynumber"));
        assert!(!is_sensitive("socialsecuritynumberxxxxx"));
    }
}
