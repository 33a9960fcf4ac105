//! Privacy-first telemetry for [`tracing`]: errors become GlitchTip (Sentry)
//! issues, `#[instrument]` spans become sampled performance transactions, and
//! `feature = "..."` fields become usage counts. Nothing personal leaves the
//! machine, it is easy to turn off, and it costs nothing when it is off.
//!
//! # Quick start
//!
//! ```no_run
//! use openadapt_telemetry::Telemetry;
//! use tracing_subscriber::prelude::*;
//!
//! # const OPENADAPT_CAPTURE_DSN: &str = "https://key@glitchtip.example.com/1";
//! # #[derive(Debug)] struct CaptureError;
//! # impl std::fmt::Display for CaptureError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("capture failed") } }
//! # impl std::error::Error for CaptureError {}
//! fn main() {
//!     // Infallible. When telemetry is off, nothing starts: no client, no thread, no file.
//!     let telemetry = Telemetry::builder("openadapt-capture", env!("CARGO_PKG_VERSION"))
//!         .dsn(OPENADAPT_CAPTURE_DSN) // the package's project; env/config file can override
//!         .init();
//!     tracing_subscriber::registry()
//!         .with(telemetry.layer()) // or `openadapt_telemetry::layer()`
//!         .init();
//!
//!     let _ = record();
//!     // `telemetry` is dropped here: it flushes, waiting at most 2 s.
//! }
//!
//! #[tracing::instrument(err, fields(feature = "capture.record"))]
//! fn record() -> Result<(), CaptureError> {
//!     tracing::info!("starting"); // a breadcrumb, sent only with a later error
//!     Err(CaptureError)           // `err` reports it as an error event
//! }
//! ```
//!
//! Run with `OPENADAPT_TELEMETRY_DEBUG=1` to print, instead of sending, every
//! item that would be sent (one line each: `[telemetry] ` and the item's JSON).
//!
//! | in the seed's Python API | here |
//! |---|---|
//! | `get_telemetry().initialize(name, version)` | [`Telemetry::builder`]`(name, version).init()`, a guard |
//! | `@track_performance` | a `#[tracing::instrument]` span: a sampled transaction |
//! | `@track_errors` | `#[tracing::instrument(err)]`, or `tracing::error!(error = &e as &dyn Error)`: an event with the exception chain |
//! | `@track_feature("x")`, `capture_event` | a `feature = "x"` field on an event or span: a usage count |
//! | `add_breadcrumb`, `capture_message` | `tracing::info!`/`warn!` (breadcrumbs), `tracing::error!` (an event) |
//! | `set_user` | an anonymous random id, set by the crate |
//! | `TELEMETRY_HELP` | [`TELEMETRY_HELP`] |
//!
//! # What is collected, and what never is
//!
//! Collected: errors (the error's type, its message and its `source()` chain,
//! the stack trace with user names removed from paths, the `info!`/`warn!`
//! breadcrumbs before it), sampled span timings and the process's resident
//! memory, feature names with use counts, and the environment: package, version,
//! OS, OS version, architecture, whether the use is internal, and a random
//! session id.
//!
//! Never collected: names, user names, host names, emails, IP addresses,
//! screenshots, typed text, file contents, credentials (API keys, passwords,
//! tokens), full paths with user names, URLs' query strings and credentials,
//! request bodies. Every envelope passes a privacy gate before it leaves: see
//! [`privacy`] for the rules.
//!
//! # Configuration
//!
//! Priority: environment > config file > builder (package defaults) > defaults.
//! `DO_NOT_TRACK=1` (or `true`) beats everything. The config file is
//! `~/.config/openadapt/telemetry.json` (honouring `XDG_CONFIG_HOME`;
//! `OPENADAPT_TELEMETRY_CONFIG` names another), shared with the Python packages.
//!
//! | key (JSON) | environment variable | default |
//! |---|---|---|
//! | `enabled` | `OPENADAPT_TELEMETRY_ENABLED` (and `DO_NOT_TRACK`) | `true` |
//! | `internal` | `OPENADAPT_INTERNAL`, `OPENADAPT_DEV` | detected |
//! | `dsn` | `OPENADAPT_TELEMETRY_DSN` | the package's, via the builder |
//! | `environment` | `OPENADAPT_TELEMETRY_ENVIRONMENT` | `production` |
//! | `sample_rate` | `OPENADAPT_TELEMETRY_SAMPLE_RATE` | `1.0` |
//! | `traces_sample_rate` | `OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE` | `0.01` |
//! | `error_tracking` | — | `true` |
//! | `performance_tracking` | — | `true` |
//! | `feature_usage` | — | `true` |
//! | `send_default_pii` | — | `false` (`true` is refused: telemetry turns off) |
//!
//! Preview: `OPENADAPT_TELEMETRY_DEBUG=1` prints to stderr instead of sending;
//! `OPENADAPT_TELEMETRY_DEBUG_FILE=PATH` appends the JSON lines to a file.
//!
//! A bad value gets one line on stderr naming the variable or file and the
//! value; telemetry then runs on that value's default, or off for a malformed
//! file, a DSN that does not parse, or `send_default_pii: true`.
//!
//! `internal` is true for OpenAdapt's own use, so it can be filtered out
//! (`tag:internal IS false` in GlitchTip): explicitly set, in CI, in a directory
//! with `.git`, under `cargo run`/`cargo test`, or in a debug build.
//! `OPENADAPT_INTERNAL=false` wins over the heuristics.
//!
//! # Special fields
//!
//! - `feature = "name"` on an event or a span counts one use of `name`. Counts
//!   are sent as one event per feature per flush (at shutdown, at
//!   [`Telemetry::flush`], and hourly), with the count. An `info!`/`warn!` event
//!   with a `feature` field is counted, not kept as a breadcrumb.
//! - `error = &e as &dyn std::error::Error` on an `error!` event becomes the
//!   exception, with its `source()` chain.
//! - `tags.NAME = value` on an `error!` event becomes the tag `NAME` of that
//!   event (the crate's own tags, such as `internal`, cannot be replaced).
//! - Other fields of an `error!` event are sent as extra data, after scrubbing.
//!
//! # Feature flags
//!
//! - `test-util`: [`testing::Captured`], to see in tests what the gate lets through.
//! - `cli`: the `openadapt-telemetry` binary (`status`, `enable`, `disable`,
//!   `preview`, `send-test`, `reset-id`); library users compile none of it.
//!
//! A package that wants a build with no telemetry at all makes this crate an
//! optional dependency behind its own `telemetry` feature.
//!
//! # Opting out
//!
//! `DO_NOT_TRACK=1`, `OPENADAPT_TELEMETRY_ENABLED=false`, or `"enabled": false`
//! in the config file. When off, nothing is started: no client, no thread, no
//! file, no network; the layer returns at its first check.
#![warn(unreachable_pub, missing_docs, missing_debug_implementations)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod backtrace;
mod build;
mod config;
mod crumbs;
mod features;
mod fs;
mod gate;
mod identity;
mod internal;
mod layer;
mod limits;
mod notice;
mod outbox;
mod preview;
pub mod privacy;
mod queue;
mod runtime;
mod spool;
mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
mod transport;
mod worker;

pub use crate::config::{Config, ConfigFile, FileState, Preview, Setting, Source};
pub use crate::config::{ConfigError, ConfigErrorKind};
pub use crate::identity::AnonymousId;
pub use crate::layer::{TelemetryLayer, layer};
pub use crate::notice::{show_first_run_notice, write_first_run_notice};
pub use crate::telemetry::{Telemetry, TelemetryBuilder};
pub use crate::transport::Delivery;

/// The spool folder, for the `openadapt-telemetry` binary (`status`,
/// `disable`) only: not a stable API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli_spool {
    pub use crate::spool::{Summary, default_dir, remove_all, summary};
}

/// What telemetry collects, what it never collects, and how to turn it off:
/// for a CLI's `--help` or a first-run notice.
pub const TELEMETRY_HELP: &str = "\
OpenAdapt collects anonymous usage data to improve the software.

What we collect:
  - Error reports (error types and messages, stack traces without user names)
  - Performance metrics (timing of a sample of operations, memory usage)
  - Feature usage counts (which features are used, how often)
  - Environment (package version, OS, architecture)

What we NEVER collect:
  - Screenshots or images
  - Text you type or file contents
  - Personal information (names, emails, IP addresses, host names)
  - API keys, passwords or tokens
  - File paths with your user name

To disable telemetry:
  - Set OPENADAPT_TELEMETRY_ENABLED=false
  - Or set DO_NOT_TRACK=1 (universal standard)
  - Or run: openadapt-telemetry disable

For more info: https://docs.openadapt.ai/telemetry
";
