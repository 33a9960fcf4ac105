//! Helpers shared by the config modules' unit tests: an injected environment,
//! a config file given as text, resolution with no other input, scratch
//! folders under the system temporary directory.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{Config, FileChoice, Overrides, PREFIX, Setting, Source, resolve};
use crate::internal::Signals;

/// Environment variables for one case.
pub(super) type Pairs = &'static [(&'static str, &'static str)];

pub(super) const FILE: &str = "/cfg/openadapt/telemetry.json";
pub(super) const GOOD_DSN: &str = "https://key@errors.example/1";

pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

pub(super) fn file(text: &str) -> FileChoice {
    FileChoice::Contents {
        path: PathBuf::from(FILE),
        text: text.to_owned(),
    }
}

pub(super) fn from_file() -> Source {
    Source::File(PathBuf::from(FILE))
}

/// Resolve with no internal signals; `text` `None` means no config file.
pub(super) fn run(pairs: &[(&str, &str)], text: Option<&str>, builder: &Overrides) -> Config {
    let choice = text.map_or(FileChoice::None, file);
    resolve(&env_of(pairs), &choice, builder, Signals::default())
}

pub(super) fn warn(line: &str) -> String {
    format!("{PREFIX}{line}")
}

pub(super) fn show<T: fmt::Debug>(setting: &Setting<T>) -> (String, Source) {
    (format!("{:?}", setting.value), setting.source.clone())
}

pub(super) fn on(c: &Config) -> bool {
    c.enabled().value
}

pub(super) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh directory under the system temporary directory (never the home).
pub(super) fn scratch(name: &str) -> Result<PathBuf, std::io::Error> {
    let dir = std::env::temp_dir().join(format!(
        "openadapt-telemetry-config-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub(super) fn text_of(path: &Path) -> Result<&str, &'static str> {
    path.to_str().ok_or("temporary path is not UTF-8")
}
