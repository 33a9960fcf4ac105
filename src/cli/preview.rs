//! `preview`: a short demonstration through the real pipeline in preview
//! mode, and what it would have sent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::{DEBUG_FILE_VAR, DO_NOT_TRACK, Failure, NAME, VERSION, process_vars, say, why};
use crate::config::Config;
use crate::telemetry::Telemetry;

const ENV_PREFIX: &str = "OPENADAPT_TELEMETRY_";

/// `preview`.
pub(super) fn preview() -> Result<ExitCode, Failure> {
    let file = PreviewFile::create()
        .map_err(|e| Failure::Failed(format!("cannot create a temporary file: {e}")))?;
    // The default settings, whatever the user's: nothing is sent, so an opt-out
    // does not stop the demonstration. Only the internal-usage variables pass.
    let mut vars: HashMap<String, String> = process_vars()
        .filter(|(k, _)| !k.starts_with(ENV_PREFIX) && k != DO_NOT_TRACK)
        .collect();
    vars.insert(DEBUG_FILE_VAR.to_owned(), file.path.display().to_string());
    let telemetry = Telemetry::builder(NAME, VERSION)
        .env_lookup(move |name| vars.get(name).cloned())
        .no_config_file()
        .preview(true)
        .traces_sample_rate(1.0)
        .global(false)
        .capture_panics(false)
        .init();
    if !telemetry.is_enabled() {
        return Err(Failure::Failed(format!(
            "cannot start the preview: {}",
            why(telemetry.config())
        )));
    }

    let current = Config::load();
    let mut out = String::from(
        "A short demonstration went through the real pipeline (tracing layer, client,\n\
         privacy gate) in preview mode. Nothing was sent. It did:\n\
         \x20 - an error with a cause; its message holds an email address and a path in\n\
         \x20   your home folder, and a field is named api_key\n\
         \x20 - an info and a warning (breadcrumbs: sent only with a later error)\n\
         \x20 - a span (a performance transaction; with the default settings 1 in 100 is sent)\n\
         \x20 - a feature use (counted: one usage event per feature per flush)\n",
    );
    if !current.enabled().value {
        out.push_str(&format!(
            "Telemetry is off here ({}): none of this would be sent.\n",
            why(&current)
        ));
    }
    demonstration(&telemetry);
    telemetry.flush(Duration::from_secs(5));
    drop(telemetry);

    let text = std::fs::read_to_string(&file.path)
        .map_err(|e| Failure::Failed(format!("cannot read the preview: {e}")))?;
    let items: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    out.push_str(&format!(
        "\nWhat would be sent ({} items, after the privacy gate):\n",
        items.len()
    ));
    for (n, item) in items.iter().enumerate() {
        let pretty = serde_json::to_string_pretty(item).unwrap_or_default();
        out.push_str(&format!("\n{}. {}\n{pretty}\n", n + 1, describe(item)));
    }
    out.push_str(
        "\nWhen a program sends to a server, each item also carries user.id, the\n\
         anonymous id (see `openadapt-telemetry status`).\n\
         To see what a real program sends: OPENADAPT_TELEMETRY_DEBUG=1 <program>\n",
    );
    say(&out);
    Ok(ExitCode::SUCCESS)
}

/// A temporary file for the preview items, removed on drop.
struct PreviewFile {
    path: PathBuf,
}

impl PreviewFile {
    fn create() -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "{NAME}-preview-{}-{}.jsonl",
            std::process::id(),
            sentry::types::random_uuid().simple()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Self { path })
    }
}

impl Drop for PreviewFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a preview item is, in a few words.
fn describe(item: &Value) -> String {
    if item.get("type").and_then(Value::as_str) == Some("transaction")
        || item.get("start_timestamp").is_some()
    {
        let name = item
            .get("transaction")
            .and_then(Value::as_str)
            .unwrap_or("?");
        return format!("a performance transaction (span {name:?})");
    }
    if let Some(feature) = item.pointer("/tags/feature").and_then(Value::as_str) {
        return format!("a feature-usage event ({feature:?})");
    }
    if item.get("exception").is_some() {
        return "an error event, with its cause and the breadcrumbs before it".to_owned();
    }
    match item.get("level").and_then(Value::as_str) {
        Some(level) => format!("an event (level {level})"),
        None => "an item".to_owned(),
    }
}

/// The error of the demonstration: a message with personal data, and a cause.
#[derive(Debug)]
struct ExportError {
    path: String,
    source: std::io::Error,
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not export the report to {}", self.path)
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The demonstration's target: the layer ignores this crate's own events
/// (`openadapt_telemetry`, the binary's name too).
const DEMO: &str = "demo";

fn demonstration(telemetry: &Telemetry) {
    use tracing_subscriber::prelude::*;

    let home = dirs::home_dir()
        .map(|home| home.display().to_string())
        .unwrap_or_else(|| "/home/alice".to_owned());
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(target: DEMO, "export_report", feature = "preview.export")
            .entered();
        let path = format!("{home}/Documents/report.pdf");
        tracing::info!(target: DEMO, pages = 12, "exporting {path}");
        tracing::warn!(target: DEMO, attempt = 1, "disk almost full, retrying");
        let error = ExportError {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "permission denied for alice@example.com",
            ),
        };
        tracing::error!(
            target: DEMO,
            error = &error as &dyn std::error::Error,
            api_key = "sk-demo-0123456789abcdef",
            pages = 12,
            "export failed"
        );
        drop(span);
    });
}
