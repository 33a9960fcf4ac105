//! Configuration with provenance: crate defaults < builder (package defaults) <
//! config file < environment, and `DO_NOT_TRACK` above everything.
//!
//! Resolution is a pure function, [`resolve`], over an injected environment lookup,
//! a [`FileChoice`] and the [`Overrides`] a package set on its builder, so tests
//! need neither `std::env::set_var` nor the real home directory. It never fails and
//! never panics: a bad value costs that value (or, for the file, a DSN, `enabled`
//! and `send_default_pii`, costs telemetry itself) plus one warning line.
//!
//! Decisions:
//!
//! - An empty or all-blank variable, a JSON `null` and a blank JSON string all
//!   count as "not set". Values are trimmed.
//! - A bad value falls through to the next source (env, then file, then builder,
//!   then the crate default); the warning names the value actually used.
//! - Fail closed where a bad value could mean "off": an unreadable or malformed
//!   file, an `enabled` that is not a boolean, a DSN that does not parse, and
//!   `send_default_pii: true` all turn telemetry off.
//! - Only the effective value of a key is checked: a bad builder DSN hidden by a
//!   good `OPENADAPT_TELEMETRY_DSN` is not reported.
//! - `DO_NOT_TRACK` disables when set to anything but `0`/`false`/`no`/`off`
//!   (`1` and `true` are the documented values).
//! - When the user (or package) opted out — `DO_NOT_TRACK`, or `enabled` false
//!   from any source — everything is still resolved (so `status` can show it) but
//!   [`Config::warnings`] is empty: nobody is nagged about settings that are unused.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use crate::internal::{self, Signals};

const PREFIX: &str = "openadapt-telemetry: ";

const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
const ENABLED: &str = "OPENADAPT_TELEMETRY_ENABLED";
const DSN: &str = "OPENADAPT_TELEMETRY_DSN";
const ENVIRONMENT: &str = "OPENADAPT_TELEMETRY_ENVIRONMENT";
const SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_SAMPLE_RATE";
const TRACES_SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE";
const CONFIG: &str = "OPENADAPT_TELEMETRY_CONFIG";
const DEBUG: &str = "OPENADAPT_TELEMETRY_DEBUG";
const DEBUG_FILE: &str = "OPENADAPT_TELEMETRY_DEBUG_FILE";

const DEFAULT_ENVIRONMENT: &str = "production";
const DEFAULT_SAMPLE_RATE: f32 = 1.0;
const DEFAULT_TRACES_SAMPLE_RATE: f32 = 0.01;

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

/// State of the config file.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// There is no file at the path: the normal case, not an error.
    NotFound,
    /// The file was read and is a JSON object.
    Loaded,
    /// The file cannot be read or is not a JSON object: telemetry is off. The
    /// string is a one-line reason.
    Invalid(String),
    /// No path could be determined, or the caller chose not to read a file.
    NotUsed,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    enabled: Setting<bool>,
    internal: Setting<bool>,
    internal_reason: String,
    dsn: Setting<Option<String>>,
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
    warnings: Vec<String>,
}

impl Config {
    /// Resolve from the real process environment and the default config file
    /// location, with no package defaults.
    pub fn load() -> Self {
        resolve(
            &|name| std::env::var(name).ok(),
            &FileChoice::Locate,
            &Overrides::default(),
            Signals::detect(),
        )
    }

    /// Whether telemetry runs: the final decision, after `DO_NOT_TRACK`, an invalid
    /// config file, a DSN that does not parse and a refused `send_default_pii`.
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

    /// The DSN to send to; only a DSN that parses, `None` if there is none.
    pub fn dsn(&self) -> &Setting<Option<String>> {
        &self.dsn
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

    /// Whether feature-usage counts are reported.
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

    /// The config file consulted, if a path could be determined.
    pub fn file_path(&self) -> Option<&Path> {
        self.file_path.as_deref()
    }

    /// What happened when the config file was read.
    pub fn file_state(&self) -> &FileState {
        &self.file_state
    }

    /// Problems found, one line each, ready for stderr, each starting
    /// `openadapt-telemetry: `. Empty when the user opted out (`DO_NOT_TRACK` or
    /// `enabled` false): settings that are not used are not complained about.
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
    /// `OPENADAPT_TELEMETRY_CONFIG`, else the default location (see [`default_path`]).
    Locate,
    /// This file.
    Path(PathBuf),
    /// This text, as if read from this path (for tests).
    #[cfg(test)]
    Contents { path: PathBuf, text: String },
    /// No file.
    None,
}

/// The config file's top-level object, as parsed by [`parse_file`].
#[derive(Debug, Clone)]
pub(crate) struct FileValues {
    path: PathBuf,
    object: serde_json::Map<String, Value>,
}

impl FileValues {
    /// The value of `key`; `None` when absent, `null` or a blank string.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.object.get(key).filter(|value| {
            !value.is_null() && !value.as_str().is_some_and(|s| s.trim().is_empty())
        })
    }
}

/// Parse the config file's text; the error is a one-line reason.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<FileValues, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Object(object) => Ok(FileValues {
            path: path.to_owned(),
            object,
        }),
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

/// The config file to read when none is named explicitly:
/// `OPENADAPT_TELEMETRY_CONFIG`, else `$XDG_CONFIG_HOME/openadapt/telemetry.json`
/// (only if absolute), else `$HOME/.config/openadapt/telemetry.json` (`HOME` from
/// `env`, else [`dirs::home_dir`]), the same file the Python packages use.
pub(crate) fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = var(env, CONFIG) {
        return Some(PathBuf::from(path));
    }
    let relative = Path::new("openadapt").join("telemetry.json");
    if let Some(xdg) = var(env, "XDG_CONFIG_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Some(xdg.join(relative));
    }
    let home = var(env, "HOME")
        .map(PathBuf::from)
        .or_else(dirs::home_dir)?;
    Some(home.join(".config").join(relative))
}

/// The variable `name`, trimmed; `None` when unset, empty or blank.
pub(crate) fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
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
        clip(value.to_string())
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
        match value.as_str() {
            Some(s) => Self::show_text(s),
            None => clip(value.to_string()),
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
        if let Some(file) = self.file
            && let Some(json) = file.get(key)
        {
            let source = Source::File(file.path.clone());
            offers.push(match T::from_json(json) {
                Ok(value) => Ok(Setting::new(value, source)),
                Err(why) => Err((
                    source,
                    format!(
                        "invalid \"{key}\" in config file {}: {}: {why}",
                        file.path.display(),
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
    /// "telemetry is off" and returned as [`Outcome::Bad`].
    fn first<T: Kind>(
        &mut self,
        key: &str,
        vars: &[&'static str],
        builder: Option<T>,
    ) -> Outcome<T> {
        match self.offers(key, vars, builder).into_iter().next() {
            Some(Ok(setting)) => Outcome::Valid(setting),
            Some(Err((source, problem))) => {
                self.warn(format!("{problem}; telemetry is off"));
                Outcome::Bad(source)
            }
            None => Outcome::Unset,
        }
    }
}

/// Read the config file chosen: its path, state, values, and a warning if any.
fn read_file(
    env: &dyn Fn(&str) -> Option<String>,
    choice: &FileChoice,
) -> (
    Option<PathBuf>,
    FileState,
    Option<FileValues>,
    Option<String>,
) {
    let (path, text) = match choice {
        FileChoice::None => return (None, FileState::NotUsed, None, None),
        #[cfg(test)]
        FileChoice::Contents { path, text } => (path.clone(), Ok(Some(text.clone()))),
        FileChoice::Path(path) => (path.clone(), read_text(path)),
        FileChoice::Locate => match default_path(env) {
            Some(path) => {
                let text = read_text(&path);
                (path, text)
            }
            None => return (None, FileState::NotUsed, None, None),
        },
    };
    let parsed = match text {
        Ok(Some(text)) => parse_file(&path, &text),
        Ok(None) => {
            let warning = (matches!(choice, FileChoice::Locate) && var(env, CONFIG).is_some())
                .then(|| {
                    format!(
                        "{PREFIX}config file {} named by {CONFIG} does not exist",
                        path.display()
                    )
                });
            return (Some(path), FileState::NotFound, None, warning);
        }
        Err(reason) => Err(reason),
    };
    match parsed {
        Ok(values) => (Some(path), FileState::Loaded, Some(values), None),
        Err(reason) => {
            let warning = format!(
                "{PREFIX}invalid config file {}: {reason}; telemetry is off",
                path.display()
            );
            (Some(path), FileState::Invalid(reason), None, Some(warning))
        }
    }
}

/// The file's text, `None` if it does not exist, or a one-line reason.
fn read_text(path: &Path) -> Result<Option<String>, String> {
    if path.is_dir() {
        return Err("it is a directory".to_owned());
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// Resolve the configuration from the environment, the config file, the builder
/// values and the process signals (for internal detection).
pub(crate) fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileChoice,
    builder: &Overrides,
    signals: Signals,
) -> Config {
    let (file_path, file_state, values, file_warning) = read_file(env, file);
    let mut r = Resolver {
        env,
        file: values.as_ref(),
        warnings: Vec::new(),
    };
    r.warnings.extend(file_warning);

    let do_not_track = var(env, DO_NOT_TRACK).is_some_and(|v| parse_bool(&v) != Some(false));
    // `wanted` is what the user or package asked for; `opted_out` when that is a
    // valid "no" (a bad `enabled` value is off too, but reported).
    let (wanted, said_no) = match r.first("enabled", &[ENABLED], builder.enabled) {
        Outcome::Valid(setting) => {
            let no = !setting.value;
            (setting, no)
        }
        Outcome::Bad(source) => (Setting::new(false, source), false),
        Outcome::Unset => (Setting::new(true, Source::Default), false),
    };
    let opted_out = do_not_track || said_no;

    let (detected, detected_reason) = internal::detect(env, signals);
    let internal = r.pick(
        "internal",
        &internal::EXPLICIT_VARIABLES,
        builder.internal,
        Setting::new(detected, Source::Detected),
    );
    let internal_reason = match &internal.source {
        Source::Env(_) => internal::explicit(env).map_or(detected_reason, |e| e.reason()),
        Source::Detected => detected_reason,
        source => format!("\"internal\": {} from {source}", internal.value),
    };

    let (dsn, bad_dsn) = match r.first("dsn", &[DSN], builder.dsn.clone().map(DsnText)) {
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
    let feature_usage = r.pick(
        "feature_usage",
        &[],
        builder.feature_usage,
        Setting::new(true, Source::Default),
    );
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

    let enabled = if do_not_track {
        Setting::new(false, Source::DoNotTrack)
    } else if !wanted.value {
        wanted
    } else if let (FileState::Invalid(_), Some(path)) = (&file_state, &file_path) {
        Setting::new(false, Source::File(path.clone()))
    } else if let Some(source) = bad_dsn {
        Setting::new(false, source)
    } else if send_default_pii.value {
        Setting::new(false, send_default_pii.source.clone())
    } else {
        wanted
    };

    let mut warnings = r.warnings;
    if opted_out {
        warnings.clear();
    }
    Config {
        enabled,
        internal,
        internal_reason,
        dsn,
        environment,
        sample_rate,
        traces_sample_rate,
        error_tracking,
        performance_tracking,
        feature_usage,
        send_default_pii,
        preview,
        file_path,
        file_state,
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
    /// enable`/`disable` do, keeping every other key (unknown ones too).
    ///
    /// The file is rewritten atomically: the new text goes to a temporary file
    /// in the same folder, which then replaces the old one, so a reader never
    /// sees half a file. The folder is created if needed; a symbolic link is
    /// followed (its target is rewritten, the link stays); the old file's
    /// permissions are kept. Nothing is written when the file already says so.
    ///
    /// A file that cannot be read or is not a JSON object is left alone, unless
    /// `force` is true: then it is replaced by `{"enabled": …}`.
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
            Ok(meta) if meta.file_type().is_symlink() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
            }
            _ => path.to_owned(),
        };
        if target.is_dir() {
            return Err(error(ConfigErrorKind::IsDirectory, None));
        }
        let parsed = match read_text(&target) {
            Ok(None) => Ok(serde_json::Map::new()),
            Ok(Some(text)) => parse_file(&target, &text).map(|values| values.object),
            Err(reason) => Err(reason),
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
            .map_err(|e| error(ConfigErrorKind::Write, Some(std::io::Error::other(e))))?;
        text.push('\n');
        write_atomic(&target, text.as_bytes()).map_err(|e| error(ConfigErrorKind::Write, Some(e)))
    }
}

/// Replaces `path` with `contents` atomically: a temporary file in the same
/// folder (created if needed), synced, then renamed over `path`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temp = write_temp(path, contents)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Writes `contents` to a new, synced temporary file beside `path` (creating
/// the folder), with `path`'s permissions if it exists; returns its path.
pub(crate) fn write_temp(path: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        )
    })?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        sentry::types::random_uuid().simple()
    ));
    // create_new: never follows a planted link, never reuses someone else's file
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let written = (|| {
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(contents)?;
        file.sync_all()
    })();
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
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
            Layered {
                key: "internal",
                var: Some(("OPENADAPT_INTERNAL", "yes")),
                file: "false",
                builder: |b| b.internal = Some(true),
                get: |c| show(c.internal()),
                default: "false",
                default_source: Source::Detected,
                from_builder: "true",
                from_file: "false",
                from_env: "true",
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
    fn internal_dev_variable_and_reasons() {
        let b = Overrides::default();
        let c = run(
            &[("OPENADAPT_DEV", "1")],
            Some(r#"{"internal": false}"#),
            &b,
        );
        assert_eq!(
            show(c.internal()),
            ("true".to_owned(), Source::Env("OPENADAPT_DEV"))
        );
        assert_eq!(c.internal_reason(), "OPENADAPT_DEV=1");

        let c = run(&[("OPENADAPT_INTERNAL", "false"), ("CI", "true")], None, &b);
        assert_eq!(
            show(c.internal()),
            ("false".to_owned(), Source::Env("OPENADAPT_INTERNAL"))
        );
        assert_eq!(
            c.internal_reason(),
            "OPENADAPT_INTERNAL=false (overrides detection)"
        );

        let c = run(&[("CI", "true")], Some(r#"{"internal": false}"#), &b);
        assert_eq!(show(c.internal()), ("false".to_owned(), from_file()));
        assert_eq!(
            c.internal_reason(),
            format!("\"internal\": false from config file {FILE}")
        );

        let c = run(&[("GITLAB_CI", "true")], None, &b);
        assert_eq!(show(c.internal()), ("true".to_owned(), Source::Detected));
        assert_eq!(c.internal_reason(), "CI variable GITLAB_CI is set");

        let signals = Signals {
            cwd_has_git: true,
            debug_build: false,
        };
        let c = resolve(&env_of(&[]), &FileChoice::None, &b, signals);
        assert_eq!(show(c.internal()), ("true".to_owned(), Source::Detected));
        assert_eq!(c.internal_reason(), ".git in the working directory");
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
    fn default_path_table() {
        let cases: &[(Pairs, Option<&str>)] = &[
            (
                &[("HOME", "/home/u")],
                Some("/home/u/.config/openadapt/telemetry.json"),
            ),
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")],
                Some("/xdg/openadapt/telemetry.json"),
            ),
            // a relative XDG_CONFIG_HOME is ignored, as the XDG spec says
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "xdg")],
                Some("/home/u/.config/openadapt/telemetry.json"),
            ),
            (
                &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "")],
                Some("/home/u/.config/openadapt/telemetry.json"),
            ),
            (
                &[
                    ("HOME", "/home/u"),
                    ("XDG_CONFIG_HOME", "/xdg"),
                    (CONFIG, "/etc/t.json"),
                ],
                Some("/etc/t.json"),
            ),
            (
                &[("HOME", "/home/u"), (CONFIG, "")],
                Some("/home/u/.config/openadapt/telemetry.json"),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                default_path(&env_of(pairs)),
                expected.map(PathBuf::from),
                "{pairs:?}"
            );
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

    #[test]
    fn locate_reads_the_named_or_xdg_file() -> TestResult {
        let dir = scratch("locate")?;
        let named = dir.join("named.json");
        std::fs::write(&named, r#"{"environment": "named"}"#)?;
        std::fs::create_dir_all(dir.join("openadapt"))?;
        std::fs::write(
            dir.join("openadapt/telemetry.json"),
            r#"{"environment": "xdg"}"#,
        )?;
        let xdg = text_of(&dir)?;
        let b = Overrides::default();
        let locate = |pairs: &[(&str, &str)]| {
            resolve(&env_of(pairs), &FileChoice::Locate, &b, Signals::default())
        };

        let c = locate(&[
            ("HOME", "/nonexistent"),
            ("XDG_CONFIG_HOME", xdg),
            (CONFIG, text_of(&named)?),
        ]);
        assert_eq!(c.environment().value(), "named");
        assert_eq!(c.environment().source(), &Source::File(named.clone()));
        assert_eq!(c.file_path(), Some(named.as_path()));

        let c = locate(&[("HOME", "/nonexistent"), ("XDG_CONFIG_HOME", xdg)]);
        assert_eq!(c.environment().value(), "xdg");
        assert_eq!(c.file_state(), &FileState::Loaded);

        // the default location missing is normal
        let c = locate(&[("HOME", "/nonexistent")]);
        assert_eq!(c.file_state(), &FileState::NotFound);
        assert_eq!(
            c.file_path(),
            Some(Path::new("/nonexistent/.config/openadapt/telemetry.json"))
        );
        assert!(c.warnings().is_empty());
        assert!(on(&c));

        // a named file missing is reported, but does not turn telemetry off
        let missing = dir.join("missing.json");
        let c = locate(&[(CONFIG, text_of(&missing)?)]);
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
        let path = Path::new(FILE);
        assert!(parse_file(path, "{}").is_ok());
        let cases = [
            ("[1]", "expected a JSON object, found an array"),
            ("1", "expected a JSON object, found a number"),
            ("null", "expected a JSON object, found null"),
            ("true", "expected a JSON object, found a boolean"),
            ("{", "EOF while parsing an object at line 1 column 1"),
        ];
        for (text, reason) in cases {
            assert_eq!(
                parse_file(path, text).err().as_deref(),
                Some(reason),
                "{text}"
            );
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
}
