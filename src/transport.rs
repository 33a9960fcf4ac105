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
const TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff after 5xx answers, redirects and network errors: 0.5 s, 1 s, 2 s,
/// … up to 60 s.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const CLIENT: &str = concat!("openadapt-telemetry/", env!("CARGO_PKG_VERSION"));

/// The connection pool every target shares: connections are kept alive
/// between envelopes.
pub(crate) fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(CLIENT)
        .build();
    ureq::Agent::new_with_config(config)
}

#[derive(Debug, Default)]
struct State {
    limits: RateLimiter,
    failures: u32,
    backoff_until: Option<Instant>,
}

impl State {
    fn fail(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32 << self.failures.saturating_sub(1).min(16);
        let delay = BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX);
        self.backoff_until = Some(Instant::now() + delay);
    }
}

/// One server project: where its envelopes go and whether it takes them now.
pub(crate) struct Target {
    url: String,
    key: String,
    state: Mutex<State>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn limit_category(category: Category) -> RateLimitingCategory {
    match category {
        Category::Error => RateLimitingCategory::Error,
        Category::Transaction => RateLimitingCategory::Transaction,
    }
}

impl Target {
    pub(crate) fn new(dsn: &Dsn) -> Self {
        Target {
            url: dsn.envelope_api_url().to_string(),
            key: dsn.public_key().to_owned(),
            state: Mutex::new(State::default()),
        }
    }

    /// Whether an envelope of `category` may be sent now: `Err` with the
    /// reason while backing off or rate limited.
    pub(crate) fn ready(&self, category: Category) -> Result<(), Delivery> {
        let Ok(state) = self.state.lock() else {
            return Err(Delivery::NotSent);
        };
        if state
            .backoff_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Err(Delivery::BackingOff);
        }
        let limited = state
            .limits
            .is_disabled(RateLimitingCategory::Any)
            .is_some()
            || !state.limits.is_enabled(limit_category(category));
        if limited {
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
                    state.limits.update_from_sentry_header(&limits);
                } else if status == 429 {
                    match header("retry-after") {
                        Some(after) => state.limits.update_from_retry_after(&after),
                        None => state.limits.update_from_429(),
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
                        state.fail();
                        Delivery::Redirected(status)
                    }
                    429 => Delivery::RateLimited,
                    _ => {
                        if status >= 500 {
                            state.fail();
                        }
                        Delivery::Refused(status)
                    }
                }
            }
            Err(error) => {
                state.fail();
                Delivery::Unreachable(error.to_string())
            }
        }
    }
}
