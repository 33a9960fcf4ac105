//! HTTP to the Sentry-protocol server: one kept-alive connection pool, one
//! target per DSN with its own backoff and rate limits, timeouts on every
//! request, and no redirect ever followed (the DSN's key goes to the DSN's
//! host only).
//!
//! Runs on the worker thread (and on exit paths, never for the network), never
//! on a caller's thread.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sentry::transports::{RateLimiter, RateLimitingCategory};
use sentry::types::Dsn;

use crate::clock::Clock;
use crate::gate::{Category, NETWORK_ERROR, RATELIMIT_BACKOFF, SEND_ERROR};

/// What became of telemetry handed over for sending: the server's answer to
/// the last error sent ([`Telemetry::last_delivery`](crate::Telemetry::last_delivery))
/// or to a test event (`Telemetry::send_test_event`, features `test-util`, `cli`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server took it (or, in preview mode, it was printed).
    Accepted,
    /// Not sent: the server rate-limits this client (it answered 429, or an
    /// earlier answer set a limit that is still in force).
    RateLimited,
    /// Not sent: the crate is backing off after earlier failures.
    BackingOff,
    /// The server refused it with this HTTP status.
    Refused(u16),
    /// The server answered with a redirect (this HTTP status), which is never
    /// followed: the DSN's key is sent to the DSN's host only. A captive portal
    /// or a moved server; check the DSN.
    Redirected(u16),
    /// The server could not be reached: connection refused, timeout, reset, DNS.
    Unreachable(String),
    /// Nothing was sent: telemetry is off, or nothing was left after filtering.
    NotSent,
}

impl Delivery {
    /// Whether the envelope is done with: delivered, or refused for good (a
    /// 4xx other than 429). Anything else is worth another try later.
    pub(crate) fn is_final(&self) -> bool {
        match self {
            Delivery::Accepted => true,
            Delivery::Refused(status) => (400..500).contains(status) && *status != 429,
            _ => false,
        }
    }

    /// Why items not delivered are lost, as client reports name it.
    pub(crate) fn loss_reason(&self) -> &'static str {
        match self {
            Delivery::RateLimited | Delivery::BackingOff => RATELIMIT_BACKOFF,
            Delivery::Unreachable(_) | Delivery::Redirected(_) => NETWORK_ERROR,
            _ => SEND_ERROR,
        }
    }
}

/// Per-request limits. Every request ends within `TIMEOUT`, whatever the server does.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest one request may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff after 5xx answers, redirects and network errors: 0.5 s, 1 s, 2 s,
/// … up to 60 s.
const BACKOFF: Backoff = Backoff {
    start: Duration::from_millis(500),
    max: Duration::from_secs(60),
};
const CLIENT: &str = concat!("openadapt-telemetry/", env!("CARGO_PKG_VERSION"));

/// The connection pool every target shares: connections are kept alive
/// between envelopes.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(CLIENT)
        .build();
    ureq::Agent::new_with_config(config)
}

/// An exponential backoff: `start` after the first failure, doubling with each
/// one after it, never more than `max`.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    start: Duration,
    max: Duration,
}

impl Backoff {
    /// The wait after `failures` failures in a row (at least one).
    fn delay(self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.start.saturating_mul(factor).min(self.max)
    }
}

/// The server's rate limits, as sentry's `RateLimiter` reads them (the same
/// headers, categories and defaults), kept as instants on the transport's
/// clock: until when everything (`global`), errors, and transactions wait.
#[derive(Debug, Default)]
struct Limits {
    global: Option<Instant>,
    error: Option<Instant>,
    transaction: Option<Instant>,
}

/// How long a 429 without a usable limit holds everything, as in sentry.
const DEFAULT_LIMIT: Duration = Duration::from_secs(60);

/// `now + wait`; a wait past what the clock can hold is the default limit, as in sentry.
fn after(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait).unwrap_or(now + DEFAULT_LIMIT)
}

impl Limits {
    /// `X-Sentry-Rate-Limits`: `seconds:categories:scope[:…]` groups separated
    /// by commas; no category limits everything.
    fn update_from_sentry_header(&mut self, header: &str, now: Instant) {
        for group in header.split(',') {
            let mut parts = group.trim().split(':');
            let (Some(seconds), Some(categories), Some(_scope)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(seconds) = seconds.parse::<f64>() else {
                continue;
            };
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "as sentry reads it: a negative or NaN limit is 0 s"
            )]
            let until = Some(after(now, Duration::from_secs(seconds.ceil() as u64)));
            if categories.is_empty() {
                self.global = until;
            }
            for category in categories.split(';') {
                match category {
                    "error" => self.error = until,
                    "transaction" => self.transaction = until,
                    _ => {}
                }
            }
        }
    }

    /// `Retry-After` on a 429: seconds, or an HTTP date (read by sentry's
    /// `RateLimiter`; 60 s when it is neither).
    fn update_from_retry_after(&mut self, header: &str, now: Instant) {
        let mut limiter = RateLimiter::new();
        limiter.update_from_retry_after(header);
        let left = limiter
            .is_disabled(RateLimitingCategory::Any)
            .unwrap_or_default();
        self.global = Some(after(now, left));
    }

    /// A 429 that says nothing more: everything waits a minute, as in sentry.
    fn update_from_429(&mut self, now: Instant) {
        self.global = Some(now + DEFAULT_LIMIT);
    }

    /// Whether `category` waits at `now`.
    fn limited(&self, category: Category, now: Instant) -> bool {
        let own = match category {
            Category::Error => self.error,
            Category::Transaction => self.transaction,
        };
        [self.global, own]
            .into_iter()
            .flatten()
            .any(|until| now < until)
    }
}

#[derive(Debug, Default)]
struct State {
    limits: Limits,
    failures: u32,
    backoff_until: Option<Instant>,
}

impl State {
    fn fail(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.backoff_until = Some(now + BACKOFF.delay(self.failures));
    }
}

/// One server project: where its envelopes go and whether it takes them now.
pub(crate) struct Target {
    url: String,
    key: String,
    state: Mutex<State>,
    clock: Clock,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Target {
    pub(crate) fn new(dsn: &Dsn, clock: Clock) -> Self {
        Target {
            url: dsn.envelope_api_url().to_string(),
            key: dsn.public_key().to_owned(),
            state: Mutex::new(State::default()),
            clock,
        }
    }

    /// Whether an envelope of `category` may be sent now: `Err` with the
    /// reason while backing off or rate limited.
    pub(crate) fn ready(&self, category: Category) -> Result<(), Delivery> {
        let Ok(state) = self.state.lock() else {
            return Err(Delivery::NotSent);
        };
        let now = self.clock.now();
        if state.backoff_until.is_some_and(|until| now < until) {
            return Err(Delivery::BackingOff);
        }
        if state.limits.limited(category, now) {
            return Err(Delivery::RateLimited);
        }
        Ok(())
    }

    /// The `X-Sentry-Auth` header, stamped with the time of this request.
    fn auth(&self) -> String {
        let now = crate::gate::now_secs();
        format!(
            "Sentry sentry_version=7, sentry_client={CLIENT}, sentry_timestamp={now:.3}, sentry_key={}",
            self.key
        )
    }

    /// Posts one serialised envelope; updates backoff and rate limits from the answer.
    pub(crate) fn post(&self, agent: &ureq::Agent, body: &[u8]) -> Delivery {
        // The lock is not held over the request: exit paths never wait on it.
        let result = agent
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth())
            .header("Content-Type", "application/x-sentry-envelope")
            .send(body);
        let Ok(mut state) = self.state.lock() else {
            return Delivery::NotSent;
        };
        let now = self.clock.now();
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                if let Some(limits) = header("x-sentry-rate-limits") {
                    state.limits.update_from_sentry_header(&limits, now);
                } else if status == 429 {
                    match header("retry-after") {
                        Some(after) => state.limits.update_from_retry_after(&after, now),
                        None => state.limits.update_from_429(now),
                    }
                }
                // Read (a little of) the body, so the connection can be reused.
                let _ = response
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec();
                match status {
                    200..=299 => {
                        state.failures = 0;
                        state.backoff_until = None;
                        Delivery::Accepted
                    }
                    300..=399 => {
                        state.fail(now);
                        Delivery::Redirected(status)
                    }
                    429 => Delivery::RateLimited,
                    _ => {
                        if status >= 500 {
                            state.fail(now);
                        }
                        Delivery::Refused(status)
                    }
                }
            }
            Err(error) => {
                state.fail(now);
                Delivery::Unreachable(error.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_half_a_second_up_to_a_minute() {
        let table = [
            (1, 500),
            (2, 1_000),
            (3, 2_000),
            (4, 4_000),
            (7, 32_000),
            (8, 60_000),
            (40, 60_000),
            (u32::MAX, 60_000),
        ];
        for (failures, millis) in table {
            assert_eq!(
                BACKOFF.delay(failures),
                Duration::from_millis(millis),
                "{failures}"
            );
        }
    }

    #[test]
    fn the_backoff_schedule_runs_on_the_injected_clock() {
        let clock = Clock::virtual_time();
        let mut state = State::default();
        let mut schedule = Vec::new();
        let start = clock.now();
        for _ in 0..4 {
            state.fail(clock.now());
            let until = state.backoff_until.expect("backing off");
            schedule.push(until - clock.now());
            clock.advance(until - clock.now());
        }
        let millis: Vec<u128> = schedule.iter().map(|d| d.as_millis()).collect();
        assert!(
            millis
                .iter()
                .zip([500, 1_000, 2_000, 4_000])
                .all(|(m, want)| m.abs_diff(want) < 50),
            "{millis:?}"
        );
        assert!(clock.now() - start >= Duration::from_millis(7_500));
    }

    /// (header, category asked, limited at 0 s, limited after 29 s, limited after 31 s)
    #[test]
    fn rate_limit_headers_are_read_as_sentry_reads_them() {
        type Case = (&'static str, Category, bool, bool, bool);
        let sentry_header: [Case; 10] = [
            ("30:error:organization", Category::Error, true, true, false),
            (
                "30:error:organization",
                Category::Transaction,
                false,
                false,
                false,
            ),
            ("30::organization", Category::Transaction, true, true, false),
            (
                "30:transaction;error:key",
                Category::Error,
                true,
                true,
                false,
            ),
            (
                "10:error:org, 30:transaction:org",
                Category::Transaction,
                true,
                true,
                false,
            ),
            ("29.2:error:org", Category::Error, true, true, false),
            ("30:error", Category::Error, false, false, false), // no scope: ignored
            ("soon:error:org", Category::Error, false, false, false),
            ("1e30:error:org", Category::Error, true, true, true), // past the clock: a minute
            (
                "30:session;attachment:org",
                Category::Error,
                false,
                false,
                false,
            ),
        ];
        for (header, category, at_0, at_29, at_31) in sentry_header {
            let mut theirs = RateLimiter::new();
            theirs.update_from_sentry_header(header);
            let their_category = match category {
                Category::Error => RateLimitingCategory::Error,
                Category::Transaction => RateLimitingCategory::Transaction,
            };
            assert_eq!(!theirs.is_enabled(their_category), at_0, "sentry: {header}");
            let clock = Clock::virtual_time();
            let mut limits = Limits::default();
            limits.update_from_sentry_header(header, clock.now());
            assert_eq!(
                limits.limited(category, clock.now()),
                at_0,
                "{header} {category:?} at 0 s"
            );
            clock.advance(Duration::from_secs(29));
            assert_eq!(
                limits.limited(category, clock.now()),
                at_29,
                "{header} {category:?} at 29 s"
            );
            clock.advance(Duration::from_secs(2));
            assert_eq!(
                limits.limited(category, clock.now()),
                at_31,
                "{header} {category:?} at 31 s"
            );
        }

        // Retry-After: seconds, nonsense (a minute), an HTTP date in the past; a bare 429.
        let retry_after: [(Option<&str>, u64); 4] = [
            (Some("30"), 30),
            (Some("whenever"), 60),
            (Some("Wed, 21 Oct 2015 07:28:00 GMT"), 0),
            (None, 60),
        ];
        for (header, seconds) in retry_after {
            let clock = Clock::virtual_time();
            let mut limits = Limits::default();
            match header {
                Some(header) => limits.update_from_retry_after(header, clock.now()),
                None => limits.update_from_429(clock.now()),
            }
            for category in [Category::Error, Category::Transaction] {
                assert_eq!(
                    limits.limited(category, clock.now()),
                    seconds > 0,
                    "{header:?}"
                );
            }
            if seconds > 0 {
                clock.advance(Duration::from_secs(seconds) - Duration::from_millis(100));
                assert!(limits.limited(Category::Error, clock.now()), "{header:?}");
                clock.advance(Duration::from_millis(200));
                assert!(!limits.limited(Category::Error, clock.now()), "{header:?}");
            }
        }
    }
}
