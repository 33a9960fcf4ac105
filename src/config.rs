//! Configuration with provenance: crate defaults < builder (package defaults) <
//! config file < environment, and the opt-outs above everything.
//!
//! Resolution is a pure function, [`resolve`], over an injected environment lookup,
//! a [`FileChoice`], the [`Overrides`] a package set on its builder and the
//! process [`Signals`] (the working directory, the build), so tests need neither
//! `std::env::set_var` nor the real home directory. It never fails and never
//! panics: a bad value costs that value (or, for a file, a DSN, `enabled` and
//! `send_default_pii`, costs telemetry itself) plus one warning line.
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

mod manifest;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use crate::fs::{self, CONFIG_LIMIT, ReadError};
use crate::internal::{self, Signals, var};

const PREFIX: &str = "openadapt-telemetry: ";

const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
const ENABLED: &str = "OPENADAPT_TELEMETRY_ENABLED";
const DSN: &str = "OPENADAPT_TELEMETRY_DSN";
const USAGE_DSN: &str = "OPENADAPT_TELEMETRY_USAGE_DSN";
const ENVIRONMENT: &str = "OPENADAPT_TELEMETRY_ENVIRONMENT";
const SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_SAMPLE_RATE";
const TRACES_SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE";
const CONFIG: &str = "OPENADAPT_TELEMETRY_CONFIG";
const DEBUG: &str = "OPENADAPT_TELEMETRY_DEBUG";
const DEBUG_FILE: &str = "OPENADAPT_TELEMETRY_DEBUG_FILE";
const IN_CI: &str = "OPENADAPT_TELEMETRY_IN_CI";
const DISTINCT_ID: &str = "OPENADAPT_TELEMETRY_DISTINCT_ID";
const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
const HOME: &str = "HOME";

/// Variables that decide whether telemetry runs, where it writes or which
/// files say so: one that is not valid UTF-8 turns telemetry off, since what
/// it says cannot be known.
const FAIL_CLOSED_VARIABLES: [&str; 7] = [
    DO_NOT_TRACK,
    ENABLED,
    CONFIG,
    XDG_CONFIG_HOME,
    HOME,
    DEBUG,
    DEBUG_FILE,
];

const DEFAULT_ENVIRONMENT: &str = "production";
const DEFAULT_SAMPLE_RATE: f32 = 1.0;
const DEFAULT_TRACES_SAMPLE_RATE: f32 = 0.01;

/// The config file's place under the config folder (`~/.config`, `$XDG_CONFIG_HOME`).
const RELATIVE: [&str; 2] = ["openadapt", "telemetry.json"];
/// The install id file, under the home directory: the Python package's.
const ID_FILE: [&str; 2] = [".openadapt", "telemetry_distinct_id"];
/// The crate's former id file, beside the config file.
const LEGACY_ID_FILE: &str = "anonymous_id";

/// The variable `name` of the process environment, trimmed of nothing; a
/// value that is not valid UTF-8 is returned with U+FFFD in place of each bad
/// sequence, so that it is seen as set, and unreadable (see [`not_utf8`]).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| match value.into_string() {
        Ok(text) => text,
        Err(raw) => raw.to_string_lossy().into_owned(),
    })
}

/// Whether a variable's text stands for a value that was not valid UTF-8.
fn not_utf8(text: &str) -> bool {
    text.contains(char::REPLACEMENT_CHARACTER)
}

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

/// An effective value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    value: T,
    source: Source,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }

    /// The effective value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Where the effective value came from.
    pub fn source(&self) -> &Source {
        &self.source
    }
}

/// Where preview output goes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Print what would be sent to standard error (`OPENADAPT_TELEMETRY_DEBUG=true`).
    Stderr,
    /// Append what would be sent to this file (`OPENADAPT_TELEMETRY_DEBUG_FILE`).
    File(PathBuf),
}

/// State of a config file.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
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
pub struct ConfigFile {
    path: PathBuf,
    state: FileState,
}

impl ConfigFile {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What happened when it was read.
    pub fn state(&self) -> &FileState {
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
    /// Resolve from the real process environment, the default config file
    /// locations and the working directory, with no package defaults.
    pub fn load() -> Self {
        resolve(
            &process_env,
            &FileChoice::Locate,
            &Overrides::default(),
            Signals::detect(),
        )
    }

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
    pub fn internal_reason(&self) -> &str {
        &self.internal_reason
    }

    /// Whether this process runs in CI: `true` with the CI variable that says
    /// so as its [`Source::Env`], or `false` ([`Source::Detected`]). A CI
    /// variable set to `0` or `false` does not count.
    pub fn ci(&self) -> &Setting<bool> {
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
    pub fn preview(&self) -> Option<&Preview> {
        self.preview.as_ref()
    }

    /// The main config file: the one `OPENADAPT_TELEMETRY_CONFIG` or the
    /// builder names, else `~/.config/openadapt/telemetry.json`; `None` when no
    /// path could be determined or no file is read.
    pub fn file_path(&self) -> Option<&Path> {
        self.file_path.as_deref()
    }

    /// What happened when the main config file was read.
    pub fn file_state(&self) -> &FileState {
        &self.file_state
    }

    /// Every config file consulted, the main one first, then the
    /// `$XDG_CONFIG_HOME` one when it was read too (its keys win).
    pub fn config_files(&self) -> &[ConfigFile] {
        &self.files
    }

    /// The install id set by `OPENADAPT_TELEMETRY_DISTINCT_ID`, sent instead of
    /// the one kept in the install id file.
    pub fn distinct_id(&self) -> Option<&str> {
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
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Values a package sets on its builder (its defaults, below file and environment).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) enabled: Option<bool>,
    pub(crate) internal: Option<bool>,
    pub(crate) dsn: Option<String>,
    pub(crate) usage_dsn: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) sample_rate: Option<f32>,
    pub(crate) traces_sample_rate: Option<f32>,
    pub(crate) error_tracking: Option<bool>,
    pub(crate) performance_tracking: Option<bool>,
    pub(crate) feature_usage: Option<bool>,
    pub(crate) send_default_pii: Option<bool>,
}

/// Which config file to read.
#[derive(Debug, Clone)]
pub(crate) enum FileChoice {
    /// `OPENADAPT_TELEMETRY_CONFIG`, else the shared file and the XDG one (see
    /// [`locate`]).
    Locate,
    /// This file.
    Path(PathBuf),
    /// This text, as if read from this path (for tests).
    #[cfg(test)]
    Contents { path: PathBuf, text: String },
    /// No file.
    None,
}

/// The config files' top-level objects, as parsed by [`parse_file`], the one
/// whose keys win first.
#[derive(Debug, Clone)]
pub(crate) struct FileValues {
    layers: Vec<(PathBuf, serde_json::Map<String, Value>)>,
}

/// A value with no null or blank string: set.
fn is_set(value: &Value) -> bool {
    !value.is_null() && !value.as_str().is_some_and(|s| s.trim().is_empty())
}

impl FileValues {
    /// The value of `key` and the file it comes from; `None` when absent,
    /// `null` or a blank string in every file.
    fn get(&self, key: &str) -> Option<(&Value, &Path)> {
        self.layers.iter().find_map(|(path, object)| {
            object
                .get(key)
                .filter(|value| is_set(value))
                .map(|value| (value, path.as_path()))
        })
    }

    /// `"enabled": false` in any file (an opt-out in either wins), else the
    /// `enabled` of the file whose keys win.
    fn enabled(&self) -> Option<(&Value, &Path)> {
        self.layers
            .iter()
            .find_map(|(path, object)| {
                (object.get("enabled") == Some(&Value::Bool(false)))
                    .then_some((&Value::Bool(false), path.as_path()))
            })
            .or_else(|| self.get("enabled"))
    }
}

/// The three bare words Python's `json.dump` writes for floats that JSON has
/// no number for, and the string each is read as (a NUL no real value holds).
const NON_FINITE: [(&str, &str); 3] = [
    ("-Infinity", "\u{0}-Infinity"),
    ("Infinity", "\u{0}Infinity"),
    ("NaN", "\u{0}NaN"),
];

/// `text` with every bare `NaN`, `Infinity` and `-Infinity` outside strings
/// replaced by a JSON string holding its marker (see [`NON_FINITE`]).
fn mark_non_finite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match c {
                '\\' => {
                    let n = rest.chars().take(2).map(char::len_utf8).sum();
                    out.push_str(&rest[..n]);
                    rest = &rest[n..];
                    continue;
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some((word, marker)) = NON_FINITE.iter().find(|(word, _)| {
            rest.starts_with(word)
                && !rest[word.len()..]
                    .chars()
                    .next()
                    .is_some_and(|next| next.is_ascii_alphanumeric() || next == '_')
        }) {
            out.push_str(&serde_json::Value::from(*marker).to_string());
            rest = &rest[word.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The bare word a marker stands for, if `value` is one.
fn non_finite(value: &Value) -> Option<&'static str> {
    let text = value.as_str()?;
    NON_FINITE
        .iter()
        .find(|(_, marker)| *marker == text)
        .map(|(word, _)| *word)
}

/// `value` as JSON text, markers written back as their bare words, as Python
/// wrote them.
fn json_text(value: &Value) -> String {
    match non_finite(value) {
        Some(word) => word.to_owned(),
        None => value.to_string(),
    }
}

/// `text` (serialised JSON) with every marker string written back as its bare
/// word, so a file rewritten by `enable`/`disable` keeps Python's `NaN`.
fn unmark_non_finite(text: &str) -> String {
    let mut out = text.to_owned();
    for (word, marker) in NON_FINITE {
        let quoted = Value::from(marker).to_string();
        out = out.replace(&quoted, word);
    }
    out
}

/// Parse a config file's text; the error is a one-line reason.
pub(crate) fn parse_file(text: &str) -> Result<serde_json::Map<String, Value>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let marked = mark_non_finite(text);
    match serde_json::from_str::<Value>(&marked).map_err(|e| e.to_string())? {
        Value::Object(object) => Ok(object),
        other => Err(format!(
            "expected a JSON object, found {}",
            json_kind(&other)
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The home directory: `HOME` from `env` if absolute, else (when `fallback`)
/// the operating system's idea of it ([`dirs::home_dir`]).
fn home_dir(env: &dyn Fn(&str) -> Option<String>, fallback: bool) -> Option<PathBuf> {
    var(env, HOME)
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
        .or_else(|| fallback.then(dirs::home_dir).flatten())
}

/// The config files found by [`FileChoice::Locate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The main file: `OPENADAPT_TELEMETRY_CONFIG`, else the shared file.
    pub(crate) main: PathBuf,
    /// `$XDG_CONFIG_HOME/openadapt/telemetry.json`, when it is another file
    /// than the main one (read only if it exists).
    pub(crate) xdg: Option<PathBuf>,
    /// The main file is named by `OPENADAPT_TELEMETRY_CONFIG`.
    pub(crate) named: bool,
}

/// The config files to read when none is named by the builder:
/// `OPENADAPT_TELEMETRY_CONFIG` alone, else `$HOME/.config/openadapt/telemetry.json`
/// (`HOME` from `env`, else [`dirs::home_dir`]), the file the Python packages
/// use, and `$XDG_CONFIG_HOME/openadapt/telemetry.json` (only if absolute, and
/// another file). Without a home directory, the XDG file is the main one.
pub(crate) fn locate(env: &dyn Fn(&str) -> Option<String>) -> Option<Located> {
    if let Some(path) = var(env, CONFIG) {
        return Some(Located {
            main: PathBuf::from(path),
            xdg: None,
            named: true,
        });
    }
    let xdg = var(env, XDG_CONFIG_HOME)
        .map(PathBuf::from)
        .filter(|xdg| xdg.is_absolute())
        .map(|xdg| RELATIVE.iter().fold(xdg, |p, part| p.join(part)));
    let shared = home_dir(env, true).map(|home| {
        RELATIVE
            .iter()
            .fold(home.join(".config"), |p, part| p.join(part))
    });
    match (shared, xdg) {
        (Some(main), xdg) => Some(Located {
            xdg: xdg.filter(|xdg| *xdg != main),
            main,
            named: false,
        }),
        (None, Some(main)) => Some(Located {
            main,
            xdg: None,
            named: false,
        }),
        (None, None) => None,
    }
}

/// A boolean as written in a variable: true/1/yes/on or false/0/no/off, any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "yes", "on"];
    const FALSE: [&str; 4] = ["false", "0", "no", "off"];
    let text = text.trim();
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// A DSN with its key (the user-info before `@`) replaced by `***`, for messages.
fn mask_dsn(dsn: &str) -> String {
    let start = dsn.find("://").map_or(0, |i| i + 3);
    let end = dsn[start..]
        .find(['/', '?', '#'])
        .map_or(dsn.len(), |i| start + i);
    match dsn[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &dsn[..start], &dsn[start + at..]),
        None => dsn.to_owned(),
    }
}

/// A value shown in a message, cut to one reasonable line.
fn clip(text: String) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A type a setting can have: how it is read from each source and shown.
trait Kind: Sized {
    /// Read a variable's (trimmed, non-empty) text; the error says what was expected.
    fn from_text(text: &str) -> Result<Self, String>;
    /// Read a config file value (never `null`).
    fn from_json(value: &Value) -> Result<Self, String>;
    /// Check a builder value.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Show a valid or builder value in a message.
    fn show(&self) -> String;
    /// Show a variable's text in a message.
    fn show_text(text: &str) -> String {
        clip(format!("{text:?}"))
    }
    /// Show a config file value in a message.
    fn show_json(value: &Value) -> String {
        clip(json_text(value))
    }
}
const BOOL_EXPECTED: &str = "expected true/false, 1/0, yes/no or on/off";

impl Kind for bool {
    fn from_text(text: &str) -> Result<Self, String> {
        parse_bool(text).ok_or_else(|| BOOL_EXPECTED.to_owned())
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| "expected true or false".to_owned())
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// Sample rates: a number from 0.0 to 1.0.
impl Kind for f32 {
    fn from_text(text: &str) -> Result<Self, String> {
        let rate = text.parse::<f32>().map_err(|_| RATE_EXPECTED.to_owned())?;
        rate.check().map(|()| rate)
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        match value.as_f64() {
            Some(rate) if (0.0..=1.0).contains(&rate) => Ok(rate as f32),
            _ => Err(RATE_EXPECTED.to_owned()),
        }
    }
    fn check(&self) -> Result<(), String> {
        if (0.0..=1.0).contains(self) {
            Ok(())
        } else {
            Err(RATE_EXPECTED.to_owned())
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

const RATE_EXPECTED: &str = "expected a number from 0.0 to 1.0";

impl Kind for String {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_str()
            .filter(|_| non_finite(value).is_none())
            .map(|s| s.trim().to_owned())
            .ok_or_else(|| "expected a string".to_owned())
    }
    fn show(&self) -> String {
        clip(format!("{self:?}"))
    }
}

/// A DSN's text, valid when `sentry::types::Dsn` parses it; shown with its key masked.
struct DsnText(String);

const DSN_EXPECTED: &str = "expected a DSN like https://KEY@HOST/PROJECT_ID";

impl DsnText {
    fn parse(text: &str) -> Result<Self, String> {
        match sentry::types::Dsn::from_str(text) {
            Ok(_) => Ok(Self(text.to_owned())),
            Err(e) => Err(format!("{DSN_EXPECTED} ({e})")),
        }
    }
}

impl Kind for DsnText {
    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_str()
            .ok_or_else(|| DSN_EXPECTED.to_owned())
            .and_then(|s| Self::parse(s.trim()))
    }
    fn check(&self) -> Result<(), String> {
        Self::parse(&self.0).map(|_| ())
    }
    fn show(&self) -> String {
        Self::show_text(&self.0)
    }
    fn show_text(text: &str) -> String {
        clip(format!("{:?}", mask_dsn(text)))
    }
    fn show_json(value: &Value) -> String {
        match value.as_str().filter(|_| non_finite(value).is_none()) {
            Some(s) => Self::show_text(s),
            None => clip(json_text(value)),
        }
    }
}

/// One value offered by one source, read: valid, or bad with the problem
/// (`invalid … : expected …`).
type Offer<T> = Result<Setting<T>, (Source, String)>;

/// What the first source offering a value for a key made of it.
enum Outcome<T> {
    /// The value is valid.
    Valid(Setting<T>),
    /// The value is bad (already reported); it came from this source.
    Bad(Source),
    /// No source offered a value.
    Unset,
}

/// The sources being resolved, and the warnings found so far.
struct Resolver<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: Option<&'a FileValues>,
    warnings: Vec<String>,
}

impl Resolver<'_> {
    fn warn(&mut self, line: String) {
        self.warnings.push(format!("{PREFIX}{line}"));
    }

    /// The values offered for `key`, highest priority first, each already read:
    /// the variables `vars` in order, then the file, then the builder.
    fn offers<T: Kind>(
        &self,
        key: &str,
        vars: &[&'static str],
        builder: Option<T>,
    ) -> Vec<Offer<T>> {
        let mut offers = Vec::new();
        for &name in vars {
            if let Some(text) = var(self.env, name) {
                offers.push(match T::from_text(&text) {
                    Ok(value) => Ok(Setting::new(value, Source::Env(name))),
                    Err(why) => Err((
                        Source::Env(name),
                        format!("invalid {name} {}: {why}", T::show_text(&text)),
                    )),
                });
            }
        }
        let found = self.file.and_then(|file| match key {
            "enabled" => file.enabled(),
            _ => file.get(key),
        });
        if let Some((json, path)) = found {
            let source = Source::File(path.to_owned());
            offers.push(match T::from_json(json) {
                Ok(value) => Ok(Setting::new(value, source)),
                Err(why) => Err((
                    source,
                    format!(
                        "invalid \"{key}\" in config file {}: {}: {why}",
                        path.display(),
                        T::show_json(json)
                    ),
                )),
            });
        }
        if let Some(value) = builder {
            offers.push(match value.check() {
                Ok(()) => Ok(Setting::new(value, Source::Builder)),
                Err(why) => Err((
                    Source::Builder,
                    format!("invalid builder value {key} {}: {why}", value.show()),
                )),
            });
        }
        offers
    }

    /// The first valid value offered for `key`, else `default`; each bad value
    /// above it is reported with the value used instead.
    fn pick<T: Kind>(
        &mut self,
        key: &str,
        vars: &[&'static str],
        builder: Option<T>,
        default: Setting<T>,
    ) -> Setting<T> {
        let mut problems = Vec::new();
        let mut chosen = None;
        for offer in self.offers(key, vars, builder) {
            match offer {
                Ok(setting) => {
                    chosen = Some(setting);
                    break;
                }
                Err((_, problem)) => problems.push(problem),
            }
        }
        let setting = chosen.unwrap_or(default);
        for problem in problems {
            self.warn(format!("{problem}; using {}", setting.value.show()));
        }
        setting
    }

    /// The first value offered for `key`, fail-closed: a bad one is reported with
    /// its consequence (`telemetry is off`) and returned as [`Outcome::Bad`].
    fn first<T: Kind>(
        &mut self,
        key: &str,
        vars: &[&'static str],
        builder: Option<T>,
        consequence: &str,
    ) -> Outcome<T> {
        match self.offers(key, vars, builder).into_iter().next() {
            Some(Ok(setting)) => Outcome::Valid(setting),
            Some(Err((source, problem))) => {
                self.warn(format!("{problem}; {consequence}"));
                Outcome::Bad(source)
            }
            None => Outcome::Unset,
        }
    }

    /// A boolean variable that switches something on; a bad value is
    /// reported with what happens instead, and reads as false.
    fn switch(&mut self, name: &str, otherwise: &str) -> bool {
        let Some(text) = var(self.env, name) else {
            return false;
        };
        match parse_bool(&text) {
            Some(on) => on,
            None => {
                self.warn(format!(
                    "invalid {name} {}: {BOOL_EXPECTED}; {otherwise}",
                    bool::show_text(&text)
                ));
                false
            }
        }
    }
}

/// What reading the config files found.
#[derive(Debug)]
struct FilesRead {
    /// The main file.
    main: Option<PathBuf>,
    /// Its state.
    state: FileState,
    /// Every file consulted, the main one first.
    files: Vec<ConfigFile>,
    /// The values of the files that loaded.
    values: Option<FileValues>,
    /// The first file that is invalid (telemetry is then off).
    invalid: Option<PathBuf>,
    /// The folder of the crate's former id file.
    legacy_dir: Option<PathBuf>,
    /// Problems, one line each, with the prefix.
    warnings: Vec<String>,
}

impl FilesRead {
    /// No file read.
    fn none() -> Self {
        Self {
            main: None,
            state: FileState::NotUsed,
            files: Vec::new(),
            values: None,
            invalid: None,
            legacy_dir: None,
            warnings: Vec::new(),
        }
    }
}

/// Read the config files chosen.
fn read_files(env: &dyn Fn(&str) -> Option<String>, choice: &FileChoice) -> FilesRead {
    #[cfg(test)]
    let mut given: Option<&str> = None;
    let (main, xdg, named) = match choice {
        FileChoice::None => return FilesRead::none(),
        #[cfg(test)]
        FileChoice::Contents { path, text } => {
            given = Some(text);
            (path.clone(), None, false)
        }
        FileChoice::Path(path) => (path.clone(), None, false),
        FileChoice::Locate => match locate(env) {
            Some(located) => (located.main, located.xdg, located.named),
            None => return FilesRead::none(),
        },
    };
    let mut out = FilesRead {
        legacy_dir: xdg.as_deref().unwrap_or(&main).parent().map(Path::to_owned),
        ..FilesRead::none()
    };
    let mut layers = Vec::new();
    let mut read = |path: &Path, is_main: bool, out: &mut FilesRead| {
        #[cfg(test)]
        let text = match given.take() {
            Some(text) => Ok(Some(text.to_owned())),
            None => fs::read_text(path, CONFIG_LIMIT),
        };
        #[cfg(not(test))]
        let text = fs::read_text(path, CONFIG_LIMIT);
        let state = match text.map_err(|e| e.to_string()).and_then(|text| match text {
            Some(text) => parse_file(&text).map(Some),
            None => Ok(None),
        }) {
            Ok(Some(object)) => {
                layers.insert(0, (path.to_owned(), object));
                FileState::Loaded
            }
            Ok(None) => {
                if !is_main {
                    return;
                }
                if named {
                    out.warnings.push(format!(
                        "{PREFIX}config file {} named by {CONFIG} does not exist",
                        path.display()
                    ));
                }
                FileState::NotFound
            }
            Err(reason) => {
                out.warnings.push(format!(
                    "{PREFIX}invalid config file {}: {reason}; telemetry is off",
                    path.display()
                ));
                out.invalid.get_or_insert_with(|| path.to_owned());
                FileState::Invalid(reason)
            }
        };
        out.files.push(ConfigFile {
            path: path.to_owned(),
            state,
        });
    };
    read(&main, true, &mut out);
    if let Some(xdg) = &xdg {
        read(xdg, false, &mut out);
    }
    out.state = out
        .files
        .first()
        .map_or(FileState::NotUsed, |file| file.state.clone());
    out.main = Some(main);
    out.values = (!layers.is_empty()).then_some(FileValues { layers });
    out
}

/// Whether `text` can be an install id: 1 to 128 visible ASCII characters.
fn valid_distinct_id(text: &str) -> bool {
    text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Resolve `internal`: the explicit variables, `"internal": true` from the
/// file or the builder, then the heuristics (see [`internal`]). Returns the
/// setting and the reason `status` shows.
fn resolve_internal(
    r: &mut Resolver<'_>,
    builder: &Overrides,
    signals: &Signals,
) -> (Setting<bool>, String) {
    let env = r.env;
    let from_git = r.switch(internal::FROM_GIT, "a .git does not make the run internal");
    let mut problems = Vec::new();
    let mut chosen = None;
    for offer in r.offers::<bool>("internal", &internal::EXPLICIT_VARIABLES, builder.internal) {
        match offer {
            // `false` is the default, except from OPENADAPT_INTERNAL
            Ok(setting) if setting.value || setting.source == Source::Env(internal::INTERNAL) => {
                let reason = match &setting.source {
                    Source::Env(name) => {
                        let text = var(env, name).unwrap_or_default();
                        if setting.value {
                            format!("{name}={text}")
                        } else {
                            format!("{name}={text} (overrides detection)")
                        }
                    }
                    Source::File(path) => {
                        format!("\"internal\": true in config file {}", path.display())
                    }
                    source => format!("\"internal\": true from {source}"),
                };
                chosen = Some((setting, reason));
                break;
            }
            Ok(_) => {}
            Err((_, problem)) => problems.push(problem),
        }
    }
    let (setting, reason) = chosen.unwrap_or_else(|| {
        let (detected, reason) = internal::detect(env, signals, from_git);
        (Setting::new(detected, Source::Detected), reason)
    });
    for problem in problems {
        r.warn(format!("{problem}; using {}", setting.value));
    }
    (setting, reason)
}

/// Resolve the configuration from the environment, the config files, the
/// builder values and the process signals (internal detection, the
/// repository opt-out).
pub(crate) fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileChoice,
    builder: &Overrides,
    signals: Signals,
) -> Config {
    let unreadable: Vec<&'static str> = FAIL_CLOSED_VARIABLES
        .into_iter()
        .filter(|name| env(name).is_some_and(|value| not_utf8(&value)))
        .collect();
    let files = read_files(env, file);
    let mut r = Resolver {
        env,
        file: files.values.as_ref(),
        warnings: files.warnings.clone(),
    };

    let do_not_track = var(env, DO_NOT_TRACK).is_some_and(|v| parse_bool(&v) != Some(false));
    // `wanted` is what the user or package asked for; `said_no` when that is a
    // valid "no" (a bad `enabled` value is off too, but reported).
    let (wanted, said_no) =
        match r.first("enabled", &[ENABLED], builder.enabled, "telemetry is off") {
            Outcome::Valid(setting) => {
                let no = !setting.value;
                (setting, no)
            }
            Outcome::Bad(source) => (Setting::new(false, source), false),
            Outcome::Unset => (Setting::new(true, Source::Default), false),
        };
    let home = home_dir(env, true);
    let mut found_warnings = Vec::new();
    let repository = signals
        .cwd
        .as_deref()
        .and_then(|cwd| manifest::find(cwd, home.as_deref(), &mut found_warnings))
        .filter(|found| found.off);
    for line in found_warnings {
        r.warn(line);
    }
    let opted_out = do_not_track || said_no || repository.is_some();

    let (internal, internal_reason) = resolve_internal(&mut r, builder, &signals);
    let ci = match internal::ci_variable(env) {
        Some(name) => Setting::new(true, Source::Env(name)),
        None => Setting::new(false, Source::Detected),
    };

    let (dsn, bad_dsn) = match r.first(
        "dsn",
        &[DSN],
        builder.dsn.clone().map(DsnText),
        "telemetry is off",
    ) {
        Outcome::Valid(setting) => (Setting::new(Some(setting.value.0), setting.source), None),
        Outcome::Bad(source) => (Setting::new(None, source.clone()), Some(source)),
        Outcome::Unset => (Setting::new(None, Source::Default), None),
    };
    let (usage_dsn, bad_usage_dsn) = match r.first(
        "usage_dsn",
        &[USAGE_DSN],
        builder.usage_dsn.clone().map(DsnText),
        "usage events are off",
    ) {
        Outcome::Valid(setting) => (Setting::new(Some(setting.value.0), setting.source), None),
        Outcome::Bad(source) => (Setting::new(None, source.clone()), Some(source)),
        Outcome::Unset => (Setting::new(None, Source::Default), None),
    };
    let environment = r.pick(
        "environment",
        &[ENVIRONMENT],
        builder.environment.clone().filter(|e| !e.trim().is_empty()),
        Setting::new(DEFAULT_ENVIRONMENT.to_owned(), Source::Default),
    );
    let sample_rate = r.pick(
        "sample_rate",
        &[SAMPLE_RATE],
        builder.sample_rate,
        Setting::new(DEFAULT_SAMPLE_RATE, Source::Default),
    );
    let traces_sample_rate = r.pick(
        "traces_sample_rate",
        &[TRACES_SAMPLE_RATE],
        builder.traces_sample_rate,
        Setting::new(DEFAULT_TRACES_SAMPLE_RATE, Source::Default),
    );
    let error_tracking = r.pick(
        "error_tracking",
        &[],
        builder.error_tracking,
        Setting::new(true, Source::Default),
    );
    let performance_tracking = r.pick(
        "performance_tracking",
        &[],
        builder.performance_tracking,
        Setting::new(true, Source::Default),
    );
    let mut feature_usage = r.pick(
        "feature_usage",
        &[],
        builder.feature_usage,
        Setting::new(true, Source::Default),
    );
    let usage_in_ci = r.switch(IN_CI, "usage events are not sent in CI");
    if feature_usage.value {
        if let Some(source) = bad_usage_dsn {
            feature_usage = Setting::new(false, source);
        } else if let (true, Source::Env(name)) = (ci.value, &ci.source)
            && !usage_in_ci
        {
            feature_usage = Setting::new(false, Source::Ci(name));
        }
    }
    let send_default_pii = r.pick(
        "send_default_pii",
        &[],
        builder.send_default_pii,
        Setting::new(false, Source::Default),
    );
    if send_default_pii.value {
        r.warn(format!(
            "send_default_pii is true ({}): sending personal data is refused; telemetry is off",
            send_default_pii.source
        ));
    }

    let preview = match (var(env, DEBUG_FILE), var(env, DEBUG)) {
        (Some(path), _) => Some(Preview::File(PathBuf::from(path))),
        (None, Some(text)) => match parse_bool(&text) {
            Some(on) => on.then_some(Preview::Stderr),
            None => {
                r.warn(format!(
                    "invalid {DEBUG} {}: {BOOL_EXPECTED}; preview is off",
                    bool::show_text(&text)
                ));
                None
            }
        },
        (None, None) => None,
    };

    let distinct_id = match var(env, DISTINCT_ID) {
        Some(text) if valid_distinct_id(&text) => Some(text),
        Some(text) => {
            r.warn(format!(
                "invalid {DISTINCT_ID} {}: expected at most 128 letters, digits or punctuation; using the install id file",
                String::show_text(&text)
            ));
            None
        }
        None => None,
    };
    let id_home = match file {
        FileChoice::None => None,
        FileChoice::Locate => home,
        _ => home_dir(env, false),
    };
    let id_file = id_home.map(|home| ID_FILE.iter().fold(home, |p, part| p.join(part)));

    let enabled = if let Some(name) = unreadable.first() {
        Setting::new(false, Source::NotUtf8(name))
    } else if do_not_track {
        Setting::new(false, Source::DoNotTrack)
    } else if !wanted.value {
        wanted
    } else if let Some(found) = repository {
        Setting::new(
            false,
            Source::Manifest {
                path: found.path,
                table: found.table,
                value: found.value.unwrap_or_default(),
            },
        )
    } else if let Some(path) = &files.invalid {
        Setting::new(false, Source::File(path.clone()))
    } else if let Some(source) = bad_dsn {
        Setting::new(false, source)
    } else if send_default_pii.value {
        Setting::new(false, send_default_pii.source.clone())
    } else {
        wanted
    };

    let mut warnings = r.warnings;
    if !unreadable.is_empty() {
        warnings = unreadable
            .iter()
            .map(|name| {
                format!("{PREFIX}environment variable {name} is not valid UTF-8; telemetry is off")
            })
            .collect();
    } else if opted_out {
        warnings.clear();
    }
    Config {
        enabled,
        internal,
        internal_reason,
        ci,
        dsn,
        usage_dsn,
        environment,
        sample_rate,
        traces_sample_rate,
        error_tracking,
        performance_tracking,
        feature_usage,
        send_default_pii,
        preview,
        file_path: files.main,
        file_state: files.state,
        files: files.files,
        id_file,
        legacy_id_file: files.legacy_dir.map(|dir| dir.join(LEGACY_ID_FILE)),
        distinct_id,
        warnings,
    }
}

// ---------------------------------------------------------------------------
// Writing the file (`openadapt-telemetry enable` / `disable`)

/// Why the config file could not be changed: the error of [`Config::write_enabled`].
#[derive(Debug)]
pub struct ConfigError {
    path: PathBuf,
    kind: ConfigErrorKind,
    source: Option<std::io::Error>,
}

/// What went wrong in a [`ConfigError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file exists but cannot be read, or is not a JSON object; the string
    /// is a one-line reason. The file was left unchanged (pass `force` to
    /// replace it).
    Invalid(String),
    /// The path is a directory; nothing was changed.
    IsDirectory,
    /// The path is not a regular file (a FIFO, a device, a socket: the string
    /// says which); nothing was changed, even with `force`.
    NotRegularFile(String),
    /// The path is a symbolic link to this path, where nothing is: nothing
    /// was changed (a file is never created through a dangling link).
    DanglingLink(PathBuf),
    /// Creating the folder or writing the file failed; the I/O error is the
    /// [`source`](std::error::Error::source).
    Write,
}

impl ConfigError {
    /// What went wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }

    /// The config file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

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

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Config {
    /// Sets `"enabled"` in the config file at `path`, as `openadapt-telemetry
    /// enable`/`disable` do, keeping every other key (unknown ones, and the
    /// bare `NaN` Python writes, too).
    ///
    /// The file is rewritten atomically: the new text goes to a temporary file
    /// in the same folder, which then replaces the old one, so a reader never
    /// sees half a file. The folder is created if needed (`0700`); a new file
    /// is `0600`, an existing file keeps its permissions. A symbolic link is
    /// followed (its target is rewritten, the link stays); a link to nothing is
    /// refused ([`ConfigErrorKind::DanglingLink`]): no file is ever created
    /// through a link. Nothing is written when the file already says so.
    ///
    /// A file that cannot be read or is not a JSON object is left alone, unless
    /// `force` is true: then it is replaced by `{"enabled": …}`. A directory,
    /// a FIFO, a device or a socket is never replaced.
    ///
    /// ```
    /// use openadapt_telemetry::Config;
    ///
    /// let dir = std::env::temp_dir().join(format!("openadapt-doc-{}", std::process::id()));
    /// let path = dir.join("telemetry.json");
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(&path, r#"{"environment": "dev", "future_key": [1]}"#)?;
    /// Config::write_enabled(&path, false, false)?;
    /// let text = std::fs::read_to_string(&path)?;
    /// assert!(text.contains(r#""enabled": false"#) && text.contains("future_key"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_enabled(path: &Path, enabled: bool, force: bool) -> Result<(), ConfigError> {
        let error = |kind, source| ConfigError {
            path: path.to_owned(),
            kind,
            source,
        };
        // Write through a symbolic link (a dotfiles manager's, say), not over it.
        let target = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::canonicalize(path) {
                Ok(target) => target,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let to = std::fs::read_link(path).unwrap_or_else(|_| path.to_owned());
                    return Err(error(ConfigErrorKind::DanglingLink(to), None));
                }
                Err(e) => return Err(error(ConfigErrorKind::Write, Some(e))),
            },
            _ => path.to_owned(),
        };
        let parsed = match fs::read_text(&target, CONFIG_LIMIT) {
            Ok(None) => Ok(serde_json::Map::new()),
            Ok(Some(text)) => parse_file(&text),
            Err(ReadError::Directory) => return Err(error(ConfigErrorKind::IsDirectory, None)),
            Err(ReadError::NotRegular(kind)) => {
                return Err(error(
                    ConfigErrorKind::NotRegularFile(kind.to_owned()),
                    None,
                ));
            }
            Err(e) => Err(e.to_string()),
        };
        let mut object = match parsed {
            Ok(object) => {
                if object.get("enabled") == Some(&Value::Bool(enabled)) {
                    return Ok(());
                }
                object
            }
            Err(_) if force => serde_json::Map::new(),
            Err(reason) => return Err(error(ConfigErrorKind::Invalid(reason), None)),
        };
        object.insert("enabled".to_owned(), Value::Bool(enabled));
        let mut text = serde_json::to_string_pretty(&Value::Object(object))
            .map(|text| unmark_non_finite(&text))
            .map_err(|e| error(ConfigErrorKind::Write, Some(std::io::Error::other(e))))?;
        text.push('\n');
        fs::write_atomic(&target, text.as_bytes())
            .map_err(|e| error(ConfigErrorKind::Write, Some(e)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Environment variables for one case.
    type Pairs = &'static [(&'static str, &'static str)];

    const FILE: &str = "/cfg/openadapt/telemetry.json";
    const GOOD_DSN: &str = "https://key@errors.example/1";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn file(text: &str) -> FileChoice {
        FileChoice::Contents {
            path: PathBuf::from(FILE),
            text: text.to_owned(),
        }
    }

    fn from_file() -> Source {
        Source::File(PathBuf::from(FILE))
    }

    /// Resolve with no internal signals; `text` `None` means no config file.
    fn run(pairs: &[(&str, &str)], text: Option<&str>, builder: &Overrides) -> Config {
        let choice = text.map_or(FileChoice::None, file);
        resolve(&env_of(pairs), &choice, builder, Signals::default())
    }

    fn warn(line: &str) -> String {
        format!("{PREFIX}{line}")
    }

    /// One key, the value each layer sets, and how to read it back.
    struct Layered {
        key: &'static str,
        var: Option<(&'static str, &'static str)>,
        file: &'static str,
        builder: fn(&mut Overrides),
        get: fn(&Config) -> (String, Source),
        default: &'static str,
        default_source: Source,
        from_builder: &'static str,
        from_file: &'static str,
        from_env: &'static str,
    }

    fn show<T: fmt::Debug>(setting: &Setting<T>) -> (String, Source) {
        (format!("{:?}", setting.value()), setting.source().clone())
    }

    #[test]
    fn precedence_env_over_file_over_builder_over_default() {
        let keys = [
            Layered {
                key: "enabled",
                var: Some((ENABLED, "off")),
                file: "true",
                builder: |b| b.enabled = Some(false),
                get: |c| show(c.enabled()),
                default: "true",
                default_source: Source::Default,
                from_builder: "false",
                from_file: "true",
                from_env: "false",
            },
            // `internal`: only true counts from the file and the builder, and
            // only OPENADAPT_INTERNAL forces false
            Layered {
                key: "internal",
                var: Some(("OPENADAPT_INTERNAL", "no")),
                file: "true",
                builder: |b| b.internal = Some(true),
                get: |c| show(c.internal()),
                default: "false",
                default_source: Source::Detected,
                from_builder: "true",
                from_file: "true",
                from_env: "false",
            },
            Layered {
                key: "usage_dsn",
                var: Some((USAGE_DSN, "https://e@usage.example/3")),
                file: "\"https://f@usage.example/2\"",
                builder: |b| b.usage_dsn = Some("https://b@usage.example/1".to_owned()),
                get: |c| show(c.usage_dsn()),
                default: "None",
                default_source: Source::Default,
                from_builder: "Some(\"https://b@usage.example/1\")",
                from_file: "Some(\"https://f@usage.example/2\")",
                from_env: "Some(\"https://e@usage.example/3\")",
            },
            Layered {
                key: "dsn",
                var: Some((DSN, "https://e@env.example/3")),
                file: "\"https://f@file.example/2\"",
                builder: |b| b.dsn = Some("https://b@builder.example/1".to_owned()),
                get: |c| show(c.dsn()),
                default: "None",
                default_source: Source::Default,
                from_builder: "Some(\"https://b@builder.example/1\")",
                from_file: "Some(\"https://f@file.example/2\")",
                from_env: "Some(\"https://e@env.example/3\")",
            },
            Layered {
                key: "environment",
                var: Some((ENVIRONMENT, "staging")),
                file: "\"dev\"",
                builder: |b| b.environment = Some("beta".to_owned()),
                get: |c| show(c.environment()),
                default: "\"production\"",
                default_source: Source::Default,
                from_builder: "\"beta\"",
                from_file: "\"dev\"",
                from_env: "\"staging\"",
            },
            Layered {
                key: "sample_rate",
                var: Some((SAMPLE_RATE, "0.125")),
                file: "0.25",
                builder: |b| b.sample_rate = Some(0.5),
                get: |c| show(c.sample_rate()),
                default: "1.0",
                default_source: Source::Default,
                from_builder: "0.5",
                from_file: "0.25",
                from_env: "0.125",
            },
            Layered {
                key: "traces_sample_rate",
                var: Some((TRACES_SAMPLE_RATE, "1")),
                file: "0",
                builder: |b| b.traces_sample_rate = Some(0.5),
                get: |c| show(c.traces_sample_rate()),
                default: "0.01",
                default_source: Source::Default,
                from_builder: "0.5",
                from_file: "0.0",
                from_env: "1.0",
            },
            Layered {
                key: "error_tracking",
                var: None,
                file: "true",
                builder: |b| b.error_tracking = Some(false),
                get: |c| show(c.error_tracking()),
                default: "true",
                default_source: Source::Default,
                from_builder: "false",
                from_file: "true",
                from_env: "",
            },
            Layered {
                key: "performance_tracking",
                var: None,
                file: "true",
                builder: |b| b.performance_tracking = Some(false),
                get: |c| show(c.performance_tracking()),
                default: "true",
                default_source: Source::Default,
                from_builder: "false",
                from_file: "true",
                from_env: "",
            },
            Layered {
                key: "feature_usage",
                var: None,
                file: "true",
                builder: |b| b.feature_usage = Some(false),
                get: |c| show(c.feature_usage()),
                default: "true",
                default_source: Source::Default,
                from_builder: "false",
                from_file: "true",
                from_env: "",
            },
            Layered {
                key: "send_default_pii",
                var: None,
                file: "false",
                builder: |b| b.send_default_pii = Some(true),
                get: |c| show(c.send_default_pii()),
                default: "false",
                default_source: Source::Default,
                from_builder: "true",
                from_file: "false",
                from_env: "",
            },
        ];
        for k in keys {
            let mut builder = Overrides::default();
            let got = (k.get)(&run(&[], None, &builder));
            assert_eq!(
                got,
                (k.default.to_owned(), k.default_source.clone()),
                "{}: default",
                k.key
            );

            (k.builder)(&mut builder);
            let got = (k.get)(&run(&[], None, &builder));
            assert_eq!(
                got,
                (k.from_builder.to_owned(), Source::Builder),
                "{}: builder",
                k.key
            );

            let text = format!("{{\"{}\": {}}}", k.key, k.file);
            let got = (k.get)(&run(&[], Some(&text), &builder));
            assert_eq!(
                got,
                (k.from_file.to_owned(), from_file()),
                "{}: file over builder",
                k.key
            );

            if let Some((name, value)) = k.var {
                let got = (k.get)(&run(&[(name, value)], Some(&text), &builder));
                assert_eq!(
                    got,
                    (k.from_env.to_owned(), Source::Env(name)),
                    "{}: env over file",
                    k.key
                );
            }
        }
    }

    #[test]
    fn internal_as_the_family_defines_it() {
        // (variables, file, builder's `internal`, expected value, source, reason)
        type Case = (
            Pairs,
            Option<&'static str>,
            Option<bool>,
            bool,
            Source,
            &'static str,
        );
        let file_reason = "\"internal\": true in config file /cfg/openadapt/telemetry.json";
        let cases: [Case; 13] = [
            (
                &[],
                None,
                None,
                false,
                Source::Detected,
                "no internal signal",
            ),
            (
                &[("OPENADAPT_DEV", "1")],
                Some(r#"{"internal": false}"#),
                None,
                true,
                Source::Env("OPENADAPT_DEV"),
                "OPENADAPT_DEV=1",
            ),
            (
                &[("OPENADAPT_INTERNAL", "false"), ("CI", "true")],
                Some(r#"{"internal": true}"#),
                Some(true),
                false,
                Source::Env("OPENADAPT_INTERNAL"),
                "OPENADAPT_INTERNAL=false (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "false"), ("OPENADAPT_DEV", "true")],
                None,
                None,
                false,
                Source::Env("OPENADAPT_INTERNAL"),
                "OPENADAPT_INTERNAL=false (overrides detection)",
            ),
            // OPENADAPT_DEV=false is the default: it forces nothing
            (
                &[("OPENADAPT_DEV", "false"), ("CI", "true")],
                None,
                None,
                true,
                Source::Detected,
                "CI variable CI is set",
            ),
            // the Python package's default "internal": false masks nothing
            (
                &[("CI", "true")],
                Some(r#"{"internal": false}"#),
                None,
                true,
                Source::Detected,
                "CI variable CI is set",
            ),
            (
                &[("CARGO", "/usr/bin/cargo")],
                Some(r#"{"internal": false}"#),
                Some(false),
                true,
                Source::Detected,
                "running under cargo (CARGO is set)",
            ),
            (
                &[],
                Some(r#"{"internal": false}"#),
                None,
                false,
                Source::Detected,
                "no internal signal",
            ),
            // "internal": true makes a run internal
            (
                &[],
                Some(r#"{"internal": true}"#),
                None,
                true,
                from_file(),
                file_reason,
            ),
            (
                &[("OPENADAPT_DEV", "0")],
                Some(r#"{"internal": true}"#),
                Some(false),
                true,
                from_file(),
                file_reason,
            ),
            (
                &[],
                None,
                Some(true),
                true,
                Source::Builder,
                "\"internal\": true from builder (package default)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "yes")],
                None,
                None,
                true,
                Source::Env("OPENADAPT_INTERNAL"),
                "OPENADAPT_INTERNAL=yes",
            ),
            (
                &[("GITLAB_CI", "true")],
                None,
                None,
                true,
                Source::Detected,
                "CI variable GITLAB_CI is set",
            ),
        ];
        for (pairs, text, internal, value, source, reason) in cases {
            let builder = Overrides {
                internal,
                ..Overrides::default()
            };
            let c = run(pairs, text, &builder);
            assert_eq!(
                show(c.internal()),
                (value.to_string(), source),
                "{pairs:?} {text:?} {internal:?}"
            );
            assert_eq!(c.internal_reason(), reason, "{pairs:?} {text:?}");
            assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        }
    }

    #[test]
    fn a_git_checkout_is_internal_only_with_from_git() -> TestResult {
        let dir = scratch("git")?;
        std::fs::create_dir_all(dir.join(".git"))?;
        let signals = || Signals {
            cwd: Some(dir.clone()),
            debug_build: false,
        };
        let b = Overrides::default();
        let c = resolve(&env_of(&[]), &FileChoice::None, &b, signals());
        assert_eq!(show(c.internal()), ("false".to_owned(), Source::Detected));
        assert_eq!(c.internal_reason(), "no internal signal");
        for (value, internal) in [("true", true), ("1", true), ("false", false)] {
            let c = resolve(
                &env_of(&[(internal::FROM_GIT, value)]),
                &FileChoice::None,
                &b,
                signals(),
            );
            assert_eq!(*c.internal().value(), internal, "{value}");
        }
        let c = resolve(
            &env_of(&[(internal::FROM_GIT, "true")]),
            &FileChoice::None,
            &b,
            signals(),
        );
        assert_eq!(
            c.internal_reason(),
            ".git in the working directory (OPENADAPT_INTERNAL_FROM_GIT is true)"
        );
        let c = resolve(
            &env_of(&[(internal::FROM_GIT, "sure")]),
            &FileChoice::None,
            &b,
            signals(),
        );
        assert!(!*c.internal().value());
        assert_eq!(
            c.warnings(),
            [warn(
                r#"invalid OPENADAPT_INTERNAL_FROM_GIT "sure": expected true/false, 1/0, yes/no or on/off; a .git does not make the run internal"#
            )]
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn do_not_track_beats_everything_and_silences_warnings() {
        let builder = Overrides {
            enabled: Some(true),
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        for value in ["1", "true", "TRUE", "True", " 1 "] {
            let env = [
                (DO_NOT_TRACK, value),
                (ENABLED, "true"),
                (SAMPLE_RATE, "2.0"),
                (DSN, "not a dsn"),
            ];
            let c = run(
                &env,
                Some(r#"{"enabled": true, "sample_rate": "x"}"#),
                &builder,
            );
            assert_eq!(
                show(c.enabled()),
                ("false".to_owned(), Source::DoNotTrack),
                "DO_NOT_TRACK={value}"
            );
            assert!(
                c.warnings().is_empty(),
                "DO_NOT_TRACK={value}: {:?}",
                c.warnings()
            );
            // values are still resolved, for `status`
            assert_eq!(show(c.sample_rate()), ("1.0".to_owned(), Source::Default));

            let c = run(&[(DO_NOT_TRACK, value)], Some("not json"), &builder);
            assert_eq!(
                show(c.enabled()),
                ("false".to_owned(), Source::DoNotTrack),
                "DO_NOT_TRACK={value}, bad file"
            );
            assert!(c.warnings().is_empty());
        }
        for value in ["0", "false", "no", "", "  "] {
            let c = run(&[(DO_NOT_TRACK, value)], None, &builder);
            assert_eq!(
                show(c.enabled()),
                ("true".to_owned(), Source::Builder),
                "DO_NOT_TRACK={value:?}"
            );
        }
    }

    #[test]
    fn enabled_false_from_env_file_builder() {
        let builder = Overrides {
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        for value in ["false", "0", "no", "off", "FALSE", "No"] {
            let c = run(&[(ENABLED, value)], Some(r#"{"enabled": true}"#), &builder);
            assert_eq!(
                show(c.enabled()),
                ("false".to_owned(), Source::Env(ENABLED)),
                "{value}"
            );
        }
        // an opt-out silences warnings about values that would go unused
        let c = run(
            &[(SAMPLE_RATE, "abc")],
            Some(r#"{"enabled": false}"#),
            &builder,
        );
        assert_eq!(show(c.enabled()), ("false".to_owned(), from_file()));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        // ... including a config file it cannot read, and a refused PII setting
        let c = run(&[(ENABLED, "false")], Some("[]"), &builder);
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::Env(ENABLED))
        );
        assert_eq!(
            c.file_state(),
            &FileState::Invalid("expected a JSON object, found an array".to_owned())
        );
        assert!(c.warnings().is_empty());

        let c = run(
            &[],
            None,
            &Overrides {
                enabled: Some(false),
                send_default_pii: Some(true),
                ..builder
            },
        );
        assert_eq!(show(c.enabled()), ("false".to_owned(), Source::Builder));
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn enabled_true_without_problems() {
        let c = run(
            &[(ENABLED, "yes")],
            Some(r#"{"enabled": false}"#),
            &Overrides::default(),
        );
        assert_eq!(show(c.enabled()), ("true".to_owned(), Source::Env(ENABLED)));
        assert!(c.warnings().is_empty());
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert_eq!(c.file_path(), Some(Path::new(FILE)));
    }

    /// A bad input: the warning lines it gives, exactly, and a check of the result.
    struct Bad {
        name: &'static str,
        env: Pairs,
        file: Option<&'static str>,
        builder: fn() -> Overrides,
        warnings: &'static [&'static str],
        check: fn(&Config) -> bool,
    }

    fn none() -> Overrides {
        Overrides::default()
    }

    fn on(c: &Config) -> bool {
        *c.enabled().value()
    }

    #[test]
    fn bad_inputs() {
        let cases = [
            Bad {
                name: "env sample rate out of range",
                env: &[(SAMPLE_RATE, "2.0")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_SAMPLE_RATE "2.0": expected a number from 0.0 to 1.0; using 1.0"#,
                ],
                check: |c| on(c) && show(c.sample_rate()) == ("1.0".to_owned(), Source::Default),
            },
            Bad {
                name: "env sample rate not a number",
                env: &[(SAMPLE_RATE, "abc")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_SAMPLE_RATE "abc": expected a number from 0.0 to 1.0; using 1.0"#,
                ],
                check: |c| show(c.sample_rate()) == ("1.0".to_owned(), Source::Default),
            },
            Bad {
                name: "env sample rate negative, NaN, infinite",
                env: &[(SAMPLE_RATE, "-0.1"), (TRACES_SAMPLE_RATE, "NaN")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_SAMPLE_RATE "-0.1": expected a number from 0.0 to 1.0; using 1.0"#,
                    r#"invalid OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE "NaN": expected a number from 0.0 to 1.0; using 0.01"#,
                ],
                check: |c| show(c.traces_sample_rate()) == ("0.01".to_owned(), Source::Default),
            },
            Bad {
                name: "env sample rate falls through to the file",
                env: &[(SAMPLE_RATE, "inf")],
                file: Some(r#"{"sample_rate": 0.5}"#),
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_SAMPLE_RATE "inf": expected a number from 0.0 to 1.0; using 0.5"#,
                ],
                check: |c| show(c.sample_rate()) == ("0.5".to_owned(), from_file()),
            },
            Bad {
                name: "file sample rate wrong type",
                env: &[],
                file: Some(r#"{"sample_rate": "high"}"#),
                builder: || Overrides {
                    sample_rate: Some(0.5),
                    ..none()
                },
                warnings: &[
                    r#"invalid "sample_rate" in config file /cfg/openadapt/telemetry.json: "high": expected a number from 0.0 to 1.0; using 0.5"#,
                ],
                check: |c| show(c.sample_rate()) == ("0.5".to_owned(), Source::Builder),
            },
            Bad {
                name: "file sample rates out of range",
                env: &[],
                file: Some(r#"{"sample_rate": 2.0, "traces_sample_rate": -1}"#),
                builder: none,
                warnings: &[
                    r#"invalid "sample_rate" in config file /cfg/openadapt/telemetry.json: 2.0: expected a number from 0.0 to 1.0; using 1.0"#,
                    r#"invalid "traces_sample_rate" in config file /cfg/openadapt/telemetry.json: -1: expected a number from 0.0 to 1.0; using 0.01"#,
                ],
                check: |c| {
                    on(c)
                        && *c.sample_rate().value() == 1.0
                        && *c.traces_sample_rate().value() == 0.01
                },
            },
            Bad {
                name: "builder sample rates out of range",
                env: &[],
                file: None,
                builder: || Overrides {
                    sample_rate: Some(2.0),
                    traces_sample_rate: Some(f32::NAN),
                    ..none()
                },
                warnings: &[
                    "invalid builder value sample_rate 2.0: expected a number from 0.0 to 1.0; using 1.0",
                    "invalid builder value traces_sample_rate NaN: expected a number from 0.0 to 1.0; using 0.01",
                ],
                check: |c| show(c.sample_rate()) == ("1.0".to_owned(), Source::Default),
            },
            Bad {
                name: "file booleans and string of the wrong type",
                env: &[],
                file: Some(
                    r#"{"error_tracking": "yes", "performance_tracking": 1, "feature_usage": [], "environment": 5, "internal": "no"}"#,
                ),
                builder: none,
                warnings: &[
                    r#"invalid "internal" in config file /cfg/openadapt/telemetry.json: "no": expected true or false; using false"#,
                    r#"invalid "environment" in config file /cfg/openadapt/telemetry.json: 5: expected a string; using "production""#,
                    r#"invalid "error_tracking" in config file /cfg/openadapt/telemetry.json: "yes": expected true or false; using true"#,
                    r#"invalid "performance_tracking" in config file /cfg/openadapt/telemetry.json: 1: expected true or false; using true"#,
                    r#"invalid "feature_usage" in config file /cfg/openadapt/telemetry.json: []: expected true or false; using true"#,
                ],
                check: |c| {
                    on(c)
                        && show(c.error_tracking()) == ("true".to_owned(), Source::Default)
                        && show(c.environment()) == ("\"production\"".to_owned(), Source::Default)
                        && show(c.internal()) == ("false".to_owned(), Source::Detected)
                },
            },
            Bad {
                name: "env internal unparseable: ignored, detection applies",
                env: &[("OPENADAPT_INTERNAL", "maybe"), ("CI", "1")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_INTERNAL "maybe": expected true/false, 1/0, yes/no or on/off; using true"#,
                ],
                check: |c| {
                    show(c.internal()) == ("true".to_owned(), Source::Detected)
                        && c.internal_reason() == "CI variable CI is set"
                },
            },
            Bad {
                name: "env enabled unparseable: off",
                env: &[(ENABLED, "disable")],
                file: Some(r#"{"enabled": true}"#),
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_ENABLED "disable": expected true/false, 1/0, yes/no or on/off; telemetry is off"#,
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), Source::Env(ENABLED)),
            },
            Bad {
                name: "file enabled of the wrong type: off",
                env: &[],
                file: Some(r#"{"enabled": "no"}"#),
                builder: none,
                warnings: &[
                    r#"invalid "enabled" in config file /cfg/openadapt/telemetry.json: "no": expected true or false; telemetry is off"#,
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), from_file()),
            },
            Bad {
                name: "env DSN does not parse: off, key masked",
                env: &[(DSN, "https://secretkey@errors.example")],
                file: Some(r#"{"dsn": "https://k@file.example/2"}"#),
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_DSN "https://***@errors.example": expected a DSN like https://KEY@HOST/PROJECT_ID (empty path); telemetry is off"#,
                ],
                check: |c| {
                    show(c.enabled()) == ("false".to_owned(), Source::Env(DSN))
                        && show(c.dsn()) == ("None".to_owned(), Source::Env(DSN))
                },
            },
            Bad {
                name: "env DSN not a URL",
                env: &[(DSN, "not a dsn")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_DSN "not a dsn": expected a DSN like https://KEY@HOST/PROJECT_ID (no valid url provided); telemetry is off"#,
                ],
                check: |c| !on(c),
            },
            Bad {
                name: "file DSN with a secret and a bad scheme",
                env: &[],
                file: Some(r#"{"dsn": "ftp://pub:secret@errors.example/1"}"#),
                builder: none,
                warnings: &[
                    r#"invalid "dsn" in config file /cfg/openadapt/telemetry.json: "ftp://***@errors.example/1": expected a DSN like https://KEY@HOST/PROJECT_ID (no valid scheme); telemetry is off"#,
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), from_file()),
            },
            Bad {
                name: "file DSN of the wrong type",
                env: &[],
                file: Some(r#"{"dsn": 42}"#),
                builder: none,
                warnings: &[
                    r#"invalid "dsn" in config file /cfg/openadapt/telemetry.json: 42: expected a DSN like https://KEY@HOST/PROJECT_ID; telemetry is off"#,
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), from_file()),
            },
            Bad {
                name: "builder DSN without a key",
                env: &[],
                file: None,
                builder: || Overrides {
                    dsn: Some("https://errors.example/1".to_owned()),
                    ..none()
                },
                warnings: &[
                    r#"invalid builder value dsn "https://errors.example/1": expected a DSN like https://KEY@HOST/PROJECT_ID (username is empty); telemetry is off"#,
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), Source::Builder),
            },
            Bad {
                name: "a good env DSN hides a bad builder DSN",
                env: &[(DSN, GOOD_DSN)],
                file: None,
                builder: || Overrides {
                    dsn: Some("nope".to_owned()),
                    ..none()
                },
                warnings: &[],
                check: |c| on(c) && c.dsn().value().as_deref() == Some(GOOD_DSN),
            },
            Bad {
                name: "send_default_pii true in the file: refused",
                env: &[],
                file: Some(r#"{"send_default_pii": true}"#),
                builder: none,
                warnings: &[
                    "send_default_pii is true (config file /cfg/openadapt/telemetry.json): sending personal data is refused; telemetry is off",
                ],
                check: |c| {
                    show(c.enabled()) == ("false".to_owned(), from_file())
                        && *c.send_default_pii().value()
                },
            },
            Bad {
                name: "send_default_pii true from the builder: refused",
                env: &[],
                file: None,
                builder: || Overrides {
                    send_default_pii: Some(true),
                    ..none()
                },
                warnings: &[
                    "send_default_pii is true (builder (package default)): sending personal data is refused; telemetry is off",
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), Source::Builder),
            },
            Bad {
                name: "file not JSON: off even if the environment enables",
                env: &[(ENABLED, "true")],
                file: Some("x"),
                builder: none,
                warnings: &[
                    "invalid config file /cfg/openadapt/telemetry.json: expected value at line 1 column 1; telemetry is off",
                ],
                check: |c| {
                    show(c.enabled()) == ("false".to_owned(), from_file())
                        && c.file_state()
                            == &FileState::Invalid("expected value at line 1 column 1".to_owned())
                },
            },
            Bad {
                name: "file empty",
                env: &[],
                file: Some(""),
                builder: none,
                warnings: &[
                    "invalid config file /cfg/openadapt/telemetry.json: EOF while parsing a value at line 1 column 0; telemetry is off",
                ],
                check: |c| !on(c),
            },
            Bad {
                name: "file not an object",
                env: &[],
                file: Some(r#""enabled""#),
                builder: none,
                warnings: &[
                    "invalid config file /cfg/openadapt/telemetry.json: expected a JSON object, found a string; telemetry is off",
                ],
                check: |c| show(c.enabled()) == ("false".to_owned(), from_file()),
            },
            Bad {
                name: "invalid file: its values are not used",
                env: &[],
                file: Some(r#"{"enabled": true, "environment": "dev",}"#),
                builder: none,
                warnings: &[
                    "invalid config file /cfg/openadapt/telemetry.json: trailing comma at line 1 column 40; telemetry is off",
                ],
                check: |c| {
                    !on(c)
                        && show(c.environment()) == ("\"production\"".to_owned(), Source::Default)
                },
            },
            Bad {
                name: "bad OPENADAPT_TELEMETRY_DEBUG",
                env: &[(DEBUG, "loud")],
                file: None,
                builder: none,
                warnings: &[
                    r#"invalid OPENADAPT_TELEMETRY_DEBUG "loud": expected true/false, 1/0, yes/no or on/off; preview is off"#,
                ],
                check: |c| on(c) && c.preview().is_none(),
            },
        ];
        for case in cases {
            let c = run(case.env, case.file, &(case.builder)());
            let expected: Vec<String> = case.warnings.iter().map(|w| warn(w)).collect();
            assert_eq!(c.warnings(), expected.as_slice(), "{}", case.name);
            assert!((case.check)(&c), "{}: {c:#?}", case.name);
            assert!(
                !c.warnings().iter().any(|w| w.contains("secret")),
                "{}: secret leaked",
                case.name
            );
        }
    }

    #[test]
    fn unknown_keys_ignored_and_null_or_blank_means_unset() {
        let builder = Overrides {
            enabled: Some(true),
            dsn: Some(GOOD_DSN.to_owned()),
            environment: Some("beta".to_owned()),
            sample_rate: Some(0.5),
            error_tracking: Some(false),
            ..Overrides::default()
        };
        let text = r#"{
            "enabled": null, "internal": null, "dsn": null, "environment": "  ",
            "sample_rate": null, "traces_sample_rate": null, "error_tracking": null,
            "performance_tracking": null, "feature_usage": null, "send_default_pii": null,
            "future_key": {"nested": [1, 2]}, "anonymous_id": "abc"
        }"#;
        let c = run(&[], Some(text), &builder);
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert_eq!(show(c.enabled()), ("true".to_owned(), Source::Builder));
        assert_eq!(
            show(c.dsn()),
            (format!("Some({GOOD_DSN:?})"), Source::Builder)
        );
        assert_eq!(
            show(c.environment()),
            ("\"beta\"".to_owned(), Source::Builder)
        );
        assert_eq!(show(c.sample_rate()), ("0.5".to_owned(), Source::Builder));
        assert_eq!(
            show(c.traces_sample_rate()),
            ("0.01".to_owned(), Source::Default)
        );
        assert_eq!(
            show(c.error_tracking()),
            ("false".to_owned(), Source::Builder)
        );
        assert_eq!(show(c.internal()), ("false".to_owned(), Source::Detected));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = [
            (ENABLED, ""),
            (DSN, " "),
            (ENVIRONMENT, ""),
            (SAMPLE_RATE, ""),
            ("OPENADAPT_INTERNAL", ""),
        ];
        let c = run(
            &env,
            Some(r#"{"sample_rate": 0.25}"#),
            &Overrides::default(),
        );
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        assert_eq!(show(c.enabled()), ("true".to_owned(), Source::Default));
        assert_eq!(show(c.dsn()), ("None".to_owned(), Source::Default));
        assert_eq!(show(c.sample_rate()), ("0.25".to_owned(), from_file()));
    }

    #[test]
    fn a_file_with_a_byte_order_mark_parses() {
        let c = run(
            &[],
            Some("\u{feff}{\"environment\": \"dev\"}"),
            &Overrides::default(),
        );
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert_eq!(c.environment().value(), "dev");
    }

    #[test]
    fn locate_table() {
        let located = |main: &str, xdg: Option<&str>, named: bool| {
            Some(Located {
                main: PathBuf::from(main),
                xdg: xdg.map(PathBuf::from),
                named,
            })
        };
        let shared = "/home/u/.config/openadapt/telemetry.json";
        let cases: &[(Pairs, Option<Located>)] = &[
            (&[("HOME", "/home/u")], located(shared, None, false)),
            // the shared file is always read; the XDG one too, and its keys win
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")],
                located(shared, Some("/xdg/openadapt/telemetry.json"), false),
            ),
            // XDG naming the same folder: one file
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/home/u/.config")],
                located(shared, None, false),
            ),
            // a relative XDG_CONFIG_HOME is ignored, as the XDG spec says
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "xdg")],
                located(shared, None, false),
            ),
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "")],
                located(shared, None, false),
            ),
            // OPENADAPT_TELEMETRY_CONFIG: one file, alone
            (
                &[
                    ("HOME", "/home/u"),
                    ("XDG_CONFIG_HOME", "/xdg"),
                    (CONFIG, "/etc/t.json"),
                ],
                located("/etc/t.json", None, true),
            ),
            (
                &[("HOME", "/home/u"), (CONFIG, "")],
                located(shared, None, false),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(&locate(&env_of(pairs)), expected, "{pairs:?}");
        }
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A fresh directory under the system temporary directory (never the home).
    fn scratch(name: &str) -> Result<PathBuf, std::io::Error> {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-telemetry-config-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn text_of(path: &Path) -> Result<&str, &'static str> {
        path.to_str().ok_or("temporary path is not UTF-8")
    }

    /// Resolves with the located files of `pairs` (no other input).
    fn locate_with(pairs: &[(&str, &str)]) -> Config {
        resolve(
            &env_of(pairs),
            &FileChoice::Locate,
            &Overrides::default(),
            Signals::default(),
        )
    }

    #[test]
    fn the_shared_file_and_the_xdg_file() -> TestResult {
        let dir = scratch("two-files")?;
        let home = dir.join("home");
        let shared = home.join(".config/openadapt/telemetry.json");
        let xdg_dir = dir.join("xdg");
        let xdg = xdg_dir.join("openadapt/telemetry.json");
        std::fs::create_dir_all(shared.parent().ok_or("no parent")?)?;
        std::fs::create_dir_all(xdg.parent().ok_or("no parent")?)?;
        let env = [
            ("HOME", text_of(&home)?),
            ("XDG_CONFIG_HOME", text_of(&xdg_dir)?),
        ];

        // XDG elsewhere, "enabled": false in the shared file: off
        std::fs::write(&shared, r#"{"enabled": false}"#)?;
        std::fs::write(&xdg, r#"{"environment": "xdg"}"#)?;
        let c = locate_with(&env);
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::File(shared.clone()))
        );
        assert_eq!(c.file_path(), Some(shared.as_path()));
        assert_eq!(
            c.config_files(),
            [
                ConfigFile {
                    path: shared.clone(),
                    state: FileState::Loaded
                },
                ConfigFile {
                    path: xdg.clone(),
                    state: FileState::Loaded
                },
            ]
        );
        // ... even when the XDG file says true
        std::fs::write(&xdg, r#"{"enabled": true}"#)?;
        assert!(!on(&locate_with(&env)));
        // "enabled": false in the XDG file: off
        std::fs::write(
            &shared,
            r#"{"enabled": true, "environment": "shared", "sample_rate": 0.5}"#,
        )?;
        std::fs::write(&xdg, r#"{"enabled": false}"#)?;
        let c = locate_with(&env);
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::File(xdg.clone()))
        );
        // otherwise the XDG file's keys win, the shared file fills in the rest
        std::fs::write(&xdg, r#"{"environment": "xdg", "sample_rate": null}"#)?;
        let c = locate_with(&env);
        assert!(on(&c));
        assert_eq!(
            show(c.environment()),
            ("\"xdg\"".to_owned(), Source::File(xdg.clone()))
        );
        assert_eq!(
            show(c.sample_rate()),
            ("0.5".to_owned(), Source::File(shared.clone()))
        );
        assert_eq!(
            show(c.enabled()),
            ("true".to_owned(), Source::File(shared.clone()))
        );
        // an invalid file in either turns it off
        std::fs::write(&xdg, "{not json")?;
        let c = locate_with(&env);
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::File(xdg.clone()))
        );
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert!(matches!(c.config_files()[1].state(), FileState::Invalid(_)));
        // no XDG file: the shared one alone
        std::fs::remove_file(&xdg)?;
        let c = locate_with(&env);
        assert_eq!(c.config_files().len(), 1);
        assert_eq!(c.environment().value(), "shared");
        // no shared file, an XDG file: read
        std::fs::remove_file(&shared)?;
        std::fs::write(&xdg, r#"{"enabled": false}"#)?;
        let c = locate_with(&env);
        assert_eq!(c.file_state(), &FileState::NotFound);
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::File(xdg.clone()))
        );
        // OPENADAPT_TELEMETRY_CONFIG: that file alone, the XDG one is not read
        let named = dir.join("named.json");
        std::fs::write(&named, r#"{"environment": "named"}"#)?;
        let mut with_named = env.to_vec();
        with_named.push((CONFIG, text_of(&named)?));
        let c = locate_with(&with_named);
        assert!(on(&c));
        assert_eq!(c.environment().source(), &Source::File(named.clone()));
        assert_eq!(c.config_files().len(), 1);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn locate_reads_the_named_file_and_reports_problems() -> TestResult {
        let dir = scratch("locate")?;
        let b = Overrides::default();

        // the default location missing is normal
        let c = locate_with(&[("HOME", "/nonexistent")]);
        assert_eq!(c.file_state(), &FileState::NotFound);
        assert_eq!(
            c.file_path(),
            Some(Path::new("/nonexistent/.config/openadapt/telemetry.json"))
        );
        assert!(c.warnings().is_empty());
        assert!(on(&c));

        // a named file missing is reported, but does not turn telemetry off
        let missing = dir.join("missing.json");
        let c = locate_with(&[(CONFIG, text_of(&missing)?)]);
        assert_eq!(c.file_state(), &FileState::NotFound);
        let line = format!(
            "config file {} named by OPENADAPT_TELEMETRY_CONFIG does not exist",
            missing.display()
        );
        assert_eq!(c.warnings(), [warn(&line)]);
        assert!(on(&c));

        // a directory is an invalid file
        let c = resolve(
            &env_of(&[]),
            &FileChoice::Path(dir.clone()),
            &b,
            Signals::default(),
        );
        assert_eq!(
            c.file_state(),
            &FileState::Invalid("it is a directory".to_owned())
        );
        assert_eq!(
            show(c.enabled()),
            ("false".to_owned(), Source::File(dir.clone()))
        );
        let line = format!(
            "invalid config file {}: it is a directory; telemetry is off",
            dir.display()
        );
        assert_eq!(c.warnings(), [warn(&line)]);

        // not UTF-8: unreadable
        let binary = dir.join("binary.json");
        std::fs::write(&binary, [0xff, 0xfe, 0x00])?;
        let c = resolve(
            &env_of(&[]),
            &FileChoice::Path(binary),
            &b,
            Signals::default(),
        );
        assert!(
            matches!(c.file_state(), FileState::Invalid(reason) if reason.starts_with("cannot read it: ")),
            "{c:?}"
        );
        assert!(!on(&c));

        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn no_file() {
        let c = run(&[], None, &Overrides::default());
        assert_eq!(c.file_state(), &FileState::NotUsed);
        assert_eq!(c.file_path(), None);
        assert!(on(&c));
    }

    #[test]
    fn preview_table() {
        let cases: &[(Pairs, Option<Preview>)] = &[
            (&[], None),
            (&[(DEBUG, "true")], Some(Preview::Stderr)),
            (&[(DEBUG, "1")], Some(Preview::Stderr)),
            (&[(DEBUG, "ON")], Some(Preview::Stderr)),
            (&[(DEBUG, "false")], None),
            (&[(DEBUG, "")], None),
            (
                &[(DEBUG_FILE, "/tmp/preview.jsonl")],
                Some(Preview::File(PathBuf::from("/tmp/preview.jsonl"))),
            ),
            (
                &[(DEBUG, "true"), (DEBUG_FILE, "/tmp/p")],
                Some(Preview::File(PathBuf::from("/tmp/p"))),
            ),
            (
                &[(DEBUG, "0"), (DEBUG_FILE, "/tmp/p")],
                Some(Preview::File(PathBuf::from("/tmp/p"))),
            ),
            (&[(DEBUG, "true"), (DEBUG_FILE, "")], Some(Preview::Stderr)),
        ];
        for (pairs, expected) in cases {
            let c = run(pairs, None, &Overrides::default());
            assert_eq!(c.preview(), expected.as_ref(), "{pairs:?}");
            assert!(c.warnings().is_empty(), "{pairs:?}");
        }
    }

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

    #[test]
    fn mask_dsn_table() {
        let cases = [
            ("https://key@host/1", "https://***@host/1"),
            (
                "https://key:secret@host:9000/path/1",
                "https://***@host:9000/path/1",
            ),
            ("https://host/1", "https://host/1"),
            ("https://host/path@x", "https://host/path@x"),
            ("key@host", "***@host"),
            ("https://a@b@host/1", "https://***@host/1"),
            ("", ""),
        ];
        for (dsn, masked) in cases {
            assert_eq!(mask_dsn(dsn), masked, "{dsn}");
        }
    }

    #[test]
    fn parse_bool_table() {
        for text in ["true", "TRUE", "1", "yes", "Yes", "on", " on "] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["false", "False", "0", "no", "NO", "off"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "2", "y", "n", "enable", "truthy"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }

    #[test]
    fn parse_file_reasons() {
        assert!(parse_file("{}").is_ok());
        let cases = [
            ("[1]", "expected a JSON object, found an array"),
            ("1", "expected a JSON object, found a number"),
            ("null", "expected a JSON object, found null"),
            ("true", "expected a JSON object, found a boolean"),
            ("{", "EOF while parsing an object at line 1 column 1"),
        ];
        for (text, reason) in cases {
            assert_eq!(parse_file(text).err().as_deref(), Some(reason), "{text}");
        }
    }

    #[test]
    fn long_bad_values_are_clipped() {
        let long = "x".repeat(200);
        let c = run(
            &[(ENVIRONMENT, "ok"), (SAMPLE_RATE, &long)],
            None,
            &Overrides::default(),
        );
        assert_eq!(c.warnings().len(), 1);
        assert!(c.warnings()[0].len() < 200, "{}", c.warnings()[0]);
        assert!(c.warnings()[0].contains("…"));
    }

    #[test]
    fn write_enabled_keeps_other_keys_and_creates_the_folder() -> TestResult {
        let dir = scratch("write")?;
        let path = dir.join("new").join("openadapt").join("telemetry.json");
        Config::write_enabled(&path, false, false)?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            "{\n  \"enabled\": false\n}\n"
        );

        std::fs::write(
            &path,
            r#"{"enabled": false, "environment": "dev", "future_key": {"nested": [1, 2]}}"#,
        )?;
        Config::write_enabled(&path, true, false)?;
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        assert_eq!(
            value,
            serde_json::json!({"enabled": true, "environment": "dev", "future_key": {"nested": [1, 2]}})
        );
        // already so: the file is not rewritten
        let before = std::fs::read_to_string(&path)?;
        std::fs::write(&path, before.replace('\n', " "))?;
        Config::write_enabled(&path, true, false)?;
        assert!(!std::fs::read_to_string(&path)?.contains('\n'));
        // no temporary file is left behind
        let names: Vec<_> = std::fs::read_dir(path.parent().ok_or("no parent")?)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        assert_eq!(names, ["telemetry.json"]);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn write_enabled_refuses_what_it_cannot_parse_unless_forced() -> TestResult {
        let dir = scratch("write-bad")?;
        let path = dir.join("telemetry.json");
        for (text, reason) in [
            ("{", "EOF while parsing an object at line 1 column 1"),
            ("[1]", "expected a JSON object, found an array"),
        ] {
            std::fs::write(&path, text)?;
            let error = Config::write_enabled(&path, false, false)
                .err()
                .ok_or("no error")?;
            assert_eq!(error.kind(), &ConfigErrorKind::Invalid(reason.to_owned()));
            assert_eq!(
                error.to_string(),
                format!("cannot update config file {}: {reason}", path.display())
            );
            assert_eq!(std::fs::read_to_string(&path)?, text);
            Config::write_enabled(&path, false, true)?;
            assert_eq!(
                std::fs::read_to_string(&path)?,
                "{\n  \"enabled\": false\n}\n"
            );
        }
        let error = Config::write_enabled(&dir, false, true)
            .err()
            .ok_or("no error")?;
        assert_eq!(error.kind(), &ConfigErrorKind::IsDirectory);
        assert!(dir.is_dir());
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn write_enabled_follows_a_link_and_keeps_permissions() -> TestResult {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = scratch("write-link")?;
        let real = dir.join("dotfiles-telemetry.json");
        std::fs::write(&real, r#"{"environment": "dev"}"#)?;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600))?;
        let link = dir.join("telemetry.json");
        std::os::unix::fs::symlink(&real, &link)?;
        Config::write_enabled(&link, false, false)?;
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert!(std::fs::read_to_string(&real)?.contains(r#""enabled": false"#));
        assert_eq!(
            std::fs::metadata(&real)?.permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_python_written_file_loads_and_ci_is_still_internal() {
        // what Python's save_config writes (json.dump with NaN / Infinity)
        let text = r#"{
  "enabled": true,
  "internal": false,
  "dsn": null,
  "environment": "production",
  "sample_rate": NaN,
  "traces_sample_rate": Infinity,
  "error_tracking": true,
  "performance_tracking": true,
  "feature_usage": -Infinity,
  "send_default_pii": false,
  "note": "NaN and Infinity inside a string stay text",
  "nested": [NaN, {"x": Infinity}]
}"#;
        let c = run(&[("CI", "true")], Some(text), &Overrides::default());
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert!(on(&c));
        assert_eq!(show(c.internal()), ("true".to_owned(), Source::Detected));
        assert_eq!(c.internal_reason(), "CI variable CI is set");
        assert_eq!(show(c.sample_rate()), ("1.0".to_owned(), Source::Default));
        assert_eq!(
            show(c.traces_sample_rate()),
            ("0.01".to_owned(), Source::Default)
        );
        assert_eq!(
            c.warnings(),
            [
                warn(
                    r#"invalid "sample_rate" in config file /cfg/openadapt/telemetry.json: NaN: expected a number from 0.0 to 1.0; using 1.0"#
                ),
                warn(
                    r#"invalid "traces_sample_rate" in config file /cfg/openadapt/telemetry.json: Infinity: expected a number from 0.0 to 1.0; using 0.01"#
                ),
                warn(
                    r#"invalid "feature_usage" in config file /cfg/openadapt/telemetry.json: -Infinity: expected true or false; using true"#
                ),
            ]
        );
        // ... and CI keeps usage events off
        assert_eq!(
            show(c.feature_usage()),
            ("false".to_owned(), Source::Ci("CI"))
        );
        // a bare word in a string value of a known key is a wrong type, not a number
        let c = run(&[], Some(r#"{"environment": NaN}"#), &Overrides::default());
        assert_eq!(
            c.warnings(),
            [warn(
                r#"invalid "environment" in config file /cfg/openadapt/telemetry.json: NaN: expected a string; using "production""#
            )]
        );
        // what is not a bare word is still malformed
        for bad in [r#"{"sample_rate": NaNa}"#, r#"{"sample_rate": nan}"#] {
            let c = run(&[], Some(bad), &Overrides::default());
            assert!(matches!(c.file_state(), FileState::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn non_finite_marks_round_trip() {
        let text = r#"{"a": NaN, "b": [Infinity, -Infinity], "s": "NaN \" Infinity", "c": 1}"#;
        let marked = mark_non_finite(text);
        let value: Value = serde_json::from_str(&marked).unwrap();
        assert_eq!(non_finite(&value["a"]), Some("NaN"));
        assert_eq!(non_finite(&value["b"][1]), Some("-Infinity"));
        assert_eq!(value["s"], "NaN \" Infinity");
        let back = unmark_non_finite(&value.to_string());
        assert_eq!(
            back,
            r#"{"a":NaN,"b":[Infinity,-Infinity],"c":1,"s":"NaN \" Infinity"}"#
        );
    }

    #[test]
    fn an_unreadable_opt_out_variable_fails_closed() {
        let builder = Overrides {
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        // what the default lookup returns for `1\xff`, `false\xff`, …
        for name in FAIL_CLOSED_VARIABLES {
            for value in ["1\u{fffd}", "false\u{fffd}", "/home/\u{fffd}", "\u{fffd}"] {
                let mut pairs = vec![(SAMPLE_RATE, "2"), (ENABLED, "true")];
                pairs.retain(|(k, _)| *k != name);
                pairs.push((name, value));
                let c = run(&pairs, None, &builder);
                assert_eq!(
                    show(c.enabled()),
                    ("false".to_owned(), Source::NotUtf8(name)),
                    "{name}={value:?}"
                );
                assert_eq!(
                    c.warnings(),
                    [warn(&format!(
                        "environment variable {name} is not valid UTF-8; telemetry is off"
                    ))],
                    "{name}={value:?}"
                );
            }
        }
        // other variables: their usual handling
        let c = run(&[(SAMPLE_RATE, "0.5\u{fffd}")], None, &builder);
        assert!(on(&c));
        assert_eq!(c.warnings().len(), 1);
    }

    #[test]
    fn process_env_marks_bytes_that_are_not_utf8() {
        assert_eq!(
            process_env("OPENADAPT_TELEMETRY_SURELY_UNSET_VARIABLE"),
            None
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let raw = std::ffi::OsStr::from_bytes(b"1\xff");
            assert!(not_utf8(&raw.to_string_lossy()));
        }
        assert!(!not_utf8("1"));
    }

    #[test]
    fn usage_dsn_and_its_failures() {
        let builder = Overrides {
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        let c = run(&[], None, &builder);
        assert_eq!(show(c.usage_dsn()), ("None".to_owned(), Source::Default));
        assert!(*c.feature_usage().value());

        let c = run(
            &[(USAGE_DSN, "https://secretkey@usage.example")],
            None,
            &builder,
        );
        assert!(on(&c), "errors still have their DSN");
        assert_eq!(
            show(c.usage_dsn()),
            ("None".to_owned(), Source::Env(USAGE_DSN))
        );
        assert_eq!(
            show(c.feature_usage()),
            ("false".to_owned(), Source::Env(USAGE_DSN))
        );
        assert_eq!(
            c.warnings(),
            [warn(
                r#"invalid OPENADAPT_TELEMETRY_USAGE_DSN "https://***@usage.example": expected a DSN like https://KEY@HOST/PROJECT_ID (empty path); usage events are off"#
            )]
        );
        let c = run(&[], Some(r#"{"usage_dsn": 7}"#), &builder);
        assert_eq!(show(c.feature_usage()), ("false".to_owned(), from_file()));
        assert_eq!(c.warnings().len(), 1);
        // a usage DSN of its own does not need the error DSN
        let c = run(
            &[(USAGE_DSN, "https://k@usage.example/2")],
            None,
            &Overrides::default(),
        );
        assert_eq!(
            c.usage_dsn().value().as_deref(),
            Some("https://k@usage.example/2")
        );
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn usage_events_are_off_in_ci_unless_asked_for() {
        let b = Overrides::default();
        /// Variables, file, expected `feature_usage`, number of warnings.
        type Case = (Pairs, Option<&'static str>, (&'static str, Source), usize);
        let cases: &[Case] = &[
            (&[], None, ("true", Source::Default), 0),
            (&[("CI", "true")], None, ("false", Source::Ci("CI")), 0),
            (
                &[("GITHUB_ACTIONS", "true")],
                Some(r#"{"feature_usage": true}"#),
                ("false", Source::Ci("GITHUB_ACTIONS")),
                0,
            ),
            (&[("CI", "false")], None, ("true", Source::Default), 0),
            (
                &[("CI", "1"), (IN_CI, "true")],
                None,
                ("true", Source::Default),
                0,
            ),
            (
                &[("CI", "1"), (IN_CI, "YES")],
                None,
                ("true", Source::Default),
                0,
            ),
            (
                &[("CI", "1"), (IN_CI, "0")],
                None,
                ("false", Source::Ci("CI")),
                0,
            ),
            (
                &[("CI", "1"), (IN_CI, "please")],
                None,
                ("false", Source::Ci("CI")),
                1,
            ),
            // an explicit "no" keeps its own source
            (
                &[("CI", "1")],
                Some(r#"{"feature_usage": false}"#),
                ("false", from_file()),
                0,
            ),
        ];
        for (pairs, text, (value, source), warnings) in cases {
            let c = run(pairs, *text, &b);
            assert_eq!(
                show(c.feature_usage()),
                ((*value).to_owned(), source.clone()),
                "{pairs:?}"
            );
            assert_eq!(
                c.warnings().len(),
                *warnings,
                "{pairs:?}: {:?}",
                c.warnings()
            );
            // errors and transactions are still on
            assert!(*c.error_tracking().value() && *c.performance_tracking().value());
        }
        let c = run(&[("CI", "1"), (IN_CI, "please")], None, &b);
        assert_eq!(
            c.warnings(),
            [warn(
                r#"invalid OPENADAPT_TELEMETRY_IN_CI "please": expected true/false, 1/0, yes/no or on/off; usage events are not sent in CI"#
            )]
        );
    }

    #[test]
    fn ci_names_its_variable() {
        let c = run(&[("BUILDKITE", "true")], None, &Overrides::default());
        assert_eq!(show(c.ci()), ("true".to_owned(), Source::Env("BUILDKITE")));
        let c = run(&[("CI", "0")], None, &Overrides::default());
        assert_eq!(show(c.ci()), ("false".to_owned(), Source::Detected));
    }

    #[test]
    fn a_repository_opt_out_turns_everything_off() -> TestResult {
        let dir = scratch("repository")?;
        let cwd = dir.join("repo").join("crates").join("tool");
        std::fs::create_dir_all(&cwd)?;
        let signals = || Signals {
            cwd: Some(cwd.clone()),
            debug_build: false,
        };
        let home = text_of(&dir)?;
        let builder = Overrides {
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        let check = |manifest: &Path, table: &str, value: &str| -> TestResult {
            let c = resolve(
                &env_of(&[("HOME", home), (ENABLED, "true"), (SAMPLE_RATE, "9")]),
                &FileChoice::None,
                &builder,
                signals(),
            );
            assert_eq!(
                show(c.enabled()),
                (
                    "false".to_owned(),
                    Source::Manifest {
                        path: manifest.to_owned(),
                        table: if table == "[tool.openadapt]" {
                            "[tool.openadapt]"
                        } else {
                            "[workspace.metadata.openadapt]"
                        },
                        value: value.to_owned(),
                    }
                )
            );
            assert!(c.warnings().is_empty(), "{:?}", c.warnings());
            Ok(())
        };
        // a pyproject.toml two levels up
        let pyproject = dir.join("repo").join("pyproject.toml");
        std::fs::write(
            &pyproject,
            "[project]\nname = \"x\"\n\n[tool.openadapt]\ntelemetry = false  # the whole org\n",
        )?;
        check(&pyproject, "[tool.openadapt]", "false")?;
        std::fs::remove_file(&pyproject)?;
        // a Cargo.toml with workspace metadata, likewise
        let cargo = dir.join("repo").join("Cargo.toml");
        std::fs::write(
            &cargo,
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.metadata.openadapt]\ntelemetry = false\n",
        )?;
        check(&cargo, "[workspace.metadata.openadapt]", "false")?;
        // DO_NOT_TRACK still names itself
        let c = resolve(
            &env_of(&[("HOME", home), (DO_NOT_TRACK, "1")]),
            &FileChoice::None,
            &builder,
            signals(),
        );
        assert_eq!(c.enabled().source(), &Source::DoNotTrack);
        // telemetry = true: on
        std::fs::write(&cargo, "[workspace.metadata.openadapt]\ntelemetry = true\n")?;
        let c = resolve(
            &env_of(&[("HOME", home)]),
            &FileChoice::None,
            &builder,
            signals(),
        );
        assert!(on(&c));
        // no working directory: no walk
        std::fs::write(
            &cargo,
            "[workspace.metadata.openadapt]\ntelemetry = false\n",
        )?;
        let c = resolve(
            &env_of(&[("HOME", home)]),
            &FileChoice::None,
            &builder,
            Signals::default(),
        );
        assert!(on(&c));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn the_install_id_and_where_it_is_kept() {
        let b = Overrides::default();
        let id = "3f0e8a51-61a4-4bd6-9c38-5b8d1c9b6c2e";
        let c = run(&[(DISTINCT_ID, id)], None, &b);
        assert_eq!(c.distinct_id(), Some(id));
        assert!(c.warnings().is_empty());
        for bad in ["two words", "ü", &"x".repeat(129)] {
            let c = run(&[(DISTINCT_ID, bad)], None, &b);
            assert_eq!(c.distinct_id(), None, "{bad}");
            assert_eq!(c.warnings().len(), 1, "{bad}");
        }
        // where the id file is: the home directory's, whatever the config file
        let pairs = [("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")];
        let c = resolve(&env_of(&pairs), &FileChoice::Locate, &b, Signals::default());
        assert_eq!(
            c.id_file(),
            Some(Path::new("/home/u/.openadapt/telemetry_distinct_id"))
        );
        // the crate's former file was beside the file it read (the XDG one)
        assert_eq!(
            c.legacy_id_file(),
            Some(Path::new("/xdg/openadapt/anonymous_id"))
        );
        let c = resolve(
            &env_of(&[("HOME", "/home/u")]),
            &FileChoice::Path(PathBuf::from("/etc/t.json")),
            &b,
            Signals::default(),
        );
        assert_eq!(
            c.id_file(),
            Some(Path::new("/home/u/.openadapt/telemetry_distinct_id"))
        );
        assert_eq!(c.legacy_id_file(), Some(Path::new("/etc/anonymous_id")));
        // an injected environment without HOME never reaches the real home
        let c = resolve(
            &env_of(&[]),
            &FileChoice::Path(PathBuf::from("/etc/t.json")),
            &b,
            Signals::default(),
        );
        assert_eq!(c.id_file(), None);
        let c = resolve(&env_of(&pairs), &FileChoice::None, &b, Signals::default());
        assert_eq!((c.id_file(), c.legacy_id_file()), (None, None));
    }

    #[cfg(unix)]
    #[test]
    fn hostile_config_files_are_invalid_at_once() -> TestResult {
        let dir = scratch("hostile")?;
        let fifo = dir.join("fifo.json");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()?
                .success()
        );
        let to_fifo = dir.join("to-fifo.json");
        std::os::unix::fs::symlink(&fifo, &to_fifo)?;
        let to_zero = dir.join("to-zero.json");
        std::os::unix::fs::symlink("/dev/zero", &to_zero)?;
        let big = dir.join("big.json");
        let mut text = String::from("{\"pad\": \"");
        text.push_str(&"x".repeat(5 << 20));
        text.push_str("\"}");
        std::fs::write(&big, text)?;
        let folder = dir.join("folder.json");
        std::fs::create_dir_all(&folder)?;
        let fifo_reason = "it is a FIFO (named pipe), not a regular file";
        let cases: [(&Path, &str); 5] = [
            (&fifo, fifo_reason),
            (&to_fifo, fifo_reason),
            (&to_zero, "it is a character device, not a regular file"),
            (&folder, "it is a directory"),
            (&big, "it is larger than 1 MiB"),
        ];
        for (path, reason) in cases {
            let started = std::time::Instant::now();
            let c = resolve(
                &env_of(&[]),
                &FileChoice::Path(path.to_owned()),
                &Overrides::default(),
                Signals::default(),
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{reason}"
            );
            assert_eq!(c.file_state(), &FileState::Invalid(reason.to_owned()));
            assert_eq!(
                show(c.enabled()),
                ("false".to_owned(), Source::File(path.to_owned()))
            );
            assert_eq!(
                c.warnings(),
                [warn(&format!(
                    "invalid config file {}: {reason}; telemetry is off",
                    path.display()
                ))]
            );
            // the CLI's rewrite refuses it unforced, and forced unless it is a
            // regular file (the large one)
            let error = Config::write_enabled(path, false, false)
                .err()
                .ok_or("no error")?;
            let forced = Config::write_enabled(path, false, true);
            if path == folder {
                assert_eq!(error.kind(), &ConfigErrorKind::IsDirectory);
                assert!(forced.is_err());
            } else if path == big {
                assert_eq!(error.kind(), &ConfigErrorKind::Invalid(reason.to_owned()));
                assert!(forced.is_ok());
            } else {
                assert!(
                    matches!(error.kind(), ConfigErrorKind::NotRegularFile(_)),
                    "{error}"
                );
                assert!(forced.is_err());
            }
        }
        assert!(
            std::fs::symlink_metadata(&to_zero)?
                .file_type()
                .is_symlink()
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn write_enabled_refuses_a_dangling_link_and_writes_privately() -> TestResult {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = scratch("write-private")?;
        let link = dir.join("telemetry.json");
        let nowhere = dir.join("dotfiles").join("telemetry.json");
        std::os::unix::fs::symlink(&nowhere, &link)?;
        let error = Config::write_enabled(&link, false, true)
            .err()
            .ok_or("no error")?;
        assert_eq!(
            error.kind(),
            &ConfigErrorKind::DanglingLink(nowhere.clone())
        );
        assert_eq!(
            error.to_string(),
            format!(
                "config file {} is a symbolic link to {}, which does not exist: create that file, or remove the link",
                link.display(),
                nowhere.display()
            )
        );
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert!(!nowhere.exists() && !dir.join("dotfiles").exists());

        let mode = |p: &Path| -> Result<u32, std::io::Error> {
            Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
        };
        let path = dir.join("new").join("openadapt").join("telemetry.json");
        Config::write_enabled(&path, false, false)?;
        assert_eq!(mode(&path)?, 0o600);
        assert_eq!(mode(&dir.join("new"))?, 0o700);
        assert_eq!(mode(&dir.join("new").join("openadapt"))?, 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Config::write_enabled(&path, true, false)?;
        assert_eq!(mode(&path)?, 0o644);

        // Python's bare NaN survives a rewrite
        std::fs::write(&path, r#"{"enabled": true, "sample_rate": NaN}"#)?;
        Config::write_enabled(&path, false, false)?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            "{\n  \"enabled\": false,\n  \"sample_rate\": NaN\n}\n"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
