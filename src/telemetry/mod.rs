//! [`Telemetry`]: the builder, the guard, init, flush and shutdown.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing_core::Level;

use crate::build::{Assembly, with_tags};
use crate::config::{Config, FileChoice, Overrides, Preview};
use crate::gate::Gate;
use crate::internal::Signals;
use crate::layer::TelemetryLayer;
use crate::limits::{TAG_VALUE, cut_chars};
use crate::outbox::{Network, Outbox};
use crate::preview::{PreviewSink, Sink};
use crate::privacy::{Local, Scrubber};
#[cfg(any(test, feature = "test-util", feature = "cli"))]
use crate::queue::{ErrorRecord, Origin};
use crate::queue::{Shared, Switches};
use crate::runtime::{IN_WORKER, Instance};
use crate::spool::Spool;

#[cfg(any(test, feature = "test-util", feature = "cli"))]
mod seams;
use crate::transport::Delivery;
use crate::worker::{Worker, spill};

/// Default for [`TelemetryBuilder::shutdown_timeout`], with a spool.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(80);
/// Its default when nothing can be spooled (a local sink, or no spool folder).
const NO_SPOOL_WAIT: Duration = Duration::from_secs(2);
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
    shutdown_timeout: Option<Duration>,
    feature_interval: Duration,
    capture_panics: bool,
    global: bool,
    preview: bool,
    level: Level,
    tags: Vec<(String, String)>,
    spool: SpoolChoice,
    #[cfg(feature = "test-util")]
    capture: Option<crate::testing::Captured>,
    #[cfg(feature = "test-util")]
    clock: crate::clock::Clock,
    #[cfg(feature = "test-util")]
    request_timeout: Option<Duration>,
}

/// Where unsent envelopes wait.
#[derive(Debug, Clone)]
enum SpoolChoice {
    /// `<cache dir>/openadapt/telemetry-spool/`.
    Default,
    Path(PathBuf),
    None,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("package", &self.package)
            .field("version", &self.version)
            .field("overrides", &self.overrides)
            .field("file", &self.file)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("level", &self.level)
            .field("spool", &self.spool)
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

    /// Marks this as internal (developer, CI) usage with `true`. `false` is the
    /// default value and, as `"internal": false` in the config file, masks
    /// nothing: CI and the explicit variables still make a run internal (only
    /// `OPENADAPT_INTERNAL=false` forces "not internal"). By default, detected.
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

    /// How long dropping the guard (and a panic) tries the network before
    /// what is left is written to the spool, to be sent by a later run. By
    /// default, 80 ms, so a program exits at once whatever the network does;
    /// when nothing can be spooled (preview mode, [`no_spool`](Self::no_spool),
    /// or no cache folder), 2 s.
    ///
    /// The drop does not wait for work under way past this timeout: in a
    /// program that goes on running, the worker finishes it in the background
    /// (a request, for up to its 5 s timeout, whose envelope goes back to the
    /// spool if it fails; or the process's first stack trace, 0.1 to 0.3 s to
    /// read). [`Telemetry::flush`] before the drop leaves nothing under way.
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        Self {
            shutdown_timeout: Some(timeout),
            ..self
        }
    }

    /// The least severe level the layer takes, for events and spans alike:
    /// `error!` events become error events, events at this level and above
    /// become breadcrumbs, spans at this level and above may become sampled
    /// transactions; less severe ones are ignored (`feature` fields are counted
    /// whatever their level). It filters this layer only, never what other
    /// layers see. By default, `INFO`.
    ///
    /// ```
    /// use openadapt_telemetry::Telemetry;
    ///
    /// let telemetry = Telemetry::builder("demo", "0.1.0")
    ///     .level(tracing::Level::DEBUG) // debug! becomes a breadcrumb, debug spans may be sampled
    ///     .enabled(false)
    ///     .init();
    /// # drop(telemetry);
    /// ```
    pub fn level(self, level: Level) -> Self {
        Self { level, ..self }
    }

    /// A tag sent with every event and transaction: the package's own, such as
    /// a component or a front end (`tag("frontend", "cli")`). The policy is the
    /// Python package's: a key of at most 32 characters from `A-Z a-z 0-9 _ .
    /// : -`, a key the privacy rules call sensitive (`token`, `email`, …) is
    /// dropped, at most 64 tags in all, values scrubbed and cut to 200
    /// characters. The crate's own tags (`internal`, `os`, …) cannot be
    /// replaced. By default, none.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Keeps unsent error and usage envelopes in this folder instead of the
    /// default, `<cache dir>/openadapt/telemetry-spool/` (shared by every
    /// OpenAdapt program of the user: see the crate docs' "Spool" section).
    pub fn spool_dir(self, dir: impl Into<PathBuf>) -> Self {
        Self {
            spool: SpoolChoice::Path(dir.into()),
            ..self
        }
    }

    /// Keeps nothing on disk: what is not delivered before the program ends is
    /// lost, and dropping the guard may wait up to 2 s for the network. By
    /// default, a spool is used.
    pub fn no_spool(self) -> Self {
        Self {
            spool: SpoolChoice::None,
            ..self
        }
    }

    /// Whether a panic is captured: a fatal event, written to the spool before
    /// the panic goes on (the program's own panic hook runs first). One panic
    /// hook serves every instance of the process; a panic is reported once, to
    /// the latest live instance with this on. By default, `true`.
    pub fn capture_panics(self, on: bool) -> Self {
        Self {
            capture_panics: on,
            ..self
        }
    }

    /// Whether this instance becomes the one the free [`layer()`](crate::layer())
    /// reports to while it is live (the latest initialised wins; when its guard
    /// is dropped, the one before takes over again). By default, `true`.
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
        let off = |config: Config| Telemetry {
            config,
            instance: None,
        };
        if !config.enabled().value {
            return off(config);
        }
        let Some((outbox, dsn)) = self.outbox(&config, env) else {
            return off(config);
        };
        let shutdown_timeout = self
            .shutdown_timeout
            .unwrap_or(if outbox.spool().is_some() {
                SHUTDOWN_TIMEOUT
            } else {
                NO_SPOOL_WAIT
            });

        let gate = Gate::new(Scrubber::new(Local::detect()));
        let session_id = crate::build::event_id();
        let (own, contexts) = base_tags(&self.package, &self.version, &config, &session_id);
        let tags = with_tags(own, self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let release = cut_chars(&format!("{}@{}", self.package, self.version), TAG_VALUE);
        // The install id, sent as the Sentry user id: OPENADAPT_TELEMETRY_DISTINCT_ID,
        // else ~/.openadapt/telemetry_distinct_id (shared with the Python
        // packages). Only when sending to a DSN (never in preview, never while
        // off); `no_config_file` touches no id file.
        let user_id = if self.preview || config.preview().is_some() {
            None
        } else {
            config
                .dsn()
                .value
                .as_ref()
                .and_then(|_| crate::identity::install_id(&config))
        };
        let assembly = Arc::new(Assembly {
            gate,
            outbox,
            tags,
            contexts,
            release,
            environment: cut_chars(&config.environment().value, TAG_VALUE),
            server_name: cut_chars(&self.package, TAG_VALUE),
            user_id,
            // Usage events go to their own project when one is set (a bad one
            // has turned them off in the config).
            usage_dsn: Some(
                config
                    .usage_dsn()
                    .value
                    .clone()
                    .unwrap_or_else(|| dsn.clone()),
            ),
            dsn: Some(dsn),
        });
        let switches = Switches {
            error_tracking: config.error_tracking().value,
            performance_tracking: config.performance_tracking().value,
            feature_usage: config.feature_usage().value,
            sample_rate: f64::from(config.sample_rate().value),
            traces_sample_rate: f64::from(config.traces_sample_rate().value),
            level: self.level,
        };
        let shared = Arc::new(Shared::new(switches, crate::runtime::generation()));
        let instance = Arc::new(Instance {
            shared: shared.clone(),
            assembly: assembly.clone(),
            started: Instant::now(),
            capture_panics: self.capture_panics,
            global: self.global,
            shutdown_timeout,
        });
        let worker = Worker {
            shared,
            assembly,
            started: instance.started,
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
        crate::runtime::register(&instance);
        Telemetry {
            config,
            instance: Some(instance),
        }
    }

    /// Where gated envelopes go, and the DSN they are made for.
    fn outbox(
        &self,
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<(Outbox, String)> {
        let dsn = config.dsn().value.clone();
        let local = |sink: Box<dyn Sink>| {
            Some((
                Outbox::Local(sink),
                dsn.clone().unwrap_or_else(|| PREVIEW_DSN.to_owned()),
            ))
        };
        #[cfg(feature = "test-util")]
        if let Some(captured) = &self.capture {
            return local(Box::new(captured.sink()));
        }
        match config.preview() {
            Some(Preview::File(path)) => local(Box::new(PreviewSink::new(Some(path.clone())))),
            Some(_) => local(Box::new(PreviewSink::new(None))),
            None if self.preview => local(Box::new(PreviewSink::new(None))),
            None => {
                let dsn = dsn?;
                dsn.parse::<sentry::types::Dsn>().ok()?;
                let dir = match &self.spool {
                    SpoolChoice::Default => crate::spool::default_dir(env),
                    SpoolChoice::Path(dir) => Some(dir.clone()),
                    SpoolChoice::None => None,
                };
                #[cfg(feature = "test-util")]
                let (clock, timeout) = (
                    self.clock.clone(),
                    self.request_timeout.unwrap_or(crate::transport::TIMEOUT),
                );
                #[cfg(not(feature = "test-util"))]
                let (clock, timeout) = (crate::clock::Clock::default(), crate::transport::TIMEOUT);
                Some((
                    Outbox::Network(Network::new(dir.map(Spool::new), clock, timeout)),
                    dsn,
                ))
            }
        }
    }
}

/// The tags and contexts sent with every event and transaction. Tags are
/// stored as the Python package's are, so one GlitchTip query covers both:
/// `internal` and `ci` as `True`/`False`, `os` as `Linux`/`Darwin`/`Windows`,
/// `os_version` as Python's `platform.release()`.
fn base_tags(
    package: &str,
    version: &str,
    config: &Config,
    session_id: &str,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut contexts = Map::new();
    if let Some(os) = sentry::integrations::contexts::utils::os_context()
        && let Ok(os) = serde_json::to_value(&os)
    {
        contexts.insert("os".to_owned(), os);
    }
    let rust = sentry::integrations::contexts::utils::rust_context();
    let rust_version = match &rust {
        sentry::protocol::Context::Runtime(r) => r.version.clone().unwrap_or_default(),
        _ => String::new(),
    };
    if let Ok(rust) = serde_json::to_value(&rust) {
        contexts.insert("rust".to_owned(), rust);
    }
    let python_bool = |on: bool| if on { "True" } else { "False" };
    let mut tags = Map::new();
    for (key, value) in [
        ("internal", python_bool(config.internal().value).to_owned()),
        ("ci", python_bool(config.ci().value).to_owned()),
        ("package", package.to_owned()),
        ("package_version", version.to_owned()),
        ("environment", config.environment().value.clone()),
        ("os", os_name().to_owned()),
        ("os_version", os_release()),
        ("arch", std::env::consts::ARCH.to_owned()),
        ("rust_version", rust_version),
        ("session_id", session_id.to_owned()),
    ] {
        tags.insert(key.to_owned(), Value::from(cut_chars(&value, TAG_VALUE)));
    }
    (tags, contexts)
}

/// The OS as Python's `platform.system()` names it.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        "openbsd" => "OpenBSD",
        "netbsd" => "NetBSD",
        other => other,
    }
}

/// The OS release as Python's `platform.release()` gives it: the kernel
/// release on Linux and macOS (`uname -r`), the major version on Windows.
fn os_release() -> String {
    #[cfg(unix)]
    {
        // SAFETY: `uname` fills the struct it is given; the release is a C string in it.
        let mut name: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut name) } == 0 {
            let bytes: Vec<u8> = name
                .release
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        String::new()
    }
    #[cfg(not(unix))]
    {
        match sentry::integrations::contexts::utils::os_context() {
            Some(sentry::protocol::Context::Os(os)) => os
                .version
                .as_deref()
                .and_then(|v| v.split('.').next())
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        }
    }
}

/// Running telemetry, or the record of why it is off.
///
/// Created by [`Telemetry::builder`]. Keep it alive until the end of `main`.
/// Dropping it sends what is queued if the network takes it within the
/// [shutdown timeout](TelemetryBuilder::shutdown_timeout) (80 ms by default),
/// writes the rest to the spool for a later run, and returns: exit never waits
/// on the network. `std::process::exit` and panics spool what is in memory too.
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
#[must_use = "dropping the Telemetry guard stops telemetry at once: keep it alive until the end of main"]
pub struct Telemetry {
    config: Config,
    instance: Option<Arc<Instance>>,
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
            shutdown_timeout: None,
            feature_interval: FEATURE_INTERVAL,
            capture_panics: true,
            global: true,
            preview: false,
            level: Level::INFO,
            tags: Vec::new(),
            spool: SpoolChoice::Default,
            #[cfg(feature = "test-util")]
            capture: None,
            #[cfg(feature = "test-util")]
            clock: crate::clock::Clock::default(),
            #[cfg(feature = "test-util")]
            request_timeout: None,
        }
    }

    /// The layer to add to a `tracing_subscriber::registry()`. When telemetry is
    /// off it does nothing and costs nothing measurable.
    pub fn layer(&self) -> TelemetryLayer {
        match &self.instance {
            Some(instance) => TelemetryLayer::new(instance.shared.clone()),
            None => TelemetryLayer::off(),
        }
    }

    /// Whether telemetry is running (enabled, with somewhere to send: a DSN or preview mode).
    pub fn is_enabled(&self) -> bool {
        self.instance.is_some()
    }

    /// The resolved configuration, each value with where it came from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Prints [`TELEMETRY_HELP`](crate::TELEMETRY_HELP) to stderr the first time
    /// a program calls this on this machine; returns whether it printed.
    ///
    /// It prints nothing when telemetry is off or has no DSN to send to, in CI
    /// (a CI variable such as `CI` or `GITHUB_ACTIONS` is set), when stderr is
    /// not a terminal, when there is no config file path, or when the notice
    /// cannot be recorded as shown (so it never shows on every run). "Shown" is
    /// the file `notice_shown` beside the config file, shared by every package.
    ///
    /// ```no_run
    /// use openadapt_telemetry::Telemetry;
    ///
    /// # const DSN: &str = "https://key@glitchtip.example.com/1";
    /// let telemetry = Telemetry::builder("openadapt-capture", "1.0.0").dsn(DSN).init();
    /// telemetry.show_first_run_notice();
    /// ```
    pub fn show_first_run_notice(&self) -> bool {
        crate::notice::show_first_run_notice(&self.config)
    }

    /// Sends everything queued so far, waiting at most `timeout`. Returns `true`
    /// when it was all handled in time: delivered, or kept in the spool for a
    /// later attempt (or telemetry is off). Safe to call from async code: it
    /// blocks the calling thread for at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(instance) = &self.instance else {
            return true;
        };
        let shared = &instance.shared;
        shared.check_fork();
        if shared.orphan.load(Ordering::Relaxed) {
            // A forked child has no worker: what it holds goes to the spool.
            spill(shared, &instance.assembly, instance.started, false);
            return true;
        }
        shared.flush(timeout)
    }

    /// Sends one test event (level info, message `openadapt-telemetry test
    /// event`) and waits at most `timeout` for the server's answer: what
    /// `openadapt-telemetry send-test` does (features `cli`, `test-util`). It
    /// blocks the calling thread. The test event is never kept in the spool.
    ///
    /// ```
    /// use openadapt_telemetry::{Delivery, Telemetry};
    ///
    /// let telemetry = Telemetry::builder("demo", "0.1.0").enabled(false).init();
    /// assert_eq!(telemetry.send_test_event(std::time::Duration::from_secs(1)), Delivery::NotSent);
    /// ```
    #[cfg(any(test, feature = "test-util", feature = "cli"))]
    pub fn send_test_event(&self, timeout: Duration) -> Delivery {
        let Some(instance) = &self.instance else {
            return Delivery::NotSent;
        };
        let shared = &instance.shared;
        let _ = shared.take_last_delivery();
        shared.push_error(ErrorRecord {
            message: Some("openadapt-telemetry test event".to_owned()),
            ..ErrorRecord::new(Origin::Test, crate::random::random_u64())
        });
        if !shared.flush(timeout) {
            return Delivery::Unreachable(format!("no answer within {timeout:?}"));
        }
        shared.take_last_delivery().unwrap_or(Delivery::NotSent)
    }

    /// What the server answered to the last error, panic or test event sent
    /// (the event [`last_event_id`](Self::last_event_id) names; usage counts
    /// and transactions are not such events), known once it has been flushed:
    /// [`Delivery::Accepted`], [`Delivery::Refused`] with the HTTP status, …
    /// `None` before any was sent, or when telemetry is off. For a program
    /// that tells its user whether a report got through.
    ///
    /// ```
    /// use openadapt_telemetry::Telemetry;
    ///
    /// let telemetry = Telemetry::builder("demo", "0.1.0").enabled(false).init();
    /// assert_eq!(telemetry.last_delivery(), None);
    /// ```
    pub fn last_delivery(&self) -> Option<Delivery> {
        let instance = self.instance.as_ref()?;
        instance.shared.last_delivery.lock().ok()?.clone()
    }

    /// The id of the last error, message, panic or test event sent (32 lowercase
    /// hex digits), to show a user who wants to report a problem; feature usage
    /// counts are not such events. Known once the event has been flushed.
    pub fn last_event_id(&self) -> Option<String> {
        self.instance
            .as_ref()
            .and_then(|i| i.shared.last_event_id())
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            crate::runtime::unregister(&instance);
            shutdown(&instance);
        }
    }
}

/// Stops an instance: the worker gets the shutdown timeout to deliver what is
/// queued, then what is left goes to the spool. Returns at once in a forked child.
fn shutdown(instance: &Instance) {
    let shared = &instance.shared;
    shared.active.store(false, Ordering::Release);
    shared.stopping.store(true, Ordering::Relaxed);
    shared.check_fork();
    if !shared.orphan.load(Ordering::Relaxed) {
        let deadline = Instant::now() + instance.shutdown_timeout;
        if let Some(mut q) = shared.queue() {
            q.stop = true;
            shared.work.notify_one();
            if shared.wait_for(q, deadline, |q| q.stopped || q.abandoned) {
                // What was lost after the last envelope is reported by the next run.
                crate::worker::spool_losses(&instance.assembly);
                return;
            }
        }
    }
    spill(shared, &instance.assembly, instance.started, true);
}
