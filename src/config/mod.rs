//! Configuration with provenance: crate defaults < builder (package defaults) <
//! config file < environment, and the opt-outs above everything.
//!
//! Resolution is a pure function, [`resolve()`], over an injected environment
//! lookup, a [`FileChoice`], the [`Overrides`] a package set on its builder and
//! the process [`Signals`](crate::internal::Signals) (the working directory,
//! the build), so tests need neither `std::env::set_var` nor the real home
//! directory. It never fails and never panics: a bad value costs that value
//! (or, for a file, a DSN, `enabled` and `send_default_pii`, costs telemetry
//! itself) plus one warning line.
//!
//! This file holds the public types and their accessors; the work is done
//! beside it: [`resolve`](mod@resolve) (the pure resolution and its
//! warnings), [`file`] (finding, reading and rewriting the config files),
//! [`env`] (the variables) and [`manifest`] (the repository opt-out).
//!
//! Decisions:
//!
//! - An empty or all-blank variable, a JSON `null` and a blank JSON string all
//!   count as "not set". Values are trimmed.
//! - A bad value falls through to the next source (env, then file, then builder,
//!   then the crate default); the warning names the value actually used.
//! - Fail closed where a bad value could mean "off": an unreadable or malformed
//!   file, an `enabled` that is not a boolean, a DSN that does not parse, a
//!   variable that controls the opt-out or the file locations and is not valid
//!   UTF-8, and `send_default_pii: true` all turn telemetry off. A bad
//!   `usage_dsn` turns usage events off (errors still have their DSN).
//! - Only the effective value of a key is checked: a bad builder DSN hidden by a
//!   good `OPENADAPT_TELEMETRY_DSN` is not reported.
//! - `DO_NOT_TRACK` disables when set to anything but `0`/`false`/`no`/`off`
//!   (`1` and `true` are the documented values).
//! - Two config files, as the family shares them: `~/.config/openadapt/telemetry.json`
//!   (the Python packages' file) and, when `XDG_CONFIG_HOME` names another
//!   folder and a file is there, `$XDG_CONFIG_HOME/openadapt/telemetry.json`.
//!   `"enabled": false` in either turns telemetry off; otherwise the XDG file's
//!   keys win. `OPENADAPT_TELEMETRY_CONFIG` names one file, read alone.
//! - Python's `json.dump` writes bare `NaN`, `Infinity` and `-Infinity`: they are
//!   read as invalid values of their key (one warning, that key's default), not
//!   as a malformed file.
//! - A repository can opt out: see [`manifest`]. It turns everything off, over
//!   any variable or file that enables.
//! - When the user (or package, or repository) opted out, everything is still
//!   resolved (so `status` can show it) but [`Config::warnings`] is empty:
//!   nobody is nagged about settings that are unused.

mod env;
mod file;
mod manifest;
mod resolve;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::path::{Path, PathBuf};

use env::IN_CI;

pub(crate) use env::process_env;
pub(crate) use file::FileChoice;
#[cfg(any(test, feature = "cli"))]
pub(crate) use file::IfInvalid;
pub(crate) use resolve::{Overrides, resolve};

const PREFIX: &str = "openadapt-telemetry: ";

/// Where an effective value came from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The crate's default.
    Default,
    /// The package's default, set on the builder.
    Builder,
    /// The config file at this path.
    File(PathBuf),
    /// The environment variable of this name.
    Env(&'static str),
    /// The `DO_NOT_TRACK` environment variable.
    DoNotTrack,
    /// Internal-usage heuristics (CI, `.git`, cargo, debug build).
    Detected,
    /// Running in CI, as this variable says: usage events are off there
    /// unless `OPENADAPT_TELEMETRY_IN_CI` is true.
    Ci(&'static str),
    /// A repository-wide opt-out: the `telemetry` key of an OpenAdapt table
    /// in a `pyproject.toml` or `Cargo.toml` at or above the working directory.
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The table, as written in TOML: `[tool.openadapt]`.
        table: &'static str,
        /// The `telemetry` value, as written.
        value: String,
    },
    /// This environment variable is set to a value that is not valid UTF-8:
    /// what it says cannot be known, so telemetry is off.
    NotUtf8(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Builder => f.write_str("builder (package default)"),
            Self::File(path) => write!(f, "config file {}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::DoNotTrack => f.write_str("DO_NOT_TRACK"),
            Self::Detected => f.write_str("detected"),
            Self::Ci(name) => write!(
                f,
                "CI ({name} is set; {IN_CI}=true sends usage events there)"
            ),
            Self::Manifest { path, table, value } => write!(
                f,
                "repository opt-out {table} telemetry = {value} in {}",
                path.display()
            ),
            Self::NotUtf8(name) => write!(f, "environment variable {name} (not valid UTF-8)"),
        }
    }
}

/// An effective value and where it came from, as [`Config`]'s accessors give
/// it (by shared reference: a program reads its configuration, it does not
/// change it here).
///
/// ```
/// use openadapt_telemetry::Telemetry;
///
/// let telemetry = Telemetry::builder("openadapt-demo", "0.1.0")
///     .enabled(false) // a doc test sends nothing
///     .init();
/// let enabled = telemetry.config().enabled();
/// // e.g. "telemetry off (builder (package default))"; a variable, the config
/// // file or a repository opt-out may decide instead.
/// println!("telemetry {} ({})", if enabled.value { "on" } else { "off" }, enabled.source);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Setting<T> {
    /// The effective value.
    pub value: T,
    /// Where the effective value came from.
    pub source: Source,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// Where preview output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Preview {
    /// Print what would be sent to standard error (`OPENADAPT_TELEMETRY_DEBUG=true`).
    Stderr,
    /// Append what would be sent to this file (`OPENADAPT_TELEMETRY_DEBUG_FILE`).
    File(PathBuf),
}

/// State of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileState {
    /// There is no file at the path: the normal case, not an error.
    NotFound,
    /// The file was read and is a JSON object.
    Loaded,
    /// The file cannot be read (not a regular file, larger than 1 MiB, not
    /// UTF-8, no permission) or is not a JSON object: telemetry is off. The
    /// string is a one-line reason.
    Invalid(String),
    /// No path could be determined, or the caller chose not to read a file.
    NotUsed,
}

/// A config file that was consulted, and what was found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigFile {
    path: PathBuf,
    state: FileState,
}

impl ConfigFile {
    /// The file.
    #[cfg_attr(
        not(any(test, feature = "cli")),
        expect(dead_code, reason = "for the cli feature's `status`")
    )]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What happened when it was read.
    #[cfg_attr(
        not(any(test, feature = "cli")),
        expect(dead_code, reason = "for the cli feature's `status`")
    )]
    pub(crate) fn state(&self) -> &FileState {
        &self.state
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    enabled: Setting<bool>,
    internal: Setting<bool>,
    internal_reason: String,
    ci: Setting<bool>,
    dsn: Setting<Option<String>>,
    usage_dsn: Setting<Option<String>>,
    environment: Setting<String>,
    sample_rate: Setting<f32>,
    traces_sample_rate: Setting<f32>,
    error_tracking: Setting<bool>,
    performance_tracking: Setting<bool>,
    feature_usage: Setting<bool>,
    send_default_pii: Setting<bool>,
    preview: Option<Preview>,
    file_path: Option<PathBuf>,
    file_state: FileState,
    files: Vec<ConfigFile>,
    id_file: Option<PathBuf>,
    legacy_id_file: Option<PathBuf>,
    distinct_id: Option<String>,
    warnings: Vec<String>,
}

impl Config {
    /// Whether telemetry runs: the final decision, after `DO_NOT_TRACK`, a
    /// repository opt-out, an invalid config file, a DSN that does not parse, a
    /// refused `send_default_pii` and variables that are not valid UTF-8.
    pub fn enabled(&self) -> &Setting<bool> {
        &self.enabled
    }

    /// Whether this is internal usage (developers, tests, CI), sent as the
    /// `internal` tag.
    pub fn internal(&self) -> &Setting<bool> {
        &self.internal
    }

    /// Why [`internal`](Self::internal) is what it is, e.g. `CI variable CI is set`.
    #[cfg_attr(
        not(any(test, feature = "cli")),
        expect(dead_code, reason = "for the cli feature's `status`")
    )]
    pub(crate) fn internal_reason(&self) -> &str {
        &self.internal_reason
    }

    /// Whether this process runs in CI: `true` with the CI variable that says
    /// so as its [`Source::Env`], or `false` ([`Source::Detected`]). A CI
    /// variable set to `0` or `false` does not count.
    pub(crate) fn ci(&self) -> &Setting<bool> {
        &self.ci
    }

    /// The DSN to send to; only a DSN that parses, `None` if there is none.
    pub fn dsn(&self) -> &Setting<Option<String>> {
        &self.dsn
    }

    /// The DSN usage events go to, when they go to a project of their own
    /// (`usage_dsn`, `OPENADAPT_TELEMETRY_USAGE_DSN`); `None`: they go to
    /// [`dsn`](Self::dsn). A usage DSN that does not parse is `None` with its
    /// source, and turns [`feature_usage`](Self::feature_usage) off.
    pub fn usage_dsn(&self) -> &Setting<Option<String>> {
        &self.usage_dsn
    }

    /// The environment name sent with every event.
    pub fn environment(&self) -> &Setting<String> {
        &self.environment
    }

    /// The fraction of error events sent, from 0.0 to 1.0.
    pub fn sample_rate(&self) -> &Setting<f32> {
        &self.sample_rate
    }

    /// The fraction of traces (performance transactions) sent, from 0.0 to 1.0.
    pub fn traces_sample_rate(&self) -> &Setting<f32> {
        &self.traces_sample_rate
    }

    /// Whether errors are reported.
    pub fn error_tracking(&self) -> &Setting<bool> {
        &self.error_tracking
    }

    /// Whether sampled performance traces are reported.
    pub fn performance_tracking(&self) -> &Setting<bool> {
        &self.performance_tracking
    }

    /// Whether feature-usage counts are reported. Off in CI
    /// ([`Source::Ci`]) unless `OPENADAPT_TELEMETRY_IN_CI` is true, and off
    /// when the usage DSN does not parse.
    pub fn feature_usage(&self) -> &Setting<bool> {
        &self.feature_usage
    }

    /// The `send_default_pii` value as configured; `true` is refused by turning
    /// telemetry off (see [`enabled`](Self::enabled)).
    pub fn send_default_pii(&self) -> &Setting<bool> {
        &self.send_default_pii
    }

    /// Where preview output goes, if preview is on (`OPENADAPT_TELEMETRY_DEBUG`,
    /// `OPENADAPT_TELEMETRY_DEBUG_FILE`).
    pub(crate) fn preview(&self) -> Option<&Preview> {
        self.preview.as_ref()
    }

    /// The main config file: the one `OPENADAPT_TELEMETRY_CONFIG` or the
    /// builder names, else `~/.config/openadapt/telemetry.json`; `None` when no
    /// path could be determined or no file is read.
    pub(crate) fn file_path(&self) -> Option<&Path> {
        self.file_path.as_deref()
    }

    /// What happened when the main config file was read.
    #[cfg_attr(
        not(any(test, feature = "cli")),
        expect(dead_code, reason = "for the cli feature's `status`")
    )]
    pub(crate) fn file_state(&self) -> &FileState {
        &self.file_state
    }

    /// Every config file consulted, the main one first, then the
    /// `$XDG_CONFIG_HOME` one when it was read too (its keys win).
    #[cfg_attr(
        not(any(test, feature = "cli")),
        expect(dead_code, reason = "for the cli feature's `status`")
    )]
    pub(crate) fn config_files(&self) -> &[ConfigFile] {
        &self.files
    }

    /// The install id set by `OPENADAPT_TELEMETRY_DISTINCT_ID`, sent instead of
    /// the one kept in the install id file.
    pub(crate) fn distinct_id(&self) -> Option<&str> {
        self.distinct_id.as_deref()
    }

    /// The install id file, `~/.openadapt/telemetry_distinct_id`, shared with
    /// the Python packages; `None` without a home directory or a config file.
    pub(crate) fn id_file(&self) -> Option<&Path> {
        self.id_file.as_deref()
    }

    /// The crate's former id file, `anonymous_id` beside the config file
    /// (migrated to [`id_file`](Self::id_file) once).
    pub(crate) fn legacy_id_file(&self) -> Option<&Path> {
        self.legacy_id_file.as_deref()
    }

    /// Problems found, one line each, ready for stderr, each starting
    /// `openadapt-telemetry: `. Empty when the user opted out (`DO_NOT_TRACK`,
    /// `enabled` false, a repository opt-out): settings that are not used are
    /// not complained about.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Why the config file could not be changed: the error of [`Config::write_enabled`].
#[cfg(any(test, feature = "cli"))]
#[derive(Debug)]
pub(crate) struct ConfigError {
    path: PathBuf,
    kind: ConfigErrorKind,
    source: Option<std::io::Error>,
}

/// What went wrong in a [`ConfigError`].
#[cfg(any(test, feature = "cli"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigErrorKind {
    /// The file exists but cannot be read, or is not a JSON object; the string
    /// is a one-line reason. The file was left unchanged
    /// ([`IfInvalid::Replace`] replaces it).
    Invalid(String),
    /// The path is a directory; nothing was changed.
    IsDirectory,
    /// The path is not a regular file (a FIFO, a device, a socket: the string
    /// says which); nothing was changed, even with [`IfInvalid::Replace`].
    NotRegularFile(String),
    /// The path is a symbolic link to this path, where nothing is: nothing
    /// was changed (a file is never created through a dangling link).
    DanglingLink(PathBuf),
    /// Creating the folder or writing the file failed; the I/O error is the
    /// [`source`](std::error::Error::source).
    Write,
}

#[cfg(any(test, feature = "cli"))]
impl ConfigError {
    /// What went wrong.
    pub(crate) fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }
}

#[cfg(any(test, feature = "cli"))]
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            ConfigErrorKind::Invalid(reason) => {
                write!(f, "cannot update config file {path}: {reason}")
            }
            ConfigErrorKind::IsDirectory => write!(f, "config file {path} is a directory"),
            ConfigErrorKind::NotRegularFile(kind) => {
                write!(f, "config file {path} is {kind}, not a regular file")
            }
            ConfigErrorKind::DanglingLink(target) => write!(
                f,
                "config file {path} is a symbolic link to {}, which does not exist: create that file, or remove the link",
                target.display()
            ),
            ConfigErrorKind::Write => write!(f, "cannot write config file {path}"),
        }
    }
}

#[cfg(any(test, feature = "cli"))]
impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use env::{DO_NOT_TRACK, DSN};

    #[test]
    fn source_display() {
        let cases = [
            (Source::Default, "default"),
            (Source::Builder, "builder (package default)"),
            (
                Source::File(PathBuf::from("/p/t.json")),
                "config file /p/t.json",
            ),
            (
                Source::Env(DSN),
                "environment variable OPENADAPT_TELEMETRY_DSN",
            ),
            (Source::DoNotTrack, "DO_NOT_TRACK"),
            (Source::Detected, "detected"),
            (
                Source::Ci("GITHUB_ACTIONS"),
                "CI (GITHUB_ACTIONS is set; OPENADAPT_TELEMETRY_IN_CI=true sends usage events there)",
            ),
            (
                Source::Manifest {
                    path: PathBuf::from("/r/pyproject.toml"),
                    table: "[tool.openadapt]",
                    value: "false".to_owned(),
                },
                "repository opt-out [tool.openadapt] telemetry = false in /r/pyproject.toml",
            ),
            (
                Source::NotUtf8(DO_NOT_TRACK),
                "environment variable DO_NOT_TRACK (not valid UTF-8)",
            ),
        ];
        for (source, text) in cases {
            assert_eq!(source.to_string(), text);
        }
    }
}
