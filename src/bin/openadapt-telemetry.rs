//! `openadapt-telemetry`: see and change what OpenAdapt telemetry sends from
//! this machine. Built with the `cli` feature:
//! `cargo install openadapt-telemetry --features cli`.
//!
//! Commands: `status` (`--json`), `enable`, `disable` (`--force`), `preview`,
//! `send-test` (`--dsn URL`), `reset-id` (`--delete`); `--help` for each.
//! Exit codes: 0 success, 1 failure, 2 bad command line.
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openadapt_telemetry::cli_spool;
use openadapt_telemetry::{
    AnonymousId, Config, ConfigErrorKind, ConfigFile, Delivery, FileState, Preview, Setting,
    Source, TELEMETRY_HELP, Telemetry,
};
use serde_json::{Value, json};

const NAME: &str = "openadapt-telemetry";
const VERSION: &str = env!("CARGO_PKG_VERSION");

const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
const ENV_PREFIX: &str = "OPENADAPT_TELEMETRY_";
const DSN_VAR: &str = "OPENADAPT_TELEMETRY_DSN";
const ENABLED_VAR: &str = "OPENADAPT_TELEMETRY_ENABLED";
const DEBUG_VAR: &str = "OPENADAPT_TELEMETRY_DEBUG";
const DEBUG_FILE_VAR: &str = "OPENADAPT_TELEMETRY_DEBUG_FILE";

/// Where a user sends an old anonymous id to have its data erased.
const ERASURE: &str = "https://docs.openadapt.ai/telemetry";
/// How long `send-test` waits for the server.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{NAME}: {}", error.message());
            error.exit_code()
        }
    }
}

/// Why the command failed; the message is one line, lowercase.
#[derive(Debug)]
enum Failure {
    /// The command line is wrong: exit code 2.
    Usage(String),
    /// The command could not do its job: exit code 1.
    Failed(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Self::Usage(message) | Self::Failed(message) => message,
        }
    }

    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Failed(_) => ExitCode::FAILURE,
        }
    }
}

/// An error and its `source()` chain on one line: `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes to stdout, ignoring a closed pipe (`openadapt-telemetry status | head`).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The process environment, for a telemetry instance this tool starts: names
/// that are not UTF-8 are left out; values that are not are kept with U+FFFD in
/// place of the bad bytes, so an unreadable opt-out still turns telemetry off.
fn process_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
}

// ---------------------------------------------------------------------------
// The command line

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Status,
    Enable,
    Disable,
    Preview,
    SendTest,
    ResetId,
}

const COMMANDS: [(&str, Name); 6] = [
    ("status", Name::Status),
    ("enable", Name::Enable),
    ("disable", Name::Disable),
    ("preview", Name::Preview),
    ("send-test", Name::SendTest),
    ("reset-id", Name::ResetId),
];

impl Name {
    fn parse(text: &str) -> Option<Self> {
        COMMANDS
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, command)| *command)
    }

    fn as_str(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(_, command)| *command == self)
            .map_or("", |(name, _)| name)
    }

    fn help(self) -> &'static str {
        match self {
            Self::Status => STATUS_HELP,
            Self::Enable => ENABLE_HELP,
            Self::Disable => DISABLE_HELP,
            Self::Preview => PREVIEW_HELP,
            Self::SendTest => SEND_TEST_HELP,
            Self::ResetId => RESET_ID_HELP,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help(Option<Name>),
    Version,
    Status { json: bool },
    Enable { force: bool },
    Disable { force: bool },
    Preview,
    SendTest { dsn: Option<String> },
    ResetId { delete: bool },
}

fn run(args: Vec<OsString>) -> Result<ExitCode, Failure> {
    match parse(args)? {
        Command::Help(None) => {
            say(&main_help());
            Ok(ExitCode::SUCCESS)
        }
        Command::Help(Some(name)) => {
            say(name.help());
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            say(&format!("{NAME} {VERSION}\n"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => status(json),
        Command::Enable { force } => set_enabled(true, force),
        Command::Disable { force } => set_enabled(false, force),
        Command::Preview => preview(),
        Command::SendTest { dsn } => send_test(dsn),
        Command::ResetId { delete } => reset_id(delete),
    }
}

const COMMAND_LIST: &str = "status, enable, disable, preview, send-test or reset-id";

fn parse(args: Vec<OsString>) -> Result<Command, Failure> {
    let args = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| Failure::Usage(format!("argument {arg:?} is not valid UTF-8")))
        })
        .collect::<Result<Vec<String>, Failure>>()?;
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Err(Failure::Usage(format!(
            "a command is required: {COMMAND_LIST} (see {NAME} --help)"
        )));
    };
    let name = match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(None)),
        "-V" | "--version" => return Ok(Command::Version),
        "help" => {
            return match args.next() {
                None => Ok(Command::Help(None)),
                Some(topic) => match Name::parse(&topic) {
                    Some(name) => Ok(Command::Help(Some(name))),
                    None => Err(unknown_command(&topic)),
                },
            };
        }
        option if option.starts_with('-') => {
            return Err(Failure::Usage(format!(
                "unknown option {option:?} (see {NAME} --help)"
            )));
        }
        command => Name::parse(command).ok_or_else(|| unknown_command(command))?,
    };

    let mut json = false;
    let mut force = false;
    let mut delete = false;
    let mut dsn = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let bad = || {
            Failure::Usage(format!(
                "unexpected argument {arg:?} for {} (see {NAME} {} --help)",
                name.as_str(),
                name.as_str()
            ))
        };
        match (name, flag) {
            (_, "-h" | "--help") if inline.is_none() => return Ok(Command::Help(Some(name))),
            (Name::Status, "--json") if inline.is_none() => json = true,
            (Name::Enable | Name::Disable, "--force") if inline.is_none() => force = true,
            (Name::ResetId, "--delete") if inline.is_none() => delete = true,
            (Name::SendTest, "--dsn") => {
                let value = match inline {
                    Some(value) => value,
                    None => args.next().ok_or_else(|| {
                        Failure::Usage(format!(
                            "--dsn needs a value: --dsn URL (see {NAME} send-test --help)"
                        ))
                    })?,
                };
                dsn = Some(value);
            }
            _ => return Err(bad()),
        }
    }
    Ok(match name {
        Name::Status => Command::Status { json },
        Name::Enable => Command::Enable { force },
        Name::Disable => Command::Disable { force },
        Name::Preview => Command::Preview,
        Name::SendTest => Command::SendTest { dsn },
        Name::ResetId => Command::ResetId { delete },
    })
}

fn unknown_command(command: &str) -> Failure {
    Failure::Usage(format!(
        "unknown command {command:?}: expected {COMMAND_LIST} (see {NAME} --help)"
    ))
}

fn main_help() -> String {
    format!(
        "\
{NAME} {VERSION}
See and change what OpenAdapt telemetry sends from this machine.

Usage: {NAME} <COMMAND> [OPTIONS]

Commands:
  status      Whether telemetry is on and why; every setting and where it comes from
  enable      Turn telemetry on in the config file
  disable     Turn telemetry off in the config file; delete the install id and the spool
  preview     Show what would be sent, for a short demonstration (sends nothing)
  send-test   Send one test event to the configured server and report its answer
  reset-id    Replace the install id with a new random one (or delete it)
  help        This help, or a command's: help COMMAND

Options:
  -h, --help     This help (COMMAND --help: the command's)
  -V, --version  The version

Files: the config file is ~/.config/openadapt/telemetry.json, shared with the
Python packages; $XDG_CONFIG_HOME/openadapt/telemetry.json is read too when it
exists (its keys win, and \"enabled\": false in either file turns telemetry off);
$OPENADAPT_TELEMETRY_CONFIG names one file, used alone. The install id (the
anonymous id) is ~/.openadapt/telemetry_distinct_id, shared with the Python
packages, unless OPENADAPT_TELEMETRY_DISTINCT_ID is set. Reports not yet sent
wait in the spool, <cache folder>/openadapt/telemetry-spool (~/.cache/... on
Linux, ~/Library/Caches/... on macOS, %LOCALAPPDATA%\\... on Windows).
Exit codes: 0 success, 1 failure, 2 bad command line.

{TELEMETRY_HELP}"
    )
}

const STATUS_HELP: &str = "\
Usage: openadapt-telemetry status [--json]

Shows whether telemetry is on and why (DO_NOT_TRACK, a variable, a config
file, a repository opt-out in a pyproject.toml or Cargo.toml, or the default),
every setting with the place it comes from, whether this use counts as
internal and why, whether it runs in CI, the config files and their state, the
DSNs' hosts and projects (never their keys), the install id, the spool
(how many reports wait there to be sent, their size, and the oldest one's
age), and what is collected.

Exits with 1 when a config file cannot be used (not JSON, not an object,
unreadable, not a regular file, larger than 1 MiB): telemetry is then off.

Options:
  --json     Print one JSON object instead
  -h, --help This help
";

const ENABLE_HELP: &str = "\
Usage: openadapt-telemetry enable [--force]

Sets \"enabled\": true in the config file ~/.config/openadapt/telemetry.json
(and in $XDG_CONFIG_HOME/openadapt/telemetry.json when that file exists, or
in $OPENADAPT_TELEMETRY_CONFIG alone), keeping every other key, and prints the
resulting state. Each file is replaced atomically; a new file is private (0600)
and a new folder too (0700). A symbolic link is written through; a link to
nothing is refused. DO_NOT_TRACK, OPENADAPT_TELEMETRY_ENABLED and a repository
opt-out still override the file: the command says so when one of them does.

Options:
  --force    Replace a config file that cannot be parsed (a copy is kept as .bak)
  -h, --help This help
";

const DISABLE_HELP: &str = "\
Usage: openadapt-telemetry disable [--force]

Sets \"enabled\": false in the config file ~/.config/openadapt/telemetry.json
(and in $XDG_CONFIG_HOME/openadapt/telemetry.json when that file exists, or
in $OPENADAPT_TELEMETRY_CONFIG alone), keeping every other key, deletes the
install id and the spool (reports not yet sent) and prints the resulting
state. The Python packages read the same
file. Each file is replaced atomically; a new file is private (0600) and a new
folder too (0700). A symbolic link is written through; a link to nothing is
refused. OPENADAPT_TELEMETRY_ENABLED=true in the environment still overrides
the file: the command says so.

Options:
  --force    Replace a config file that cannot be parsed (a copy is kept as .bak)
  -h, --help This help
";

const PREVIEW_HELP: &str = "\
Usage: openadapt-telemetry preview

Runs a short demonstration through the real pipeline (tracing layer, client,
privacy gate) in preview mode, and prints each item that would be sent: an
error with a cause whose message holds an email address and a path in your
home folder, a warning, a sampled span and a feature use. Nothing is sent,
whatever the settings. It uses the default settings, with every span sampled.

To see what a real program sends: OPENADAPT_TELEMETRY_DEBUG=1 <program>.

Options:
  -h, --help This help
";

const SEND_TEST_HELP: &str = "\
Usage: openadapt-telemetry send-test [--dsn URL]

Sends one test event (level info, message \"openadapt-telemetry test event\")
to the configured DSN (OPENADAPT_TELEMETRY_DSN, else \"dsn\" in the config file)
and prints the server's answer: accepted, rate limited, refused (with the HTTP
status), redirected (never followed: check the DSN) or unreachable. Exits with
0 only when the server accepted it. Nothing is sent while telemetry is off.

Options:
  --dsn URL  Send to this DSN instead
  -h, --help This help
";

const RESET_ID_HELP: &str = "\
Usage: openadapt-telemetry reset-id [--delete]

Replaces the install id (a random UUID sent as the user id, never derived
from the machine or the user) with a new random one, and prints the old one:
send it to the maintainers to have the data sent under it erased. While
telemetry is off no new id is made. The id is the file
~/.openadapt/telemetry_distinct_id, shared with the Python packages.

Options:
  --delete   Only delete the id (a new one is made when a program next sends)
  -h, --help This help
";

// ---------------------------------------------------------------------------
// Explaining a configuration

/// A variable of the process environment, trimmed (a value that is not UTF-8
/// is shown with U+FFFD).
fn env_text(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().trim().to_owned())
}

/// Where a value comes from (`Source`'s text); for `DO_NOT_TRACK`, its value.
/// Never a variable's value otherwise: `OPENADAPT_TELEMETRY_DSN` holds a key.
fn origin(source: &Source) -> String {
    match source {
        Source::DoNotTrack => match env_text(DO_NOT_TRACK) {
            Some(value) => format!("{DO_NOT_TRACK}={value}"),
            None => source.to_string(),
        },
        Source::NotUtf8(name) => format!("environment variable {name} is not valid UTF-8"),
        _ => source.to_string(),
    }
}

/// Why telemetry is on or off: the source that decided (with the variable's
/// value, or the file's `"enabled"`), and the problem behind a fail-closed
/// "off" (invalid file, bad DSN, `send_default_pii`).
fn why(config: &Config) -> String {
    let on = *config.enabled().value();
    let decided = config.enabled().source();
    let origin = match decided {
        Source::Env(name) if *name == ENABLED_VAR => match env_text(name) {
            Some(value) => format!("{decided}={value}"),
            None => decided.to_string(),
        },
        _ => origin(decided),
    };
    if let Source::File(path) = decided
        && let Some(FileState::Invalid(reason)) = config
            .config_files()
            .iter()
            .find(|file| file.path() == path)
            .map(ConfigFile::state)
    {
        return format!("{origin} is invalid: {reason}");
    }
    if !on
        && config.dsn().value().is_none()
        && config.dsn().source() == decided
        && *config.dsn().source() != Source::Default
    {
        return format!("{origin}: its DSN does not parse");
    }
    if !on && *config.send_default_pii().value() && config.send_default_pii().source() == decided {
        return format!("{origin}: send_default_pii is true, and sending personal data is refused");
    }
    match decided {
        Source::File(_) => format!("{origin} (\"enabled\": {on})"),
        _ => origin,
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

/// The DSN's host and project, never its key.
fn dsn_summary(dsn: &str) -> Option<(String, String)> {
    let dsn = dsn.parse::<sentry::types::Dsn>().ok()?;
    let host = if dsn.port() == dsn.scheme().default_port() {
        dsn.host().to_owned()
    } else {
        format!("{}:{}", dsn.host(), dsn.port())
    };
    Some((host, dsn.project_id().to_string()))
}

/// A sample rate as written (`0.01`, not `0.009999999776482582`).
fn rate(value: f32) -> String {
    format!("{value:?}")
}

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

// ---------------------------------------------------------------------------
// status

fn status(as_json: bool) -> Result<ExitCode, Failure> {
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
    match setting.value().as_deref().and_then(dsn_summary) {
        Some((host, project)) => (
            format!("{host}, project {project}"),
            format!("{} (key not shown)", origin(setting.source())),
        ),
        None if *setting.source() != Source::Default => (
            "none".to_owned(),
            format!("{}: it does not parse", origin(setting.source())),
        ),
        None => (
            "none".to_owned(),
            format!("{}: {none}", origin(setting.source())),
        ),
    }
}

fn status_text(config: &Config, id: &IdState) -> String {
    use std::fmt::Write as _;

    let mut out = String::new();
    let on = *config.enabled().value();
    let _ = writeln!(
        out,
        "Telemetry is {}, decided by: {}.",
        on_off(on).to_uppercase(),
        why(config)
    );
    if on && config.dsn().value().is_none() {
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
    let s = |setting: &Setting<bool>| setting.value().to_string();
    row(
        "environment",
        config.environment().value().clone(),
        origin(config.environment().source()),
    );
    row(
        "sample_rate",
        rate(*config.sample_rate().value()),
        origin(config.sample_rate().source()),
    );
    row(
        "traces_sample_rate",
        rate(*config.traces_sample_rate().value()),
        origin(config.traces_sample_rate().source()),
    );
    row(
        "error_tracking",
        s(config.error_tracking()),
        origin(config.error_tracking().source()),
    );
    row(
        "performance_tracking",
        s(config.performance_tracking()),
        origin(config.performance_tracking().source()),
    );
    row(
        "feature_usage",
        s(config.feature_usage()),
        origin(config.feature_usage().source()),
    );
    row(
        "send_default_pii",
        s(config.send_default_pii()),
        origin(config.send_default_pii().source()),
    );
    row(
        "internal",
        yes_no(*config.internal().value()).to_owned(),
        format!(
            "{}: {}",
            origin(config.internal().source()),
            config.internal_reason()
        ),
    );
    row(
        "ci",
        yes_no(*config.ci().value()).to_owned(),
        match config.ci().source() {
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
    let _ = writeln!(out, "Spool:        {}", spool_text(&spool()));

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

/// The spool folder and what waits in it (`None`: no cache folder).
fn spool() -> Option<(PathBuf, cli_spool::Summary)> {
    let dir = cli_spool::default_dir(&env_text)?;
    let summary = cli_spool::summary(&dir);
    Some((dir, summary))
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

fn spool_text(spool: &Option<(PathBuf, cli_spool::Summary)>) -> String {
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

fn spool_json(spool: &Option<(PathBuf, cli_spool::Summary)>) -> Value {
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
        json!({ "value": value, "source": origin(setting.source()) })
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
            .value()
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
        "enabled": config.enabled().value(),
        "why": why(config),
        "settings": {
            "enabled": setting(config.enabled(), Value::from(*config.enabled().value())),
            "dsn": setting(config.dsn(), dsn(config.dsn())),
            "usage_dsn": setting(config.usage_dsn(), dsn(config.usage_dsn())),
            "environment": setting(config.environment(), Value::from(config.environment().value().clone())),
            "sample_rate": setting(config.sample_rate(), number(*config.sample_rate().value())),
            "traces_sample_rate": setting(config.traces_sample_rate(), number(*config.traces_sample_rate().value())),
            "error_tracking": setting(config.error_tracking(), Value::from(*config.error_tracking().value())),
            "performance_tracking": setting(config.performance_tracking(), Value::from(*config.performance_tracking().value())),
            "feature_usage": setting(config.feature_usage(), Value::from(*config.feature_usage().value())),
            "send_default_pii": setting(config.send_default_pii(), Value::from(*config.send_default_pii().value())),
        },
        "internal": {
            "value": config.internal().value(),
            "source": origin(config.internal().source()),
            "reason": config.internal_reason(),
        },
        "ci": setting(config.ci(), Value::from(*config.ci().value())),
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
        "spool": spool_json(&spool()),
        "help": TELEMETRY_HELP,
    })
}

// ---------------------------------------------------------------------------
// enable / disable

fn set_enabled(on: bool, force: bool) -> Result<ExitCode, Failure> {
    let command = if on { "enable" } else { "disable" };
    let before = Config::load();
    if before.file_path().is_none() {
        return Err(Failure::Failed(
            "no config file location: no home folder found; set OPENADAPT_TELEMETRY_CONFIG"
                .to_owned(),
        ));
    }
    // the main file, and the XDG one when it exists
    let files: Vec<(PathBuf, FileState)> = match before.config_files() {
        [] => before
            .file_path()
            .map(|path| (path.to_owned(), FileState::NotFound))
            .into_iter()
            .collect(),
        files => files
            .iter()
            .map(|file| (file.path().to_owned(), file.state().clone()))
            .collect(),
    };
    let mut out = String::new();
    for (path, state) in &files {
        if force && matches!(state, FileState::Invalid(_)) && path.is_file() {
            match keep_backup(path) {
                Ok(backup) => out.push_str(&format!(
                    "Kept a copy of the unparseable config file as {}.\n",
                    backup.display()
                )),
                Err(e) => out.push_str(&format!(
                    "Could not keep a copy of the unparseable config file ({e}); replacing it anyway.\n"
                )),
            }
        }
        if let Err(e) = Config::write_enabled(path, on, force) {
            say(&out);
            return Err(Failure::Failed(match e.kind() {
                ConfigErrorKind::Invalid(_) => {
                    format!(
                        "{e}; fix it, or replace it with `{NAME} {command} --force` (a copy is kept)"
                    )
                }
                _ => chain(&e),
            }));
        }
        out.push_str(&format!(
            "Telemetry {} in the config file {}.\n",
            if on { "enabled" } else { "disabled" },
            path.display()
        ));
    }
    if !on && let Some(id) = AnonymousId::of(&before) {
        match id.delete() {
            Ok(Some(old)) => out.push_str(&format!(
                "Deleted the anonymous id {old}. To have the data sent under it erased, send it to the maintainers ({ERASURE}).\n"
            )),
            Ok(None) => {}
            Err(e) => {
                say(&out);
                return Err(Failure::Failed(format!(
                    "cannot delete the anonymous id {}: {e}",
                    id.path().display()
                )));
            }
        }
    }
    if !on && let Some((dir, summary)) = spool().filter(|(dir, _)| dir.exists()) {
        if let Err(e) = cli_spool::remove_all(&dir) {
            say(&out);
            return Err(Failure::Failed(format!(
                "cannot delete the spool {}: {e}",
                dir.display()
            )));
        }
        out.push_str(&format!(
            "Deleted the spool {} ({} {} not sent, {} bytes).\n",
            dir.display(),
            summary.envelopes,
            if summary.envelopes == 1 {
                "report"
            } else {
                "reports"
            },
            summary.bytes
        ));
    }
    let after = Config::load();
    let now = *after.enabled().value();
    if now != on {
        let source = after.enabled().source();
        let note = match source {
            Source::DoNotTrack | Source::Env(_) | Source::NotUtf8(_) | Source::Manifest { .. } => {
                format!(
                    "{} overrides the config file: telemetry stays {} while it is set.",
                    why(&after),
                    on_off(now)
                )
            }
            _ => format!("Telemetry is still {}: {}.", on_off(now), why(&after)),
        };
        out.push_str(&format!("Note: {note}\n"));
    }
    out.push_str(&format!(
        "Telemetry is now {}: {}.\n",
        on_off(now),
        why(&after)
    ));
    say(&out);
    Ok(ExitCode::SUCCESS)
}

/// Copies `path` to the first free `NAME.bak`, `NAME.bak.2`, … beside it.
fn keep_backup(path: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 1..100 {
        let candidate = if n == 1 {
            path.with_file_name(format!("{name}.bak"))
        } else {
            path.with_file_name(format!("{name}.bak.{n}"))
        };
        if !candidate.exists() {
            std::fs::copy(path, &candidate)?;
            return Ok(candidate);
        }
    }
    Err(std::io::Error::other("too many backups"))
}

// ---------------------------------------------------------------------------
// preview

fn preview() -> Result<ExitCode, Failure> {
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
    if !*current.enabled().value() {
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

// ---------------------------------------------------------------------------
// send-test

fn send_test(dsn: Option<String>) -> Result<ExitCode, Failure> {
    if let Some(dsn) = &dsn
        && dsn.parse::<sentry::types::Dsn>().is_err()
    {
        return Err(Failure::Usage(format!(
            "invalid --dsn {:?}: expected a DSN like https://KEY@HOST/PROJECT_ID",
            masked(dsn)
        )));
    }
    // The real settings, but never preview (this tests the server), and --dsn
    // above OPENADAPT_TELEMETRY_DSN and the config file.
    let mut vars: HashMap<String, String> = process_vars()
        .filter(|(k, _)| k != DEBUG_VAR && k != DEBUG_FILE_VAR)
        .collect();
    let flag = dsn.is_some();
    if let Some(dsn) = dsn {
        vars.insert(DSN_VAR.to_owned(), dsn);
    }
    let telemetry = Telemetry::builder(NAME, VERSION)
        .env_lookup(move |name| vars.get(name).cloned())
        .global(false)
        .capture_panics(false)
        .shutdown_timeout(Duration::from_secs(1))
        .init();
    // (init printed the configuration's warnings, if any)
    let config = telemetry.config();
    if !*config.enabled().value() {
        return Err(Failure::Failed(format!(
            "telemetry is off ({}): nothing was sent",
            why(config)
        )));
    }
    let Some((host, project)) = config.dsn().value().as_deref().and_then(dsn_summary) else {
        return Err(Failure::Failed(format!(
            "no DSN configured: pass --dsn URL, or set {DSN_VAR} or \"dsn\" in the config file"
        )));
    };
    let source = if flag {
        "--dsn".to_owned()
    } else {
        origin(config.dsn().source())
    };
    say(&format!(
        "Sending a test event to {host}, project {project} ({source})…\n"
    ));
    let delivery = telemetry.send_test_event(SEND_TIMEOUT);
    let (ok, text) = match &delivery {
        Delivery::Accepted => (
            true,
            match telemetry.last_event_id() {
                Some(id) => format!("accepted: the server took the test event (event id {id})"),
                None => "accepted: the server took the test event".to_owned(),
            },
        ),
        Delivery::RateLimited => (
            false,
            "rate limited: the server asks this client to wait (HTTP 429)".to_owned(),
        ),
        Delivery::Refused(status) => (
            false,
            format!(
                "refused: the server answered HTTP {status}{}",
                match status {
                    401 | 403 => " (check the DSN's key)",
                    404 => " (check the DSN's host and project id)",
                    413 => " (the event is too large)",
                    _ => "",
                }
            ),
        ),
        Delivery::Redirected(status) => (
            false,
            format!(
                "redirected to another host; check the DSN (the server answered HTTP {status}, and redirects are never followed)"
            ),
        ),
        Delivery::Unreachable(why) => (false, format!("unreachable: {why}")),
        Delivery::BackingOff => (
            false,
            "not sent: backing off after earlier failures".to_owned(),
        ),
        Delivery::NotSent => (false, "not sent: nothing left after filtering".to_owned()),
        other => (false, format!("not sent: {other:?}")),
    };
    let mut out = format!("{text}\n");
    let id = config
        .distinct_id()
        .map(str::to_owned)
        .or_else(|| AnonymousId::of(config).and_then(|id| id.load().ok().flatten()));
    if ok && let Some(id) = id {
        out.push_str(&format!("It carried the anonymous id {id}.\n"));
    }
    say(&out);
    drop(telemetry);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A DSN with its key hidden, for messages.
fn masked(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &dsn[..scheme + 3], &dsn[at..])
        }
        (None, Some(at)) => format!("***{}", &dsn[at..]),
        _ => dsn.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// reset-id

fn reset_id(delete: bool) -> Result<ExitCode, Failure> {
    let config = Config::load();
    let Some(id) = AnonymousId::of(&config) else {
        return Err(Failure::Failed(
            "no home folder found for the install id ~/.openadapt/telemetry_distinct_id: set HOME"
                .to_owned(),
        ));
    };
    let fail = |e: std::io::Error| {
        Failure::Failed(format!(
            "cannot change the anonymous id {}: {e}",
            id.path().display()
        ))
    };
    let erase = |old: &str| {
        format!(
            "To have the data sent under {old} erased, send that id to the maintainers ({ERASURE}).\n"
        )
    };
    let mut out = String::new();
    let on = *config.enabled().value();
    if delete || !on {
        match id.delete().map_err(fail)? {
            Some(old) => {
                out.push_str(&format!(
                    "Deleted the anonymous id {old} ({}).\n",
                    id.path().display()
                ));
                out.push_str(&erase(&old));
            }
            None => out.push_str(&format!(
                "There is no anonymous id ({} does not exist).\n",
                id.path().display()
            )),
        }
        if !on {
            out.push_str(&format!(
                "Telemetry is off ({}): no new id is made while it is off.\n",
                why(&config)
            ));
        } else {
            out.push_str("A new random id is made the next time a program sends.\n");
        }
    } else {
        let (old, new) = id.reset().map_err(fail)?;
        match &old {
            Some(old) => out.push_str(&format!("Old anonymous id: {old}\n")),
            None => out.push_str("Old anonymous id: none\n"),
        }
        out.push_str(&format!(
            "New anonymous id: {new} ({})\n",
            id.path().display()
        ));
        if let Some(old) = &old {
            out.push_str(&erase(old));
        }
    }
    if config.distinct_id().is_some() {
        out.push_str(
            "Note: OPENADAPT_TELEMETRY_DISTINCT_ID is set: programs send that id, not the file's, while it is set.\n",
        );
    }
    say(&out);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from).collect()).map_err(|e| match e {
            Failure::Usage(m) => format!("usage: {m}"),
            Failure::Failed(m) => m,
        })
    }

    #[test]
    fn command_lines() {
        let ok: &[(&[&str], Command)] = &[
            (&["--help"], Command::Help(None)),
            (&["-h"], Command::Help(None)),
            (&["help"], Command::Help(None)),
            (&["help", "status"], Command::Help(Some(Name::Status))),
            (&["-V"], Command::Version),
            (&["status"], Command::Status { json: false }),
            (&["status", "--json"], Command::Status { json: true }),
            (&["status", "--help"], Command::Help(Some(Name::Status))),
            (&["enable"], Command::Enable { force: false }),
            (&["disable", "--force"], Command::Disable { force: true }),
            (&["preview"], Command::Preview),
            (&["send-test"], Command::SendTest { dsn: None }),
            (
                &["send-test", "--dsn", "http://k@h/1"],
                Command::SendTest {
                    dsn: Some("http://k@h/1".to_owned()),
                },
            ),
            (
                &["send-test", "--dsn=http://k@h/1"],
                Command::SendTest {
                    dsn: Some("http://k@h/1".to_owned()),
                },
            ),
            (&["reset-id", "--delete"], Command::ResetId { delete: true }),
            (&["reset-id", "-h"], Command::Help(Some(Name::ResetId))),
        ];
        for (args, expected) in ok {
            assert_eq!(parsed(args).as_ref(), Ok(expected), "{args:?}");
        }
        let bad: &[(&[&str], &str)] = &[
            (&[], "usage: a command is required"),
            (&["frobnicate"], "usage: unknown command \"frobnicate\""),
            (&["--json"], "usage: unknown option \"--json\""),
            (
                &["status", "--force"],
                "usage: unexpected argument \"--force\" for status",
            ),
            (
                &["status", "extra"],
                "usage: unexpected argument \"extra\" for status",
            ),
            (
                &["status", "--json=1"],
                "usage: unexpected argument \"--json=1\"",
            ),
            (&["send-test", "--dsn"], "usage: --dsn needs a value"),
            (&["help", "nope"], "usage: unknown command \"nope\""),
        ];
        for (args, start) in bad {
            let error = parsed(args).unwrap_err();
            assert!(error.starts_with(start), "{args:?}: {error}");
            assert!(!error.contains('\n'), "{args:?}: {error}");
        }
    }

    #[test]
    fn dsn_summary_and_mask_hide_the_key() {
        assert_eq!(
            dsn_summary("https://secretkey@errors.example/42"),
            Some(("errors.example".to_owned(), "42".to_owned()))
        );
        assert_eq!(
            dsn_summary("http://secretkey@127.0.0.1:9000/7"),
            Some(("127.0.0.1:9000".to_owned(), "7".to_owned()))
        );
        assert_eq!(masked("https://secretkey@h/1"), "https://***@h/1");
        assert_eq!(masked("nonsense"), "nonsense");
    }
}
