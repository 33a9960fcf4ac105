//! Test support (feature `test-util`): see what the privacy gate lets through
//! ([`Captured`]), show the first-run notice with injected inputs
//! ([`write_first_run_notice`]), and the builder's test seams
//! ([`TelemetryBuilder::env_lookup`](crate::TelemetryBuilder::env_lookup),
//! [`config_file`](crate::TelemetryBuilder::config_file),
//! [`no_config_file`](crate::TelemetryBuilder::no_config_file),
//! [`spool_dir`](crate::TelemetryBuilder::spool_dir),
//! [`feature_flush_interval`](crate::TelemetryBuilder::feature_flush_interval),
//! [`global`](crate::TelemetryBuilder::global),
//! [`capture`](crate::TelemetryBuilder::capture),
//! [`clock`](crate::TelemetryBuilder::clock), with a virtual [`Clock`]).
//!
//! ```
//! use openadapt_telemetry::{Telemetry, testing::Captured};
//! use tracing_subscriber::prelude::*;
//!
//! let captured = Captured::new();
//! let telemetry = Telemetry::builder("demo", "0.1.0")
//!     .env_lookup(|_| None)
//!     .no_config_file()
//!     .capture(&captured)
//!     .init();
//! let subscriber = tracing_subscriber::registry().with(telemetry.layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::error!(user_email = "ada@example.com", "import failed");
//! });
//! assert!(telemetry.flush(std::time::Duration::from_secs(5)));
//! let event = &captured.events()[0];
//! assert_eq!(event["message"], "import failed");
//! assert!(!captured.serialized().contains("ada@example.com"));
//! ```

use serde_json::Value;

use crate::preview::CaptureSink;

pub use crate::notice::write_first_run_notice;

/// Collects every scrubbed envelope in memory instead of sending it.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    sink: CaptureSink,
}

impl Captured {
    /// An empty capture buffer.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn sink(&self) -> CaptureSink {
        self.sink.clone()
    }

    /// Every item captured so far, in order: its type (`event`, `transaction`,
    /// `client_report`) and its JSON, exactly as it would be sent.
    pub fn items(&self) -> Vec<(String, Value)> {
        let Ok(envelopes) = self.sink.envelopes.lock() else {
            return Vec::new();
        };
        envelopes
            .iter()
            .flat_map(|e| e.items.iter())
            .map(|i| {
                let payload = i.json.parse().unwrap_or(Value::Null);
                (i.kind.to_owned(), payload)
            })
            .collect()
    }

    /// The event items captured so far.
    pub fn events(&self) -> Vec<Value> {
        self.of_type("event")
    }

    /// The transaction items captured so far.
    pub fn transactions(&self) -> Vec<Value> {
        self.of_type("transaction")
    }

    fn of_type(&self, kind: &str) -> Vec<Value> {
        self.items()
            .into_iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v)
            .collect()
    }

    /// Every envelope captured so far, serialised as it would go on the wire,
    /// concatenated: search it for planted secrets.
    pub fn serialized(&self) -> String {
        let Ok(envelopes) = self.sink.envelopes.lock() else {
            return String::new();
        };
        envelopes
            .iter()
            .map(|e| String::from_utf8_lossy(&e.to_bytes()).into_owned())
            .collect()
    }

    /// Forgets everything captured so far.
    pub fn clear(&self) {
        if let Ok(mut envelopes) = self.sink.envelopes.lock() {
            envelopes.clear();
        }
    }
}

/// A virtual clock for the transport's backoff and rate limits: the real
/// clock plus the time a test has skipped with [`Clock::advance`]. Given to
/// [`TelemetryBuilder::clock`](crate::TelemetryBuilder::clock); every clone
/// moves together.
///
/// ```
/// use std::time::Duration;
/// use openadapt_telemetry::testing::Clock;
///
/// let clock = Clock::new();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(30)); // a 30 s rate limit, gone at once
/// assert!(clock.now() >= before + Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct Clock {
    pub(crate) inner: crate::clock::Clock,
}

impl Clock {
    /// A clock that reads the real time until a test moves it forward.
    pub fn new() -> Self {
        Clock {
            inner: crate::clock::Clock::virtual_time(),
        }
    }

    /// Moves the clock (and every clone) forward by `by`, at once.
    pub fn advance(&self, by: std::time::Duration) {
        self.inner.advance(by);
    }

    /// Now, on this clock: comparable with `Instant`s taken from it.
    pub fn now(&self) -> std::time::Instant {
        self.inner.now()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
