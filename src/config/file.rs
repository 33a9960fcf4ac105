//! The config files: where they are ([`locate`]), reading and parsing them
//! (Python's bare `NaN` and `Infinity` included), and
//! [`Config::write_enabled`], the rewrite behind `openadapt-telemetry
//! enable`/`disable`, written through [`crate::fs`].

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::env::{CONFIG, HOME, XDG_CONFIG_HOME};
#[cfg(any(test, feature = "cli"))]
use super::{Config, ConfigError, ConfigErrorKind};
use super::{ConfigFile, FileState, PREFIX};
#[cfg(any(test, feature = "cli"))]
use crate::fs::ReadError;
use crate::fs::{self, CONFIG_LIMIT};
use crate::internal::var;

/// The config file's place under the config folder (`~/.config`, `$XDG_CONFIG_HOME`).
const RELATIVE: [&str; 2] = ["openadapt", "telemetry.json"];
/// The install id file, under the home directory: the Python package's.
pub(super) const ID_FILE: [&str; 2] = [".openadapt", "telemetry_distinct_id"];
/// The crate's former id file, beside the config file.
pub(super) const LEGACY_ID_FILE: &str = "anonymous_id";

/// Which config file to read.
#[derive(Debug, Clone)]
pub(crate) enum FileChoice {
    /// `OPENADAPT_TELEMETRY_CONFIG`, else the shared file and the XDG one (see
    /// [`locate`]).
    Locate,
    /// This file.
    #[cfg_attr(
        not(any(test, feature = "test-util")),
        expect(
            dead_code,
            reason = "chosen by `TelemetryBuilder::config_file` (feature `test-util`)"
        )
    )]
    Path(PathBuf),
    /// This text, as if read from this path (for tests).
    #[cfg(test)]
    Contents { path: PathBuf, text: String },
    /// No file.
    #[cfg_attr(
        not(any(test, feature = "test-util", feature = "cli")),
        expect(
            dead_code,
            reason = "chosen by `TelemetryBuilder::no_config_file` (features `test-util`, `cli`)"
        )
    )]
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
    pub(super) fn get(&self, key: &str) -> Option<(&Value, &Path)> {
        self.layers.iter().find_map(|(path, object)| {
            object
                .get(key)
                .filter(|value| is_set(value))
                .map(|value| (value, path.as_path()))
        })
    }

    /// `"enabled": false` in any file (an opt-out in either wins), else the
    /// `enabled` of the file whose keys win.
    pub(super) fn enabled(&self) -> Option<(&Value, &Path)> {
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
pub(super) fn non_finite(value: &Value) -> Option<&'static str> {
    let text = value.as_str()?;
    NON_FINITE
        .iter()
        .find(|(_, marker)| *marker == text)
        .map(|(word, _)| *word)
}

/// `value` as JSON text, markers written back as their bare words, as Python
/// wrote them.
pub(super) fn json_text(value: &Value) -> String {
    match non_finite(value) {
        Some(word) => word.to_owned(),
        None => value.to_string(),
    }
}

/// `text` (serialised JSON) with every marker string written back as its bare
/// word, so a file rewritten by `enable`/`disable` keeps Python's `NaN`.
#[cfg(any(test, feature = "cli"))]
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
pub(super) fn home_dir(env: &dyn Fn(&str) -> Option<String>, fallback: bool) -> Option<PathBuf> {
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

/// What reading the config files found.
#[derive(Debug)]
pub(super) struct FilesRead {
    /// The main file.
    pub(super) main: Option<PathBuf>,
    /// Its state.
    pub(super) state: FileState,
    /// Every file consulted, the main one first.
    pub(super) files: Vec<ConfigFile>,
    /// The values of the files that loaded.
    pub(super) values: Option<FileValues>,
    /// The first file that is invalid (telemetry is then off).
    pub(super) invalid: Option<PathBuf>,
    /// The folder of the crate's former id file.
    pub(super) legacy_dir: Option<PathBuf>,
    /// Problems, one line each, with the prefix.
    pub(super) warnings: Vec<String>,
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
pub(super) fn read_files(env: &dyn Fn(&str) -> Option<String>, choice: &FileChoice) -> FilesRead {
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

/// What [`Config::write_enabled`] does with a config file that cannot be read
/// or is not a JSON object.
#[cfg(any(test, feature = "cli"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfInvalid {
    /// Leave it alone, and fail with [`ConfigErrorKind::Invalid`].
    Refuse,
    /// Replace it (`enable --force`, `disable --force`).
    Replace,
}

#[cfg(any(test, feature = "cli"))]
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
    /// A file that cannot be read or is not a JSON object is left alone
    /// ([`IfInvalid::Refuse`]) or replaced by `{"enabled": …}`
    /// ([`IfInvalid::Replace`]). A directory, a FIFO, a device or a socket is
    /// never replaced.
    pub(crate) fn write_enabled(
        path: &Path,
        enabled: bool,
        invalid: IfInvalid,
    ) -> Result<(), ConfigError> {
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
            Err(_) if invalid == IfInvalid::Replace => serde_json::Map::new(),
            Err(reason) => return Err(error(ConfigErrorKind::Invalid(reason), None)),
        };
        object.insert("enabled".to_owned(), Value::Bool(enabled));
        let mut text = serde_json::to_string_pretty(&Value::Object(object))
            .map(|text| unmark_non_finite(&text))
            .map_err(|e| error(ConfigErrorKind::Write, Some(std::io::Error::other(e))))?;
        text.push('\n');
        fs::write_atomic(&target, text.as_bytes(), fs::Flush::Synced)
            .map_err(|e| error(ConfigErrorKind::Write, Some(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;
    use crate::config::{Overrides, Source, resolve};
    use crate::internal::Signals;

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
    fn a_file_with_a_byte_order_mark_parses() {
        let c = run(
            &[],
            Some("\u{feff}{\"environment\": \"dev\"}"),
            &Overrides::default(),
        );
        assert_eq!(c.file_state(), &FileState::Loaded);
        assert_eq!(c.environment().value, "dev");
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
        assert_eq!(c.environment().value, "shared");
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
        assert_eq!(c.environment().source, Source::File(named.clone()));
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
    fn write_enabled_keeps_other_keys_and_creates_the_folder() -> TestResult {
        let dir = scratch("write")?;
        let path = dir.join("new").join("openadapt").join("telemetry.json");
        Config::write_enabled(&path, false, IfInvalid::Refuse)?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            "{\n  \"enabled\": false\n}\n"
        );

        std::fs::write(
            &path,
            r#"{"enabled": false, "environment": "dev", "future_key": {"nested": [1, 2]}}"#,
        )?;
        Config::write_enabled(&path, true, IfInvalid::Refuse)?;
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        assert_eq!(
            value,
            serde_json::json!({"enabled": true, "environment": "dev", "future_key": {"nested": [1, 2]}})
        );
        // already so: the file is not rewritten
        let before = std::fs::read_to_string(&path)?;
        std::fs::write(&path, before.replace('\n', " "))?;
        Config::write_enabled(&path, true, IfInvalid::Refuse)?;
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
            let error = Config::write_enabled(&path, false, IfInvalid::Refuse)
                .err()
                .ok_or("no error")?;
            assert_eq!(error.kind(), &ConfigErrorKind::Invalid(reason.to_owned()));
            assert_eq!(
                error.to_string(),
                format!("cannot update config file {}: {reason}", path.display())
            );
            assert_eq!(std::fs::read_to_string(&path)?, text);
            Config::write_enabled(&path, false, IfInvalid::Replace)?;
            assert_eq!(
                std::fs::read_to_string(&path)?,
                "{\n  \"enabled\": false\n}\n"
            );
        }
        let error = Config::write_enabled(&dir, false, IfInvalid::Replace)
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
        Config::write_enabled(&link, false, IfInvalid::Refuse)?;
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
            let error = Config::write_enabled(path, false, IfInvalid::Refuse)
                .err()
                .ok_or("no error")?;
            let forced = Config::write_enabled(path, false, IfInvalid::Replace);
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
        let error = Config::write_enabled(&link, false, IfInvalid::Replace)
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
        Config::write_enabled(&path, false, IfInvalid::Refuse)?;
        assert_eq!(mode(&path)?, 0o600);
        assert_eq!(mode(&dir.join("new"))?, 0o700);
        assert_eq!(mode(&dir.join("new").join("openadapt"))?, 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Config::write_enabled(&path, true, IfInvalid::Refuse)?;
        assert_eq!(mode(&path)?, 0o644);

        // Python's bare NaN survives a rewrite
        std::fs::write(&path, r#"{"enabled": true, "sample_rate": NaN}"#)?;
        Config::write_enabled(&path, false, IfInvalid::Refuse)?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            "{\n  \"enabled\": false,\n  \"sample_rate\": NaN\n}\n"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
