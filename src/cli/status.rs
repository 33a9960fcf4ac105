//! `status`: whether telemetry is on and why, every setting with its source,
//! the config files, the install id and the spool, as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{
    DEBUG_FILE_VAR, DEBUG_VAR, Failure, NAME, dsn_summary, on_off, origin, rate, say, spooled, why,
    yes_no,
};
use crate::TELEMETRY_HELP;
use crate::config::{Config, ConfigFile, FileState, Preview, Setting, Source};
use crate::identity::AnonymousId;
use crate::spool;

/// The install id as `status` shows it: the value, or why there is none.
enum IdState {
    NoFolder,
    Variable(String),
    Missing(PathBuf),
    Present(PathBuf, String),
    /// The error, and whether a program replaces the file (it does not hold a UUID).
    Broken(PathBuf, String, bool),
}

fn id_state(config: &Config) -> IdState {
    if let Some(id) = config.distinct_id() {
        return IdState::Variable(id.to_owned());
    }
    let Some(id) = AnonymousId::of(config) else {
        return IdState::NoFolder;
    };
    let path = id.path().to_owned();
    match id.load() {
        Ok(Some(value)) => IdState::Present(path, value),
        Ok(None) => IdState::Missing(path),
        Err(e) => IdState::Broken(
            path,
            e.to_string(),
            e.kind() == std::io::ErrorKind::InvalidData,
        ),
    }
}

/// `status [--json]`.
pub(super) fn status(as_json: bool) -> Result<ExitCode, Failure> {
    let config = Config::load();
    let id = id_state(&config);
    if as_json {
        let mut text = serde_json::to_string_pretty(&status_json(&config, &id))
            .map_err(|e| Failure::Failed(format!("cannot print the status: {e}")))?;
        text.push('\n');
        say(&text);
    } else {
        say(&status_text(&config, &id));
    }
    let mut code = ExitCode::SUCCESS;
    for file in config.config_files() {
        if let FileState::Invalid(reason) = file.state() {
            eprintln!(
                "{NAME}: invalid config file {}: {reason}; telemetry is off",
                file.path().display()
            );
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// A DSN row of `status`: host and project, or none and what that means.
fn dsn_row(setting: &Setting<Option<String>>, none: &str) -> (String, String) {
    match setting.value.as_deref().and_then(dsn_summary) {
        Some((host, project)) => (
            format!("{host}, project {project}"),
            format!("{} (key not shown)", origin(&setting.source)),
        ),
        None if setting.source != Source::Default => (
            "none".to_owned(),
            format!("{}: it does not parse", origin(&setting.source)),
        ),
        None => (
            "none".to_owned(),
            format!("{}: {none}", origin(&setting.source)),
        ),
    }
}

fn status_text(config: &Config, id: &IdState) -> String {
    use std::fmt::Write as _;

    let mut out = String::new();
    let on = config.enabled().value;
    let _ = writeln!(
        out,
        "Telemetry is {}, decided by: {}.",
        on_off(on).to_uppercase(),
        why(config)
    );
    if on && config.dsn().value.is_none() {
        let _ = writeln!(
            out,
            "No DSN is configured here (packages bring their own): a package with one sends."
        );
    }
    match config.preview() {
        Some(Preview::Stderr) => {
            let _ = writeln!(
                out,
                "Preview is on ({DEBUG_VAR}): programs print what they would send to stderr, and send nothing."
            );
        }
        Some(Preview::File(path)) => {
            let _ = writeln!(
                out,
                "Preview is on ({DEBUG_FILE_VAR}): programs append what they would send to {}, and send nothing.",
                path.display()
            );
        }
        _ => {}
    }

    let _ = writeln!(out, "\nSettings (value, and where it comes from):");
    let mut row = |key: &str, value: String, source: String| {
        let _ = writeln!(out, "  {key:<21} {value:<24} {source}");
    };
    row("enabled", on_off(on).to_owned(), why(config));
    let (value, source) = dsn_row(config.dsn(), "no DSN configured (packages bring their own)");
    row("dsn", value, source);
    let (value, source) = dsn_row(config.usage_dsn(), "usage events go to the dsn");
    row("usage_dsn", value, source);
    row(
        "environment",
        config.environment().value.clone(),
        origin(&config.environment().source),
    );
    row(
        "sample_rate",
        rate(config.sample_rate().value),
        origin(&config.sample_rate().source),
    );
    row(
        "traces_sample_rate",
        rate(config.traces_sample_rate().value),
        origin(&config.traces_sample_rate().source),
    );
    for (key, setting) in [
        ("error_tracking", config.error_tracking()),
        ("performance_tracking", config.performance_tracking()),
        ("feature_usage", config.feature_usage()),
        ("send_default_pii", config.send_default_pii()),
    ] {
        row(key, setting.value.to_string(), origin(&setting.source));
    }
    row(
        "internal",
        yes_no(config.internal().value).to_owned(),
        format!(
            "{}: {}",
            origin(&config.internal().source),
            config.internal_reason()
        ),
    );
    row(
        "ci",
        yes_no(config.ci().value).to_owned(),
        match config.ci().source {
            Source::Env(name) => format!("{name} is set"),
            _ => "no CI variable is set".to_owned(),
        },
    );
    let _ = writeln!(
        out,
        "  Priority: DO_NOT_TRACK > repository opt-out > environment variables > config file > package default > default."
    );

    let _ = writeln!(out);
    match (config.file_path(), config.file_state()) {
        (Some(path), FileState::Loaded) => {
            let _ = writeln!(out, "Config file:  {} (read)", path.display());
        }
        (Some(path), FileState::NotFound) => {
            let _ = writeln!(
                out,
                "Config file:  {} (does not exist: nothing set there)",
                path.display()
            );
        }
        (Some(path), FileState::Invalid(reason)) => {
            let _ = writeln!(
                out,
                "Config file:  {} (invalid: {reason}; telemetry is off until it is fixed, or replaced with `{NAME} enable --force`)",
                path.display()
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "Config file:  none (no home folder: set OPENADAPT_TELEMETRY_CONFIG)"
            );
        }
    }
    for file in config.config_files().iter().skip(1) {
        let _ = match file.state() {
            FileState::Invalid(reason) => writeln!(
                out,
                "Config file:  {} (invalid: {reason}; telemetry is off until it is fixed)",
                file.path().display()
            ),
            _ => writeln!(
                out,
                "Config file:  {} (read too: its keys win; \"enabled\": false in either file turns telemetry off)",
                file.path().display()
            ),
        };
    }
    let _ = match id {
        IdState::Variable(value) => writeln!(
            out,
            "Anonymous id: {value} (from OPENADAPT_TELEMETRY_DISTINCT_ID)"
        ),
        IdState::Present(path, value) => {
            writeln!(out, "Anonymous id: {value} ({})", path.display())
        }
        IdState::Missing(path) => writeln!(
            out,
            "Anonymous id: none yet ({} is made the first time a program sends; never while telemetry is off)",
            path.display()
        ),
        IdState::Broken(path, error, replaced) => writeln!(
            out,
            "Anonymous id: unusable ({}: {error}; {})",
            path.display(),
            if *replaced {
                "it is replaced the next time a program sends"
            } else {
                "programs send no id until it is removed"
            }
        ),
        IdState::NoFolder => writeln!(out, "Anonymous id: none (no home folder)"),
    };
    let _ = writeln!(out, "Spool:        {}", spool_text(&spooled()));

    if !config.warnings().is_empty() {
        let _ = writeln!(out, "\nProblems:");
        for warning in config.warnings() {
            let line = warning
                .strip_prefix("openadapt-telemetry: ")
                .unwrap_or(warning);
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = write!(out, "\n{TELEMETRY_HELP}");
    out
}

fn file_json(file: &ConfigFile) -> Value {
    let (state, error) = match file.state() {
        FileState::Loaded => ("loaded", None),
        FileState::NotFound => ("not_found", None),
        FileState::Invalid(reason) => ("invalid", Some(reason.clone())),
        _ => ("not_used", None),
    };
    json!({ "path": file.path().display().to_string(), "state": state, "error": error })
}

/// How long ago `time` was, in the largest whole unit.
fn age(time: SystemTime) -> String {
    let secs = time.elapsed().map_or(0, |d| d.as_secs());
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

fn spool_text(spool: &Option<(PathBuf, spool::Summary)>) -> String {
    match spool {
        None => "none (no cache folder)".to_owned(),
        Some((dir, summary)) if summary.envelopes == 0 => format!("empty ({})", dir.display()),
        Some((dir, summary)) => format!(
            "{} {} ({} bytes) waiting to be sent, the oldest written {} ago ({})",
            summary.envelopes,
            if summary.envelopes == 1 {
                "report"
            } else {
                "reports"
            },
            summary.bytes,
            summary.oldest.map_or_else(|| "?".to_owned(), age),
            dir.display()
        ),
    }
}

fn spool_json(spool: &Option<(PathBuf, spool::Summary)>) -> Value {
    let Some((dir, summary)) = spool else {
        return json!({ "path": null, "envelopes": 0, "bytes": 0, "oldest": null, "oldest_age_seconds": null });
    };
    let since_epoch = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let age = |t: SystemTime| t.elapsed().map_or(0, |d| d.as_secs());
    json!({
        "path": dir.display().to_string(),
        "envelopes": summary.envelopes,
        "bytes": summary.bytes,
        "oldest": summary.oldest.map(since_epoch),
        "oldest_age_seconds": summary.oldest.map(age),
    })
}

fn status_json(config: &Config, id: &IdState) -> Value {
    fn setting<T>(setting: &Setting<T>, value: Value) -> Value {
        json!({ "value": value, "source": origin(&setting.source) })
    }
    let number = |value: f32| {
        rate(value)
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    };
    let dsn = |setting: &Setting<Option<String>>| {
        setting
            .value
            .as_deref()
            .and_then(dsn_summary)
            .map(|(host, project)| json!({ "host": host, "project_id": project }))
            .unwrap_or(Value::Null)
    };
    let main = match config.config_files().first() {
        Some(file) => file_json(file),
        None => json!({ "path": null, "state": "not_used", "error": null }),
    };
    let (id_value, id_path, id_error) = match id {
        IdState::Variable(value) => (Some(value.clone()), None, None),
        IdState::Present(path, value) => (Some(value.clone()), Some(path), None),
        IdState::Missing(path) => (None, Some(path), None),
        IdState::Broken(path, error, _) => (None, Some(path), Some(error.clone())),
        IdState::NoFolder => (None, None, None),
    };
    let preview = match config.preview() {
        Some(Preview::Stderr) => Value::from("stderr"),
        Some(Preview::File(path)) => Value::from(path.display().to_string()),
        _ => Value::Null,
    };
    json!({
        "enabled": config.enabled().value,
        "why": why(config),
        "settings": {
            "enabled": setting(config.enabled(), Value::from(config.enabled().value)),
            "dsn": setting(config.dsn(), dsn(config.dsn())),
            "usage_dsn": setting(config.usage_dsn(), dsn(config.usage_dsn())),
            "environment": setting(config.environment(), Value::from(config.environment().value.clone())),
            "sample_rate": setting(config.sample_rate(), number(config.sample_rate().value)),
            "traces_sample_rate": setting(config.traces_sample_rate(), number(config.traces_sample_rate().value)),
            "error_tracking": setting(config.error_tracking(), Value::from(config.error_tracking().value)),
            "performance_tracking": setting(config.performance_tracking(), Value::from(config.performance_tracking().value)),
            "feature_usage": setting(config.feature_usage(), Value::from(config.feature_usage().value)),
            "send_default_pii": setting(config.send_default_pii(), Value::from(config.send_default_pii().value)),
        },
        "internal": {
            "value": config.internal().value,
            "source": origin(&config.internal().source),
            "reason": config.internal_reason(),
        },
        "ci": setting(config.ci(), Value::from(config.ci().value)),
        "preview": preview,
        "config_file": main,
        "config_files": config.config_files().iter().map(file_json).collect::<Vec<_>>(),
        "anonymous_id": {
            "value": id_value,
            "path": id_path.map(|p| p.display().to_string()),
            "error": id_error,
            "from_variable": matches!(id, IdState::Variable(_)),
        },
        "warnings": config.warnings().iter().map(|w| w.strip_prefix("openadapt-telemetry: ").unwrap_or(w)).collect::<Vec<_>>(),
        "spool": spool_json(&spooled()),
        "help": TELEMETRY_HELP,
    })
}
