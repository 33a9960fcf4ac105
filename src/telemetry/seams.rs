//! The builder's test seams (features `test-util`, and `cli` for two of
//! them): where the environment and the config file are read from, where
//! envelopes go, the clock and the timeouts the transport keeps to.

use super::TelemetryBuilder;
use crate::config::FileChoice;

impl TelemetryBuilder {
    /// How often feature-usage counts are sent in a long-running process (they
    /// are also sent at every flush and at shutdown), for tests (feature
    /// `test-util`). By default, one hour.
    #[cfg(any(test, feature = "test-util"))]
    pub fn feature_flush_interval(self, interval: std::time::Duration) -> Self {
        Self {
            feature_interval: interval.max(std::time::Duration::from_millis(10)),
            ..self
        }
    }

    /// Reads this config file alone instead of the default ones
    /// (`OPENADAPT_TELEMETRY_CONFIG` still wins). By default, the file is
    /// `~/.config/openadapt/telemetry.json` (shared with the Python packages),
    /// and `$XDG_CONFIG_HOME/openadapt/telemetry.json` too when that is another
    /// file. For tests (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub fn config_file(self, path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            file: FileChoice::Path(path.into()),
            ..self
        }
    }

    /// Reads no config file at all (and keeps no install id: the id lives
    /// beside the user's files), for tests and `openadapt-telemetry preview`
    /// (features `test-util`, `cli`). By default, the files are read.
    #[cfg(any(test, feature = "test-util", feature = "cli"))]
    pub fn no_config_file(self) -> Self {
        Self {
            file: FileChoice::None,
            ..self
        }
    }

    /// Where environment variables are read from: tests inject variables
    /// without `set_var`, the command line filters them (features
    /// `test-util`, `cli`). By default, the process environment.
    ///
    /// ```
    /// use openadapt_telemetry::Telemetry;
    ///
    /// let telemetry = Telemetry::builder("demo", "0.1.0")
    ///     .env_lookup(|name| (name == "DO_NOT_TRACK").then(|| "1".to_owned()))
    ///     .no_config_file()
    ///     .init();
    /// assert!(!telemetry.is_enabled());
    /// ```
    #[cfg(any(test, feature = "test-util", feature = "cli"))]
    pub fn env_lookup(
        self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            env: Some(Box::new(lookup)),
            ..self
        }
    }

    /// Sends scrubbed envelopes to `captured` instead of the network.
    #[cfg(feature = "test-util")]
    pub fn capture(self, captured: &crate::testing::Captured) -> Self {
        Self {
            capture: Some(captured.clone()),
            ..self
        }
    }

    /// Reads the time the backoff and the server's rate limits are measured
    /// in from `clock`, a test's virtual clock (feature `test-util`), so a
    /// test skips through a backoff schedule instead of sleeping through it.
    /// By default, the real clock.
    #[cfg(feature = "test-util")]
    pub fn clock(self, clock: &crate::testing::Clock) -> Self {
        Self {
            clock: clock.inner.clone(),
            ..self
        }
    }

    /// The longest one request to the server may take (feature `test-util`),
    /// so a test of a server that never answers waits less than the default,
    /// 5 s.
    #[cfg(feature = "test-util")]
    pub fn request_timeout(self, timeout: std::time::Duration) -> Self {
        Self {
            request_timeout: Some(timeout),
            ..self
        }
    }
}
