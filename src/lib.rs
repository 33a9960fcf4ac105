//! Privacy-first telemetry for [`tracing`](https://docs.rs/tracing): errors become GlitchTip (Sentry)
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
//!     // `telemetry` is dropped here: what the network does not take within
//!     // 80 ms waits in the spool for the next run; exit never waits longer.
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
//! `DO_NOT_TRACK=1` (or `true`) and a repository opt-out beat everything. The
//! config file is `~/.config/openadapt/telemetry.json`, the one the Python
//! packages read, with the same keys; a file under another `XDG_CONFIG_HOME` is
//! read too (its keys win, and `"enabled": false` in either turns telemetry
//! off); `OPENADAPT_TELEMETRY_CONFIG` names one file, read alone.
//!
//! | key (JSON) | environment variable | default |
//! |---|---|---|
//! | `enabled` | `OPENADAPT_TELEMETRY_ENABLED` (and `DO_NOT_TRACK`) | `true` |
//! | `internal` | `OPENADAPT_INTERNAL`, `OPENADAPT_DEV` | detected |
//! | `dsn` | `OPENADAPT_TELEMETRY_DSN` | the package's, via the builder |
//! | `usage_dsn` | `OPENADAPT_TELEMETRY_USAGE_DSN` | none: usage events go to `dsn` |
//! | `environment` | `OPENADAPT_TELEMETRY_ENVIRONMENT` | `production` |
//! | `sample_rate` | `OPENADAPT_TELEMETRY_SAMPLE_RATE` | `1.0` |
//! | `traces_sample_rate` | `OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE` | `0.01` |
//! | `error_tracking` | — | `true` |
//! | `performance_tracking` | — | `true` |
//! | `feature_usage` | — | `true` (off in CI unless `OPENADAPT_TELEMETRY_IN_CI=true`) |
//! | `send_default_pii` | — | `false` (`true` is refused: telemetry turns off) |
//! | — | `OPENADAPT_INTERNAL_FROM_GIT` | `false`: a `.git` does not make a run internal |
//! | — | `OPENADAPT_TELEMETRY_DISTINCT_ID` | the install id in `~/.openadapt/telemetry_distinct_id` |
//!
//! Preview: `OPENADAPT_TELEMETRY_DEBUG=1` prints to stderr instead of sending;
//! `OPENADAPT_TELEMETRY_DEBUG_FILE=PATH` appends the JSON lines to a file.
//!
//! A bad value gets one line on stderr naming the variable or file and the
//! value; telemetry then runs on that value's default, or off for a malformed
//! file, a DSN that does not parse, or `send_default_pii: true`.
//!
//! `internal` is `True` for OpenAdapt's own use, so it can be filtered out
//! (`internal:False` in GlitchTip finds real users): explicitly set, in CI,
//! under `cargo run`/`cargo test`, in a debug build, or (only with
//! `OPENADAPT_INTERNAL_FROM_GIT=true`) in a git checkout.
//! `OPENADAPT_INTERNAL=false` wins over the heuristics. Tags are stored as the
//! Python packages' are (`internal`/`ci` as `True`/`False`, `os` as
//! `Linux`/`Darwin`/`Windows`), so one GlitchTip query covers both.
//!
//! # Special fields
//!
//! - `feature = "name"` on an event or a span counts one use of `name`. Counts
//!   are sent as one event per feature per flush (at shutdown, at
//!   [`Telemetry::flush`], and hourly), with the count. An `info!`/`warn!` event
//!   with a `feature` field is counted, not kept as a breadcrumb.
//! - `error = &e as &dyn std::error::Error` on an `error!` event becomes the
//!   exception, with its real type and its `source()` chain (for an
//!   `anyhow::Error`: `error = &*e`). `error = %e` and `#[instrument(err)]`
//!   carry only the text: the exception is then typed by the function. An
//!   `error!` without an error value is an exception too: its value is the
//!   message, its type the function it was logged in.
//! - `tags.NAME = value` on an `error!` event becomes the tag `NAME` of that
//!   event; [`TelemetryBuilder::tag`] tags every event (the crate's own tags,
//!   such as `internal`, cannot be replaced).
//! - `op` (or `otel.kind`) on a span becomes its transaction's `op`; otherwise
//!   the `op` is `function`.
//! - Other fields of an `error!` event are sent as extra data, after scrubbing.
//!
//! One failure is one event: the reports of an error returned through
//! `#[instrument(err)]` functions, and logged again by the caller with its
//! `dyn Error`, are merged (the typed chain, the innermost stack, the spans
//! crossed in `extra.spans`). Up to 10 events a minute per call site are sent
//! one by one; past that, an equal error (same call site, message, fields and
//! chain) waiting to be sent adds to its `extra.repeat_count`.
//!
//! # A good neighbour
//!
//! The layer filters only itself, from its level floor
//! ([`TelemetryBuilder::level`], `INFO` by default, for events and spans
//! alike): it never narrows what the program's other layers see. A second
//! telemetry layer in one subscriber is inert; [`layer()`] reports to the
//! instance live at each event; one panic hook, chained to the program's, serves
//! every instance. No logging call waits on a lock. Every text is cut as it is
//! written (`…[cut N bytes]`): an error's message at 8 KiB, a breadcrumb at 2 KiB,
//! a field at 1 KiB, an item at 1 MiB; the README's Limits table has them all.
//!
//! What loses data without a word: a global `EnvFilter` from an unset
//! `RUST_LOG` (only errors reach any layer), a failed `try_init`, a panic hook
//! set after `init` without chaining to the one it replaces
//! (`let ours = std::panic::take_hook();` then call `ours(info)` from yours),
//! and anything logged before the subscriber is set.
//!
//! # Delivery
//!
//! Error and usage envelopes are written (already scrubbed) to a spool,
//! `<cache dir>/openadapt/telemetry-spool/`, before the network is tried, and
//! removed once delivered. Dropping the guard tries the network for 80 ms
//! ([`TelemetryBuilder::shutdown_timeout`]) and leaves the rest in the spool;
//! `std::process::exit` and panics spool what is in memory. A later run (or
//! this one, once the server answers) sends it, each envelope once, to the DSN
//! it was made for. Bounded: 1,000 envelopes, 10 MiB, 30 days. Nothing is read
//! from it or written to it while telemetry is off; `openadapt-telemetry
//! disable` deletes it.
//!
//! # How it works
//!
//! One route, one concern per module:
//!
//! ```text
//! layer ──records──▶ queue ──▶ worker ──items──▶ gate ──envelopes──▶ transport / spool / preview
//! (tracing)          (hand-off)  (build)          (privacy)
//! ```
//!
//! The layer turns tracing's events and spans into plain records on the
//! caller's thread (no scrubbing, no serialising, no I/O, no waiting); the
//! queue hands them to one worker thread; the worker builds Sentry items;
//! every item, whatever its kind, passes the privacy gate, and only the
//! gate's output is written anywhere. Beside the path: `config` (resolution,
//! the file, the environment), `internal`, `identity`, `features`, `backtrace`,
//! `privacy`, `fs` (the private, atomic writes every writer uses) and
//! `runtime` (the process-wide state modules share: the live instance, the
//! panic hook, the exit and fork handlers; other statics are private to the
//! module that writes them).
//!
//! **Why not `sentry::Client`.** The crate first sent through it and left it.
//! Its scope, event processors and `before_send` run on the logging thread,
//! so scrubbing cost the caller; errors and usage went through the client
//! while transactions had to reach the gate by another route; its transport
//! sends from memory, so an envelope could not be written to the spool before
//! the network was tried, and `process::exit` lost it; and its flush on drop
//! waits up to the shutdown timeout for a server that may never answer. What
//! it did for us (build an event, sample, hold tags) is a few dozen lines
//! here. `sentry` stays for its protocol types, DSN parsing and OS context, so
//! the envelopes keep the exact shape GlitchTip and Sentry expect.
//!
//! # Feature flags
//!
//! - `test-util`: the `testing` module (`testing::Captured`, to see in tests
//!   what the gate lets through; `testing::write_first_run_notice`), and the
//!   builder's test seams: `TelemetryBuilder::env_lookup` (variables without
//!   `set_var`), `config_file`, `no_config_file`, `feature_flush_interval`,
//!   `clock` (a virtual `testing::Clock` for the backoff and rate limits),
//!   `request_timeout` (5 s by default), and `Telemetry::send_test_event`.
//! - `cli`: the `openadapt-telemetry` binary (`status`, `enable`, `disable`,
//!   `preview`, `send-test`, `reset-id`), a thin `main` over `cli::run`;
//!   library users compile none of it.
//!
//! A package that wants a build with no telemetry at all makes this crate an
//! optional dependency behind its own `telemetry` feature.
//!
//! # Opting out
//!
//! `DO_NOT_TRACK=1`, `OPENADAPT_TELEMETRY_ENABLED=false`, `"enabled": false` in
//! the config file (`openadapt-telemetry disable`), or `telemetry = false` in
//! the `[tool.openadapt]` table of a repository's `pyproject.toml` (or the
//! `[package.metadata.openadapt]`/`[workspace.metadata.openadapt]` table of its
//! `Cargo.toml`). When off, nothing is started: no thread, no file, no network;
//! the layer returns at its first check.
#![warn(unreachable_pub, missing_docs, missing_debug_implementations)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod backtrace;
mod build;
#[cfg(feature = "cli")]
pub mod cli;
mod clock;
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
mod random;
mod runtime;
mod spool;
mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
mod transport;
mod worker;

pub use crate::config::{Config, Setting, Source};
pub use crate::layer::{TelemetryLayer, layer};
pub use crate::telemetry::{Telemetry, TelemetryBuilder};
pub use crate::transport::Delivery;

/// What telemetry collects, what it never collects, and how to turn it off:
/// for a CLI's `--help`, or once per machine as the first-run notice
/// ([`Telemetry::show_first_run_notice`]).
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
