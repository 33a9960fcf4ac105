//! [`Telemetry`]: the builder, the guard, init, flush and shutdown.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sentry::protocol::{Context, Map};

use crate::config::{Config, FileChoice, Overrides, Preview};
use crate::internal::Signals;
use crate::layer::{GLOBAL, IN_WORKER, TelemetryLayer};
use crate::pipeline::{ErrorRecord, Link, Origin, Shared, Switches, Worker};
use crate::privacy::{Local, Scrubber};
use crate::transport::{Delivery, Gate, GateTransport, HttpSink, PreviewSink, Sink};

/// Default for [`TelemetryBuilder::shutdown_timeout`].
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`TelemetryBuilder::feature_flush_interval`].
const FEATURE_INTERVAL: Duration = Duration::from_secs(3600);
/// The DSN used when previewing without one: never contacted.
const PREVIEW_DSN: &str = "https://preview@127.0.0.1/0";

type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Sets up telemetry for one package. Created by [`Telemetry::builder`].
///
/// Every setter gives a *package default*: the user's config file and
/// environment variables override it (see the crate docs' Configuration table).
#[must_use = "a builder does nothing until `.init()` is called"]
pub struct TelemetryBuilder {
    package: String,
    version: String,
    overrides: Overrides,
    env: Option<EnvLookup>,
    file: FileChoice,
    shutdown_timeout: Duration,
    feature_interval: Duration,
    capture_panics: bool,
    global: bool,
    preview: bool,
    #[cfg(feature = "test-util")]
    capture: Option<crate::testing::Captured>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("package", &self.package)
            .field("version", &self.version)
            .field("overrides", &self.overrides)
            .field("file", &self.file)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// The package's DSN (its GlitchTip project). `OPENADAPT_TELEMETRY_DSN` and the
    /// config file's `dsn` override it. By default, there is none, and nothing is
    /// sent unless preview mode is on.
    pub fn dsn(self, dsn: impl Into<String>) -> Self {
        Self {
            overrides: Overrides {
                dsn: Some(dsn.into()),
                ..self.overrides
            },
            ..self
        }
    }

    /// The DSN usage events (`feature = "..."` counts) are sent to, a GlitchTip
    /// project of their own, so they do not mix with the errors.
    /// `OPENADAPT_TELEMETRY_USAGE_DSN` and the config file's `usage_dsn`
    /// override it. By default, there is none, and usage events go to the
    /// [`dsn`](Self::dsn).
    pub fn usage_dsn(self, dsn: impl Into<String>) -> Self {
        Self {
            overrides: Overrides {
                usage_dsn: Some(dsn.into()),
                ..self.overrides
            },
            ..self
        }
    }

    /// The environment name sent with every event. By default, `production`.
    pub fn environment(self, environment: impl Into<String>) -> Self {
        Self {
            overrides: Overrides {
                environment: Some(environment.into()),
                ..self.overrides
            },
            ..self
        }
    }

    /// The share of error events sent, from 0.0 to 1.0. By default, 1.0.
    pub fn sample_rate(self, rate: f32) -> Self {
        Self {
            overrides: Overrides {
                sample_rate: Some(rate),
                ..self.overrides
            },
            ..self
        }
    }

    /// The share of root spans sent as performance transactions, from 0.0 to 1.0.
    /// By default, 0.01.
    pub fn traces_sample_rate(self, rate: f32) -> Self {
        Self {
            overrides: Overrides {
                traces_sample_rate: Some(rate),
                ..self.overrides
            },
            ..self
        }
    }

    /// Whether telemetry is on at all. By default, `true` (users opt out with
    /// `DO_NOT_TRACK=1`, `OPENADAPT_TELEMETRY_ENABLED=false` or the config file).
    pub fn enabled(self, on: bool) -> Self {
        Self {
            overrides: Overrides {
                enabled: Some(on),
                ..self.overrides
            },
            ..self
        }
    }

    /// Whether this is internal (developer, CI) usage. By default, detected.
    pub fn internal(self, internal: bool) -> Self {
        Self {
            overrides: Overrides {
                internal: Some(internal),
                ..self.overrides
            },
            ..self
        }
    }

    /// Whether `error!` events are sent. By default, `true`.
    pub fn error_tracking(self, on: bool) -> Self {
        Self {
            overrides: Overrides {
                error_tracking: Some(on),
                ..self.overrides
            },
            ..self
        }
    }

    /// Whether sampled spans are sent as transactions. By default, `true`.
    pub fn performance_tracking(self, on: bool) -> Self {
        Self {
            overrides: Overrides {
                performance_tracking: Some(on),
                ..self.overrides
            },
            ..self
        }
    }

    /// Whether `feature = "..."` fields are counted and sent. By default, `true`.
    pub fn feature_usage(self, on: bool) -> Self {
        Self {
            overrides: Overrides {
                feature_usage: Some(on),
                ..self.overrides
            },
            ..self
        }
    }

    /// Refused: `true` turns telemetry off with a warning, because this crate
    /// never sends personal data. By default, `false`.
    pub fn send_default_pii(self, on: bool) -> Self {
        Self {
            overrides: Overrides {
                send_default_pii: Some(on),
                ..self.overrides
            },
            ..self
        }
    }

    /// How long dropping the guard waits for queued telemetry to be sent.
    /// By default, 2 seconds.
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        Self {
            shutdown_timeout: timeout,
            ..self
        }
    }

    /// How often feature-usage counts are sent in a long-running process (they
    /// are also sent at every flush and at shutdown). By default, one hour.
    pub fn feature_flush_interval(self, interval: Duration) -> Self {
        Self {
            feature_interval: interval.max(Duration::from_millis(10)),
            ..self
        }
    }

    /// Whether a panic is captured (as a fatal event, flushed before the panic
    /// goes on). By default, `true`.
    pub fn capture_panics(self, on: bool) -> Self {
        Self {
            capture_panics: on,
            ..self
        }
    }

    /// Whether this instance becomes the one the free [`layer()`](crate::layer())
    /// reports to (the first instance initialised wins). By default, `true`.
    pub fn global(self, on: bool) -> Self {
        Self { global: on, ..self }
    }

    /// Prints what would be sent instead of sending it, as
    /// `OPENADAPT_TELEMETRY_DEBUG=1` does. Use it for a demo, or when there is no
    /// DSN. By default, `false`.
    pub fn preview(self, on: bool) -> Self {
        Self {
            preview: on,
            ..self
        }
    }

    /// Reads this config file instead of the default location
    /// (`OPENADAPT_TELEMETRY_CONFIG` still wins). By default, the file is
    /// `$XDG_CONFIG_HOME/openadapt/telemetry.json` or `~/.config/openadapt/telemetry.json`.
    pub fn config_file(self, path: impl Into<PathBuf>) -> Self {
        Self {
            file: FileChoice::Path(path.into()),
            ..self
        }
    }

    /// Reads no config file at all. By default, the file is read.
    pub fn no_config_file(self) -> Self {
        Self {
            file: FileChoice::None,
            ..self
        }
    }

    /// Where environment variables are read from. By default, the process
    /// environment. Tests use this to inject variables without `set_var`.
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

    /// Resolves the configuration and starts telemetry. Never fails: a bad
    /// setting prints one line on stderr and telemetry runs on the default, or
    /// off where privacy is at stake. When telemetry is off nothing starts: no
    /// client, no thread, no file, no network.
    pub fn init(self) -> Telemetry {
        // The process environment: a value that is not UTF-8 comes with U+FFFD
        // in it, so a variable that controls the opt-out fails closed.
        let env: &dyn Fn(&str) -> Option<String> = match &self.env {
            Some(lookup) => lookup.as_ref(),
            None => &crate::config::process_env,
        };
        let config = crate::config::resolve(env, &self.file, &self.overrides, Signals::detect());
        for line in config.warnings() {
            eprintln!("{line}");
        }
        let shutdown_timeout = self.shutdown_timeout;
        let off = |config: Config| Telemetry {
            config,
            shared: None,
            shutdown_timeout,
        };
        if !*config.enabled().value() {
            return off(config);
        }
        let (sink, dsn): (Box<dyn Sink>, String) = match self.sink(&config) {
            Some(found) => found,
            None => return off(config),
        };
        let Ok(dsn) = dsn.parse::<sentry::types::Dsn>() else {
            return off(config);
        };

        let gate = Arc::new(Gate::new(Scrubber::new(Local::detect()), sink));
        let release = format!("{}@{}", self.package, self.version);
        let environment = config.environment().value().clone();
        let mut options = sentry::ClientOptions::new()
            .release(release.clone())
            .environment(environment.clone())
            .server_name(self.package.clone())
            .sample_rate(1.0)
            .traces_sample_rate(0.0)
            .send_default_pii(false)
            .shutdown_timeout(shutdown_timeout)
            .transport(GateTransport(gate.clone()));
        options.dsn = Some(dsn);
        let client = sentry::Client::with_options(options);

        let session_id = sentry::types::random_uuid().simple().to_string();
        let (tags, contexts) = base_tags(&self.package, &self.version, &config, &session_id);
        let switches = Switches {
            error_tracking: *config.error_tracking().value(),
            performance_tracking: *config.performance_tracking().value(),
            feature_usage: *config.feature_usage().value(),
            sample_rate: f64::from(*config.sample_rate().value()),
            traces_sample_rate: f64::from(*config.traces_sample_rate().value()),
        };
        let shared = Arc::new(Shared::new(switches));
        // The install id, sent as the Sentry user id: OPENADAPT_TELEMETRY_DISTINCT_ID,
        // else ~/.openadapt/telemetry_distinct_id (shared with the Python
        // packages). Only when sending to a DSN (never in preview, never while
        // off); `no_config_file` touches no id file.
        let anonymous_id = if self.preview || config.preview().is_some() {
            None
        } else {
            config
                .dsn()
                .value()
                .as_ref()
                .and_then(|_| crate::identity::install_id(&config))
        };
        let worker = Worker {
            shared: shared.clone(),
            client,
            gate,
            tags,
            contexts,
            release,
            environment,
            anonymous_id,
            started: Instant::now(),
            feature_interval: self.feature_interval,
        };
        let spawned = std::thread::Builder::new()
            .name("openadapt-telemetry".into())
            .spawn(move || {
                IN_WORKER.set(true);
                worker.run();
            });
        if spawned.is_err() {
            eprintln!(
                "openadapt-telemetry: could not start the telemetry thread; telemetry is off"
            );
            return off(config);
        }
        if self.global {
            let _ = GLOBAL.set(shared.clone());
        }
        if self.capture_panics {
            install_panic_hook(&shared, shutdown_timeout);
        }
        Telemetry {
            config,
            shared: Some(shared),
            shutdown_timeout,
        }
    }

    /// Where scrubbed envelopes go, and the DSN the client is built with.
    fn sink(&self, config: &Config) -> Option<(Box<dyn Sink>, String)> {
        let dsn = config.dsn().value().clone();
        #[cfg(feature = "test-util")]
        if let Some(captured) = &self.capture {
            return Some((
                Box::new(captured.sink()),
                dsn.unwrap_or_else(|| PREVIEW_DSN.to_owned()),
            ));
        }
        match config.preview() {
            Some(Preview::File(path)) => Some((
                Box::new(PreviewSink::new(Some(path.clone()))),
                dsn.unwrap_or_else(|| PREVIEW_DSN.to_owned()),
            )),
            Some(_) => Some((
                Box::new(PreviewSink::new(None)),
                dsn.unwrap_or_else(|| PREVIEW_DSN.to_owned()),
            )),
            None if self.preview => Some((
                Box::new(PreviewSink::new(None)),
                dsn.unwrap_or_else(|| PREVIEW_DSN.to_owned()),
            )),
            None => {
                let dsn = dsn?;
                let parsed = dsn.parse::<sentry::types::Dsn>().ok()?;
                Some((Box::new(HttpSink::new(&parsed)), dsn))
            }
        }
    }
}

/// The tags and contexts sent with every event and transaction.
fn base_tags(
    package: &str,
    version: &str,
    config: &Config,
    session_id: &str,
) -> (Map<String, String>, Map<String, Context>) {
    let mut contexts = Map::new();
    let mut os_version = String::new();
    if let Some(os) = sentry::integrations::contexts::utils::os_context() {
        if let Context::Os(os) = &os {
            os_version = os.version.clone().unwrap_or_default();
        }
        contexts.insert("os".to_owned(), os);
    }
    contexts.insert(
        "rust".to_owned(),
        sentry::integrations::contexts::utils::rust_context(),
    );
    let mut tags = Map::new();
    for (key, value) in [
        ("internal", config.internal().value().to_string()),
        ("package", package.to_owned()),
        ("package_version", version.to_owned()),
        ("environment", config.environment().value().clone()),
        ("os", std::env::consts::OS.to_owned()),
        ("os_version", os_version),
        ("arch", std::env::consts::ARCH.to_owned()),
        ("session_id", session_id.to_owned()),
    ] {
        tags.insert(key.to_owned(), value);
    }
    (tags, contexts)
}

fn install_panic_hook(shared: &Arc<Shared>, timeout: Duration) {
    let weak = Arc::downgrade(shared);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(shared) = weak.upgrade()
            && shared.active.load(std::sync::atomic::Ordering::Relaxed)
            && !IN_WORKER.get()
        {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_owned());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            let fingerprint = {
                use std::hash::{Hash, Hasher};
                let mut h = std::hash::DefaultHasher::new();
                ("panic", &message, &location).hash(&mut h);
                h.finish()
            };
            shared.push_error(ErrorRecord {
                fingerprint,
                origin: Origin::Panic(location),
                message: None,
                chain: vec![Link {
                    ty: "panic".to_owned(),
                    value: message,
                }],
                fields: Vec::new(),
                tags: Vec::new(),
                crumbs: shared.crumbs(),
                backtrace: Some(std::backtrace::Backtrace::force_capture()),
                trace: None,
                transaction: None,
                timestamp: SystemTime::now(),
                count: 1,
            });
            shared.flush(timeout);
        }
        previous(info);
    }));
}

/// Running telemetry, or the record of why it is off. Dropping it flushes.
///
/// Created by [`Telemetry::builder`]. Keep it alive until the end of `main`:
/// when it is dropped, queued events, transactions and feature counts are sent,
/// waiting at most the [shutdown timeout](TelemetryBuilder::shutdown_timeout),
/// even if the server never answers.
///
/// ```
/// use openadapt_telemetry::Telemetry;
/// use tracing_subscriber::prelude::*;
///
/// let telemetry = Telemetry::builder("openadapt-demo", "0.1.0")
///     .enabled(false) // a doc test sends nothing
///     .init();
/// let subscriber = tracing_subscriber::registry().with(telemetry.layer());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::error!("this would be reported");
/// });
/// assert!(!telemetry.is_enabled());
/// ```
#[must_use = "dropping the Telemetry guard flushes and stops telemetry at once: keep it alive until the end of main"]
pub struct Telemetry {
    config: Config,
    shared: Option<Arc<Shared>>,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("enabled", &self.is_enabled())
            .field("config", &self.config)
            .finish()
    }
}

impl Telemetry {
    /// Starts configuring telemetry for a package: its name and version (usually
    /// `env!("CARGO_PKG_NAME")` and `env!("CARGO_PKG_VERSION")`).
    pub fn builder(
        package_name: impl Into<String>,
        package_version: impl Into<String>,
    ) -> TelemetryBuilder {
        TelemetryBuilder {
            package: package_name.into(),
            version: package_version.into(),
            overrides: Overrides::default(),
            env: None,
            file: FileChoice::Locate,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            feature_interval: FEATURE_INTERVAL,
            capture_panics: true,
            global: true,
            preview: false,
            #[cfg(feature = "test-util")]
            capture: None,
        }
    }

    /// The layer to add to a `tracing_subscriber::registry()`. When telemetry is
    /// off it does nothing and costs nothing measurable.
    pub fn layer(&self) -> TelemetryLayer {
        match &self.shared {
            Some(shared) => TelemetryLayer::new(shared.clone()),
            None => TelemetryLayer::off(),
        }
    }

    /// Whether telemetry is running (enabled, with somewhere to send: a DSN or preview mode).
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// The resolved configuration, each value with where it came from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends everything queued so far, waiting at most `timeout`. Returns `true`
    /// when it was all handed over in time (or telemetry is off). Safe to call
    /// from async code: it blocks the calling thread for at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        match &self.shared {
            Some(shared) => shared.flush(timeout),
            None => true,
        }
    }

    /// Sends one test event (level info, message `openadapt-telemetry test
    /// event`) and waits at most `timeout` for the server's answer. For a CLI's
    /// "send a test event" command; it blocks the calling thread.
    ///
    /// ```
    /// use openadapt_telemetry::{Delivery, Telemetry};
    ///
    /// let telemetry = Telemetry::builder("demo", "0.1.0").enabled(false).init();
    /// assert_eq!(telemetry.send_test_event(std::time::Duration::from_secs(1)), Delivery::NotSent);
    /// ```
    pub fn send_test_event(&self, timeout: Duration) -> Delivery {
        let Some(shared) = &self.shared else {
            return Delivery::NotSent;
        };
        let _ = shared.take_last_delivery();
        shared.push_error(ErrorRecord {
            fingerprint: crate::layer::random_u64(),
            origin: Origin::Test,
            message: Some("openadapt-telemetry test event".to_owned()),
            chain: Vec::new(),
            fields: Vec::new(),
            tags: Vec::new(),
            crumbs: Vec::new(),
            backtrace: None,
            trace: None,
            transaction: None,
            timestamp: SystemTime::now(),
            count: 1,
        });
        if !shared.flush(timeout) {
            return Delivery::Unreachable(format!("no answer within {timeout:?}"));
        }
        shared.take_last_delivery().unwrap_or(Delivery::NotSent)
    }

    /// The id of the last error, message, panic or test event sent (32 lowercase
    /// hex digits), to show a user who wants to report a problem; feature usage
    /// counts are not such events. Known once the event has been flushed.
    pub fn last_event_id(&self) -> Option<String> {
        self.shared.as_ref().and_then(|s| s.last_event_id())
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.shutdown(self.shutdown_timeout);
        }
    }
}
