//! The pure resolution: crate defaults < builder ([`Overrides`]) < config
//! file < environment, each value with its [`Source`], the opt-outs above
//! everything, and one warning line per bad value (the rules are in the docs
//! of [`config`](super)).

use std::path::PathBuf;
use std::str::FromStr;

use serde_json::Value;

use super::env::{
    DEBUG, DEBUG_FILE, DISTINCT_ID, DO_NOT_TRACK, DSN, ENABLED, ENVIRONMENT, FAIL_CLOSED_VARIABLES,
    IN_CI, SAMPLE_RATE, TRACES_SAMPLE_RATE, USAGE_DSN, not_utf8, parse_bool,
};
use super::file::{
    FileChoice, FileValues, ID_FILE, LEGACY_ID_FILE, home_dir, json_text, non_finite, read_files,
};
use super::{Config, PREFIX, Preview, Setting, Source, manifest};
use crate::internal::{self, Signals, var};

const DEFAULT_ENVIRONMENT: &str = "production";
const DEFAULT_SAMPLE_RATE: f32 = 1.0;
const DEFAULT_TRACES_SAMPLE_RATE: f32 = 0.01;

#[cfg(feature = "cli")]
impl Config {
    /// Resolve from the real process environment, the default config file
    /// locations and the working directory, with no package defaults: what
    /// the command line shows and changes.
    pub(crate) fn load() -> Self {
        resolve(
            &super::env::process_env,
            &FileChoice::Locate,
            &Overrides::default(),
            Signals::detect(),
        )
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::FileState;
    use crate::config::test_support::*;

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
            assert_eq!(c.internal().value, internal, "{value}");
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
        assert!(!c.internal().value);
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
                    on(c) && c.sample_rate().value == 1.0 && c.traces_sample_rate().value == 0.01
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
                check: |c| on(c) && c.dsn().value.as_deref() == Some(GOOD_DSN),
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
                        && c.send_default_pii().value
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
    fn usage_dsn_and_its_failures() {
        let builder = Overrides {
            dsn: Some(GOOD_DSN.to_owned()),
            ..Overrides::default()
        };
        let c = run(&[], None, &builder);
        assert_eq!(show(c.usage_dsn()), ("None".to_owned(), Source::Default));
        assert!(c.feature_usage().value);

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
            c.usage_dsn().value.as_deref(),
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
            assert!(c.error_tracking().value && c.performance_tracking().value);
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
        assert_eq!(c.enabled().source, Source::DoNotTrack);
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
}
