//! Privacy scrubbing: what is sent never holds a secret, a name, an address or a
//! user's path, and still reads.
//!
//! Every envelope item passes through the crate's transport-level gate, which
//! scrubs it with the rules below before anything leaves the process. The same
//! rules are available to other packages as [`scrub_str`], [`sanitize_path`] and
//! [`is_sensitive_key`].
//!
//! # Keys
//!
//! A key (field, tag, extra, context or span-data name) is split into tokens on
//! `_`, `-`, `.`, spaces, every other non-alphanumeric character, and camelCase
//! boundaries (acronyms included: `XApiKey` is `x api key`), then matched **by whole
//! tokens** against a denylist: the seed's `password`, `secret`, `token`, `api_key`,
//! `authorization`, `cookie`, `session`, `email`, `phone`, `address`, `ssn`,
//! `credit_card`, plus `passwd`, `pwd`, `passphrase`, `auth`, `credential(s)`,
//! `private_key`, `access_key`, `bearer`, `otp`, `jwt`, `csrf`, `xsrf`, `sid`,
//! `set_cookie`, `ip`, `ip_address`, `x_forwarded_for`, `remote_addr`, `iban`,
//! `cvv`, `username`, `hostname`; the Python packages' words (`e-mail`, `mail`,
//! `telephone`, `mobile`, `street`, `city`, `zip`, `zipcode`, `postal`,
//! `social_security`, `tax_id`, `expiry`, `bank_account`, `routing_number`,
//! `database_url`, `connection_string`, `encryption_key`, `signing_key`, `pass`,
//! `passcode`, `db_pass`, `pin`); `account_key`, `SharedAccessSignature`,
//! `webhook_url`; and spellings without separators (`apikey`, `sessionid`,
//! `zipcode`, `connectionstring`, …). A sensitive key keeps its name and its
//! value, whatever its type, becomes `"[Filtered]"`.
//!
//! - Whole tokens: `author`, `authenticated`, `tokenizer`, `zipper`, `passage`,
//!   `pinned`, `mailbox` and `oauth_provider` are not sensitive (`oauth` is its own
//!   token, not `auth`); `authToken`, `oauth_token`, `clientSecret`, `e-mail` and
//!   `db_pass` are.
//! - **Counts are not secrets**: `session`, `sessions`, `token`, `tokens` or `pass`
//!   next to a measure word (count, total, num, number, duration, ms, secs,
//!   seconds, len, length, size, limit, max, min, avg, used, remaining, ttl,
//!   timeout) is not a hit, so `session_count`, `session_duration_s`,
//!   `num_sessions`, `max_tokens`, `token_count` and `pass_count` are sent; so are
//!   LLM usage counts (`prompt_tokens`, `completion_tokens`). `session_id`,
//!   `sessionToken` and `session_key` are filtered. The crate's own `session_id`
//!   tag is exempt by name, not by this rule.
//! - **Other meanings**: `first_pass`, `render_pass` (a pass of an algorithm),
//!   `zip_file`, `zip_level` (an archive), `pin_memory` (pinned memory) are sent.
//!   Contact words get no count exemption: `mail_count` is filtered like
//!   `email_count` (a number is lost, nothing leaks), `mailbox_count` is not.

//! # Values
//!
//! Every string that is sent goes through these rules, in this order; each
//! replacement is a typed marker, so the event still reads:
//!
//! | what | becomes |
//! |---|---|
//! | PEM private key block (also truncated) | `[private-key]` |
//! | URL user-info, query string, fragment (a password may hold an `@`; `:\/\/` starts a URL too) | `https://[Filtered]@host/path?[Filtered]#[Filtered]` |
//! | Oracle JDBC `jdbc:oracle:thin:USER/PASSWORD@host` | `jdbc:oracle:thin:[Filtered]@host` |
//! | cloud storage keys: Azure `AccountKey=`, `SharedAccessKey=`, `SharedAccessSignature=` (to the next `;`), a SAS `sig=` outside a URL, an AWS secret access key (40 characters) after a `secret_access_key`-style name or an `AKIA…` key id | `AccountKey=[Filtered]` |
//! | webhook URLs whose path is the secret: Slack `hooks.slack.com`, Discord `…/api/webhooks/`, Teams `….webhook.office.com`, `outlook.office.com/webhook…`, Power Automate `….logic.azure.com/workflows/`, Zapier, IFTTT, Telegram `api.telegram.org/bot…`, Make, Pipedream, webhook.site, Google Chat, any `/hooks/<id of 20+>` | `https://hooks.slack.com/[webhook]` |
//! | JWT (`eyJ….….…`) | `[jwt]` |
//! | API keys: GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`/`github_pat_`, AWS `AKIA`/`ASIA`, Slack `xox?-`, Google `AIza`, `sk-…`, Stripe, GitLab, Hugging Face, npm | `[api-key]` |
//! | `Bearer <token>` | `Bearer [Filtered]` |
//! | email address | `[email]` |
//! | user name in a path: `/home/NAME`, `/var/home/NAME`, `/export/home/NAME`, `/usr/home/NAME`, `/Users/NAME`, `/System/Volumes/Data/Users/NAME`, `C:\Users\NAME` (any drive, either slash), `\\?\C:\Users\NAME`, `\Users\NAME`, `Documents and Settings`, `C:\cygwin64\home\NAME`, `/mnt/c/Users/NAME`, `/cygdrive/c/Users/NAME`, `/c/Users/NAME`; in UNC paths `\\server\share\Users\NAME`, `\\wsl$\Ubuntu\home\NAME`, `\\nas\homes\NAME`; `~NAME/` | `/home/<user>/…` |
//! | the running user's home directory, when it is not of those forms (`/root`, `/var/lib/alice`) | `<home>/…` |
//! | this machine's host name, then the login name, as whole words | `<host>`, `<user>` |
//! | IBAN (mod-97 checked) | `[iban]` |
//! | card number: 13–19 digits, Luhn-checked, card network prefix | `[card]` |
//! | US SSN `ddd-dd-dddd` | `[ssn]` |
//! | MAC address: `00:1A:2B:3C:4D:5E`, `00-1A-2B-3C-4D-5E`, Cisco `001a.2b3c.4d5e` | `[mac]` |
//! | phone number in national form with separators or parentheses (`555-123-4567`, `(555) 123-4567`, `555.123.4567`, `020 7946 0958`, `01 23 45 67 89`, `0170-1234567`) | `[phone]` |
//! | phone number in international form (`+44 20 7946 0958`) | `[phone]` |
//! | IPv6 and IPv4 address | `[ip]` |
//! | last: `key=value`, `key: value`, `"key": "value"`, `key: Some("value")` with a sensitive key, whatever the rules above left of the value | `key=[Filtered]` |
//!
//! Policies:
//!
//! - **URLs** keep scheme, host, port and path (useful for debugging, and a user
//!   name in the path is caught by the other rules); user-info, query and fragment
//!   are replaced, never kept. A webhook URL keeps scheme and host only: its path
//!   is its secret (slashes escaped or not; without a scheme, the `hook…` hosts:
//!   Slack, Zapier, Make, Teams, webhook.site, and `/hooks/<id>`).
//! - **Connection strings**: a URL's user-info goes whole (to the last `@` before
//!   the host); a pair that is a field of a connection string (a `;` before its
//!   key, or `;` and another `Key=` after its value) takes its value to the next
//!   `;`, blanks included (`Password=my pass;`), and ODBC braces quote a value
//!   (`PWD={a;b}}c}`). User ids (`User Id=`, `UID=`) are kept, like `user=` in a
//!   query: they name a database account. `SharedAccessKeyName=` is filtered
//!   (a key name, but the key rule's `access key`).
//! - **Cloud keys**: an AWS secret is exactly 40 characters of base64 after its
//!   name or key id (a 41-character run is something else); a SAS `sig=` has 20
//!   characters or more (`sig=SIGTERM` is kept).
//! - **MAC addresses** have one separator throughout and exactly six pairs (or
//!   Cisco's three groups of four, with a letter): runs of five, seven or eight
//!   pairs (EUI-64, IPv6 addresses, hex dumps) are not MAC addresses, nor are
//!   times (`12:34:56`) or three 4-digit numbers; `00:00:00:00:00:00` and
//!   `ff:ff:ff:ff:ff:ff` identify no device and are kept.
//! - **Home**: a home of the usual forms (`/home/alice`, `/Users/alice`,
//!   `C:\Users\alice`) is written `/home/<user>` like any other user's, which keeps
//!   the OS shape; any other home directory (`/root`, `/var/lib/alice`,
//!   `D:\Profiles\alice`) becomes `<home>` wherever it is a whole path prefix.
//!   A home shorter than 3 characters (`/`) is ignored.
//! - **Login and host names** are replaced as whole words (not next to an ASCII
//!   letter or digit; `_`, `-` and `.` separate words), case-insensitively, when
//!   they have 3 characters or more and are not generic account or machine names
//!   (`root`, `admin`, `runner`, `ubuntu`, `localhost`, …): those identify no one,
//!   and replacing them would turn `root cause` into `<user> cause`. A dotted host
//!   name is also matched by its first label.
//! - **Paths**: a Windows user name with spaces (`C:\Users\John Smith\`) is
//!   recognised when a separator follows it; `/Users/Shared`, `C:\Users\Public`
//!   and `C:\Users\Default` are not user names. Crate-relative paths
//!   (`src/users/mod.rs`) are left alone: only root-level `/home/`, `/Users/`,
//!   `/var/home/`, `/export/home/`, `/usr/home/` and drive-rooted `Users` count.
//!   Backslashes may be doubled any number of times (`C:\\\\Users\\\\bob`, text
//!   escaped twice); `~NAME/` counts when not inside a word or a path
//!   (`PROGRA~1/`, `a/~b/`). A UNC path keeps its server and share (like a URL's
//!   host) and loses the user name after `Users`, `home`, `homes` or `Documents
//!   and Settings`; it starts only after a character that cannot be in a path,
//!   so an escaped `C:\\data\\home\\x` is not one. `\\fileserver\builds\x`,
//!   `\\.\pipe\x` and `BUILTIN\Users` are kept.
//! - **Whole words**: addresses, card, SSN, phone and IBAN numbers, API keys and
//!   JWTs are recognised when not glued to letters or digits (`v1.2.3.4` is a
//!   version, `x4111111111111111` an identifier); emails and URLs wherever they are.
//!   An escaped line break or tab (`\n`, `\r`, `\t` in `Debug` output or JSON text)
//!   separates words like the real one.
//! - **Pairs**: the value runs to a blank or a delimiter, or to the closing quote
//!   (escaped quotes too: `\"`, `\\\"`), or to the end of the line for `Cookie`
//!   and `Authorization`; it goes on through a nested pair (`auth=token="x y"`) and
//!   through another rule's marker (`password=[ip]:hunter2` is filtered whole). A
//!   file name is not a key: `src/auth.rs:42`, `session.py:10` survive.
//! - **Loopback and unspecified addresses** (`127.0.0.1`, `0.0.0.0`, `::1`, `::`)
//!   are kept: they identify no one and explain "connection refused".
//! - **Numbers**: versions (`0.49.5`, `1.2.3.4.5`), timestamps, UUIDs, hashes and
//!   numbers inside words survive; a 13–19 digit number is a card only with a
//!   card network's first digits, a valid Luhn check digit, and either no
//!   separator or a card's grouping (4-4-4-4, 4-6-5, …): two numbers side by
//!   side (`5221846 732136`) are not a card. A phone number ends at the last
//!   group that keeps it within 15 digits; `. ` or two blanks end it.
//! - **National phone numbers** need their separators: North American numbers
//!   as `ddd-ddd-dddd` or `ddd.ddd.dddd` (area code 2–9 first, also after `1-`)
//!   or with the area code in parentheses; numbers with a trunk `0` (not `00`),
//!   10 to 12 digits, in groups joined by `-`, by `.` or blanks (3 groups or more),
//!   or after `(0…)`. Bare digit runs (`5551234567`), three numbers side by side
//!   (`555 123 4567`), two blank-separated numbers (`07700 900123`), dates
//!   (`2026-11-28`, `28.11.2026`), times, versions (`10.0.19045`), IPv4 addresses,
//!   UUIDs and numbers glued to a word, a `-`, a `.` or a `/` are kept.
//!
//! What survives is as much a contract as what is removed: exception type names,
//! function and module paths (`std::io::Error`, `openadapt_capture::record::start`),
//! `file:line` locations, crate- and registry-relative paths, feature names,
//! versions, OS and architecture names, RFC 3339 timestamps and UUIDs.
//!
//! # Cost and safety
//!
//! The rules never panic, on any input, and run in linear time: the `regex`
//! crate never backtracks, no pattern searches past a bounded distance for what
//! it needs (a private key block finds its END line in one pass over the text),
//! and a rule that rejects a candidate resumes right after it (a national phone
//! number's, at its second group); rules that find where a secret starts and
//! scan its value on (webhooks, cloud keys, Oracle URLs) skip what they already
//! rewrote and remember the end of the run they scanned, and a
//! connection-string field is found in one pass to its `;`. Most strings cost
//! one pass over their bytes: a vectorised profile (counts of digits, dots,
//! colons, capitals; an `@`, a `/`, …) shows that no rule can match, and the text
//! is sent as it is, never copied ([`Cow::Borrowed`]); otherwise one more scan
//! finds what each pattern needs (a digit run of 13 for cards, a key prefix for
//! API keys, `/home/` for paths, …) and only those patterns run.
//!
//! The gate also remembers what it made of most texts that repeat (keys, and
//! values of 8 bytes to 2 KiB seen a second time: a stack trace's files,
//! breadcrumbs' categories, span names, tags), in this process's memory only: at
//! most 2,048 texts and 256 KiB of text (well under a MiB with its tables),
//! forgotten all at once when full. Its later items cost a lookup per such text,
//! with the same result and the same counts. The price: those texts, secrets
//! included, stay in the process's heap until then, not only while their item is
//! scrubbed; nothing of the memo is written anywhere or sent. If a pattern ever
//! failed to compile, every non-empty string would become `[Filtered]` (fail
//! closed).

use std::borrow::Cow;
use std::sync::{LazyLock, Mutex};

mod json;
mod keys;
mod memo;
mod numbers;
mod pairs;
mod paths;
mod patterns;
mod prefilter;
mod rewrite;

use patterns::PATTERNS;
use prefilter::Profile;
use rewrite::FILTERED;

/// Scrub a string with every value rule (see the [module docs](self)), using what
/// this process can learn about its machine: the running user's home directory,
/// login name and host name, detected once.
///
/// Returns the text unchanged, and without copying it, when nothing matched.
///
/// ```
/// use openadapt_telemetry::privacy::scrub_str;
///
/// assert_eq!(
///     scrub_str("login failed for alice@example.com from 203.0.113.7"),
///     "login failed for [email] from [ip]"
/// );
/// assert_eq!(scrub_str("read /home/alice/notes.txt"), "read /home/<user>/notes.txt");
/// assert_eq!(scrub_str("GET https://u:pw@api.example.com/v1?token=x"), "GET https://[Filtered]@api.example.com/v1?[Filtered]");
/// assert_eq!(scrub_str("password=hunter2 retries=3"), "password=[Filtered] retries=3");
/// // What helps debugging survives.
/// let kept = "std::io::Error at src/layer.rs:42 (sentry 0.49.5)";
/// assert_eq!(scrub_str(kept), kept);
/// ```
pub fn scrub_str(s: &str) -> Cow<'_, str> {
    DEFAULT.scrub_str(s, &mut Redactions::default())
}

/// Replace the user name in a path (`/home/NAME/`, `/Users/NAME/`,
/// `C:\Users\NAME\`, `~NAME/`, …) with `<user>`, and the running user's home
/// directory, when it has another form, with `<home>`. Nothing else is changed.
///
/// ```
/// use openadapt_telemetry::privacy::sanitize_path;
///
/// assert_eq!(sanitize_path("/Users/john/code/file.py"), "/Users/<user>/code/file.py");
/// assert_eq!(sanitize_path(r"C:\Users\John Smith\app\main.rs"), r"C:\Users\<user>\app\main.rs");
/// assert_eq!(sanitize_path("src/layer.rs"), "src/layer.rs");
/// ```
pub fn sanitize_path(s: &str) -> Cow<'_, str> {
    DEFAULT.sanitize_path(s, &mut Redactions::default())
}

/// Whether a field, tag or header name holds a value that must not be sent:
/// whole-token match against the denylist after splitting on `_ - .`, spaces and
/// camelCase (see the [module docs](self)).
///
/// ```
/// use openadapt_telemetry::privacy::is_sensitive_key;
///
/// for key in ["apiKey", "X-Api-Key", "user.password", "sessionToken", "clientSecret"] {
///     assert!(is_sensitive_key(key), "{key}");
/// }
/// for key in ["author", "tokenizer", "oauth_provider", "session_count", "feature"] {
///     assert!(!is_sensitive_key(key), "{key}");
/// }
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    keys::is_sensitive(key)
}

/// Scrubs one envelope item (`"event"`, `"transaction"`, …) in place, as the
/// privacy gate does, and returns how many values were redacted. With `seen`,
/// the texts of earlier items are remembered, as in the gate; without, every
/// text is new (the first item a process sends). Support for the crate's
/// benchmarks (feature `test-util`); not part of the API.
#[doc(hidden)]
#[cfg(feature = "test-util")]
pub fn scrub_item_json(kind: &str, item: &mut serde_json::Value, seen: bool) -> u64 {
    let mut counts = Redactions::default();
    if seen {
        DEFAULT.scrub_item(kind, item, &mut counts);
    } else {
        DEFAULT.scrub_item_with(kind, item, &mut counts, &mut memo::Memo::default());
    }
    counts.total()
}

/// The scrubber of this process, built on first use.
static DEFAULT: LazyLock<Scrubber> = LazyLock::new(|| Scrubber::new(Local::detect()));

/// Identity facts of this machine that must never leave it (injected for tests).
#[derive(Debug, Clone, Default)]
pub(crate) struct Local {
    /// The running user's home directory.
    pub(crate) home: Option<String>,
    /// The running user's login name.
    pub(crate) user: Option<String>,
    /// This machine's host name.
    pub(crate) host: Option<String>,
}

impl Local {
    /// What the running process can learn about itself: the home directory
    /// ([`dirs::home_dir`]), the login name (`USER`, `USERNAME`, `LOGNAME`) and the
    /// host name (`/proc/sys/kernel/hostname`, `/etc/hostname`, `HOSTNAME`,
    /// `COMPUTERNAME`). Reads two small files at most; never fails.
    pub(crate) fn detect() -> Self {
        let file = |path: &str| std::fs::read_to_string(path).ok();
        Self::from_sources(
            &|name| std::env::var(name).ok(),
            dirs::home_dir().map(|p| p.to_string_lossy().into_owned()),
            &file,
        )
    }

    /// [`detect`](Self::detect) over injected sources.
    fn from_sources(
        env: &dyn Fn(&str) -> Option<String>,
        home: Option<String>,
        file: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let clean = |v: String| {
            let v = v.trim();
            (!v.is_empty()).then(|| v.to_owned())
        };
        let user = ["USER", "USERNAME", "LOGNAME"]
            .into_iter()
            .find_map(|n| env(n).and_then(clean));
        let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .into_iter()
            .find_map(|p| file(p).and_then(clean))
            .or_else(|| {
                ["HOSTNAME", "COMPUTERNAME"]
                    .into_iter()
                    .find_map(|n| env(n).and_then(clean))
            });
        Self {
            home: home.and_then(clean),
            user,
            host,
        }
    }
}

/// The privacy rules, with this machine's identity compiled in.
#[derive(Debug)]
pub(crate) struct Scrubber {
    home: Option<paths::Finder>,
    /// The home directory holds a `/` or `\`: text without one cannot hold it.
    home_has_separator: bool,
    host: Option<paths::Finder>,
    user: Option<paths::Finder>,
    /// A pattern failed to compile: every non-empty string becomes `[Filtered]`.
    broken: bool,
    /// The texts of items scrubbed before, and what they became.
    memo: Mutex<memo::Memo>,
}

impl Scrubber {
    /// Compile the rules for this machine.
    pub(crate) fn new(local: Local) -> Self {
        let patterns = PATTERNS.as_ref().ok();
        let mut broken = patterns.is_none();
        let mut compiled = |built: Option<Result<paths::Finder, regex::Error>>| match built {
            Some(Ok(re)) => Some(re),
            Some(Err(_)) => {
                broken = true;
                None
            }
            None => None,
        };
        let home = compiled(
            local
                .home
                .as_deref()
                .and_then(|h| paths::home_regex(patterns, h)),
        );
        let host = compiled(
            local
                .host
                .as_deref()
                .and_then(|h| paths::words_regex(paths::host_names(h))),
        );
        let user = compiled(local.user.as_deref().and_then(|u| paths::words_regex([u])));
        Self {
            home,
            home_has_separator: local
                .home
                .as_deref()
                .is_some_and(|h| h.contains(['/', '\\'])),
            host,
            user,
            broken,
            memo: Mutex::new(memo::Memo::default()),
        }
    }

    /// Scrub one string with every value rule, counting what was replaced.
    pub(crate) fn scrub_str<'a>(&self, s: &'a str, counts: &mut Redactions) -> Cow<'a, str> {
        if s.is_empty() {
            return Cow::Borrowed(s);
        }
        let prof = Profile::of(s);
        if !self.needs_rules(s, &prof) {
            return Cow::Borrowed(s);
        }
        self.scrub_with(s, prof, counts)
    }

    /// Whether any rule may change `s` (`false` only when none can): most
    /// strings need no rule at all, and are sent as they are, not copied.
    pub(crate) fn needs_rules(&self, s: &str, prof: &Profile) -> bool {
        self.broken
            || (self.home.is_some() && (prof.slash || !self.home_has_separator))
            || prof.may_need_rules(s.len())
            // Cisco's MAC addresses (`001a.2b3c.4d5e`) may have no other trace.
            || (prof.dots >= 2 && s.len() >= 14 && prefilter::maybe_cisco_mac(s))
            || [&self.host, &self.user]
                .into_iter()
                .any(|f| f.as_ref().is_some_and(|f| f.may_match(s)))
    }

    /// [`scrub_str`](Self::scrub_str) for text that may need a rule.
    #[inline(never)]
    pub(crate) fn scrub_with<'a>(
        &self,
        s: &'a str,
        prof: Profile,
        counts: &mut Redactions,
    ) -> Cow<'a, str> {
        let Some(p) = self.patterns() else {
            counts.bump(Rule::Unscrubbable);
            return Cow::Owned(FILTERED.to_owned());
        };
        let mut out = Cow::Borrowed(s);
        macro_rules! pass {
            ($cond:expr, $pass:expr) => {
                if $cond && let Some(new) = $pass(&*out, &mut *counts) {
                    out = Cow::Owned(new);
                }
            };
        }
        // Each pass runs only if the text can hold what it looks for: the profile
        // first, then one scan for what the patterns need.
        let scan = prefilter::Scan::of(s);
        pass!(
            prof.dash && prof.upper >= 10,
            |t, c| patterns::private_keys(p, t, c)
        );
        pass!(prof.colons > 0, |t, c| patterns::urls(p, t, c));
        pass!(prof.colons >= 3 && prof.at && prof.slash, |t, c| {
            patterns::oracle_urls(p, t, c)
        });
        pass!(
            s.len() >= 24 && prefilter::maybe_cloud_key(s, prof.eq, scan.api_key),
            |t, c| patterns::cloud_keys(p, t, c)
        );
        pass!(
            prof.slash && prof.dots > 0 && (prof.colons > 0 || prefilter::maybe_bare_webhook(s)),
            |t, c| patterns::webhooks(p, t, c)
        );
        pass!(prof.dots >= 2 && prof.upper > 0, |t, c| patterns::jwts(
            p, t, c
        ));
        pass!(s.len() >= 14 && scan.api_key, |t, c| patterns::api_keys(
            p, t, c
        ));
        pass!(s.len() >= 15 && scan.bearer, |t, c| patterns::bearer(
            p, t, c
        ));
        pass!(prof.at, |t, c| patterns::emails(p, t, c));
        pass!(scan.user_path, |t, c| paths::path_users(p, t, c));
        pass!(prof.tilde, |t, c| paths::tildes(p, t, c));
        self.local_passes(&mut out, prof.slash, counts);
        pass!(s.len() >= 15 && scan.iban, |t, c| numbers::ibans(p, t, c));
        pass!(scan.run >= 13, |t, c| numbers::cards(p, t, c));
        pass!(scan.run >= 9 && prof.dash, |t, c| numbers::ssns(p, t, c));
        // MAC addresses before phone numbers: `01-23-45-67-89-ab` is not a
        // French number followed by `-ab`.
        pass!(
            s.len() >= 14
                && (((prof.colons >= 5 || prof.dashes >= 5) && prefilter::maybe_mac_pairs(s))
                    || (prof.dots >= 2 && prefilter::maybe_cisco_mac(s))),
            |t, c| numbers::macs(p, t, c)
        );
        // National numbers first: an international number's last groups may
        // reach into a national number right after it.
        pass!(prefilter::maybe_national_phone(&prof, &scan), |t, c| {
            numbers::national_phones(p, t, c)
        });
        pass!(prof.digits >= 9 && scan.plus_digit, |t, c| numbers::phones(
            p, t, c
        ));
        pass!(
            prof.colons >= 2 && prof.digits > 0 && prefilter::maybe_ipv6(s),
            |t, c| numbers::ipv6(p, t, c)
        );
        pass!(scan.dotted >= 4, |t, c| numbers::ipv4(p, t, c));
        // Last: a value that the rules above left (`password=hunter2`), or
        // rewrote only in part (`password=[ip]:hunter2`), becomes `[Filtered]`.
        pass!(prof.eq || prof.colons > 0, pairs::pairs);
        out
    }

    /// Replace user names in paths and the running user's home directory.
    pub(crate) fn sanitize_path<'a>(&self, s: &'a str, counts: &mut Redactions) -> Cow<'a, str> {
        if s.is_empty() {
            return Cow::Borrowed(s);
        }
        let Some(p) = self.patterns() else {
            counts.bump(Rule::Unscrubbable);
            return Cow::Owned(FILTERED.to_owned());
        };
        let mut out = Cow::Borrowed(s);
        let prof = Profile::of(s);
        if prof.slash
            && paths::maybe_user_path(s)
            && let Some(new) = paths::path_users(p, &out, counts)
        {
            out = Cow::Owned(new);
        }
        if prof.tilde
            && let Some(new) = paths::tildes(p, &out, counts)
        {
            out = Cow::Owned(new);
        }
        if let Some(re) = &self.home
            && let Some(new) = paths::home(re, &out, counts)
        {
            out = Cow::Owned(new);
        }
        out
    }

    /// The rules that know this machine: home directory (only in text with a
    /// path separator), host name, login name.
    fn local_passes(&self, out: &mut Cow<'_, str>, slash: bool, counts: &mut Redactions) {
        type Step = fn(&paths::Finder, &str, &mut Redactions) -> Option<String>;
        let home = if slash || !self.home_has_separator {
            &self.home
        } else {
            &None
        };
        let steps: [(&Option<paths::Finder>, Step); 3] = [
            (home, paths::home),
            (&self.host, |re, s, c| {
                paths::words(re, s, paths::HOST, Rule::HostName, c)
            }),
            (&self.user, |re, s, c| {
                paths::words(re, s, paths::USER, Rule::UserName, c)
            }),
        ];
        for (re, step) in steps {
            if let Some(re) = re
                && let Some(new) = step(re, out, counts)
            {
                *out = Cow::Owned(new);
            }
        }
    }

    fn patterns(&self) -> Option<&'static patterns::Patterns> {
        if self.broken {
            return None;
        }
        PATTERNS.as_ref().ok()
    }
}

/// A rule that can redact, for [`Redactions`]. The names are the JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A value under a sensitive key.
    Key,
    /// A field removed whole (`request`, `debug_meta`, user fields but `id`).
    Removed,
    /// A user name in a path.
    PathUser,
    /// The running user's home directory.
    Home,
    /// The login name as a word.
    UserName,
    /// The host name as a word.
    HostName,
    /// An email address.
    Email,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A card number.
    Card,
    /// A US social security number.
    Ssn,
    /// A phone number.
    Phone,
    /// An IBAN.
    Iban,
    /// A PEM private key block.
    PrivateKey,
    /// A bearer token.
    Bearer,
    /// A JSON Web Token.
    Jwt,
    /// An API key of a known shape.
    ApiKey,
    /// A `key=value` pair with a sensitive key.
    KeyValue,
    /// URL user-info (and Oracle JDBC's `user/password@`).
    UrlUserinfo,
    /// A URL query string or fragment.
    UrlQuery,
    /// A cloud storage account key, shared access signature or AWS secret key.
    CloudKey,
    /// A webhook URL's path (the secret part).
    Webhook,
    /// A MAC address.
    MacAddress,
    /// A string replaced whole because the rules were unavailable (fail closed).
    Unscrubbable,
}

impl Rule {
    /// Every rule, in the order of [`Redactions`]' storage.
    pub(crate) const ALL: [Rule; 23] = [
        Rule::Key,
        Rule::Removed,
        Rule::PathUser,
        Rule::Home,
        Rule::UserName,
        Rule::HostName,
        Rule::Email,
        Rule::Ip,
        Rule::Card,
        Rule::Ssn,
        Rule::Phone,
        Rule::Iban,
        Rule::PrivateKey,
        Rule::Bearer,
        Rule::Jwt,
        Rule::ApiKey,
        Rule::KeyValue,
        Rule::UrlUserinfo,
        Rule::UrlQuery,
        Rule::CloudKey,
        Rule::Webhook,
        Rule::MacAddress,
        Rule::Unscrubbable,
    ];

    /// The rule's name in [`Redactions::to_json`].
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rule::Key => "key",
            Rule::Removed => "removed",
            Rule::PathUser => "path_user",
            Rule::Home => "home",
            Rule::UserName => "user_name",
            Rule::HostName => "host_name",
            Rule::Email => "email",
            Rule::Ip => "ip",
            Rule::Card => "card",
            Rule::Ssn => "ssn",
            Rule::Phone => "phone",
            Rule::Iban => "iban",
            Rule::PrivateKey => "private_key",
            Rule::Bearer => "bearer",
            Rule::Jwt => "jwt",
            Rule::ApiKey => "api_key",
            Rule::KeyValue => "key_value",
            Rule::UrlUserinfo => "url_userinfo",
            Rule::UrlQuery => "url_query",
            Rule::CloudKey => "cloud_key",
            Rule::Webhook => "webhook",
            Rule::MacAddress => "mac_address",
            Rule::Unscrubbable => "unscrubbable",
        }
    }
}

/// [`Redactions`] of one text, as the memo keeps them.
pub(crate) type CompactRedactions = [u16; Rule::ALL.len()];

/// Counts of redactions per rule (never the values).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Redactions {
    counts: [u32; Rule::ALL.len()],
}

impl Redactions {
    /// Count one redaction by `rule`.
    pub(crate) fn bump(&mut self, rule: Rule) {
        let slot = &mut self.counts[rule as usize];
        *slot = slot.saturating_add(1);
    }

    /// The count of `rule`.
    pub(crate) fn get(&self, rule: Rule) -> u32 {
        self.counts[rule as usize]
    }

    /// Whether nothing was redacted.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }

    /// The number of redactions, all rules together.
    #[allow(
        dead_code,
        reason = "part of the gate's API (preview totals); used by tests"
    )]
    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    /// The counts in 16 bits each (`None` if one does not fit): what the memo
    /// keeps of one text.
    pub(crate) fn compact(&self) -> Option<CompactRedactions> {
        let mut out = [0u16; Rule::ALL.len()];
        for (o, c) in out.iter_mut().zip(self.counts) {
            *o = u16::try_from(c).ok()?;
        }
        Some(out)
    }

    /// Add counts kept by [`compact`](Self::compact) to these.
    pub(crate) fn add_compact(&mut self, other: &CompactRedactions) {
        for (a, b) in self.counts.iter_mut().zip(other) {
            *a = a.saturating_add(u32::from(*b));
        }
    }

    /// Add other counts to these.
    pub(crate) fn add(&mut self, other: &Redactions) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
    }

    /// The non-zero counts as a JSON object, e.g. `{"email": 2, "path_user": 1}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let map = Rule::ALL
            .iter()
            .filter(|r| self.get(**r) > 0)
            .map(|r| (r.name().to_owned(), serde_json::Value::from(self.get(*r))))
            .collect();
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod strategies;
#[cfg(test)]
mod tests;
