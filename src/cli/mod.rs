//! The `openadapt-telemetry` command (feature `cli`): see and change what
//! OpenAdapt telemetry sends from this machine. The binary is a thin `main`
//! over [`run`]: `cargo install openadapt-telemetry --features cli`.
//!
//! Commands: `status` (`--json`), `enable`, `disable` (`--force`), `preview`,
//! `send-test` (`--dsn URL`), `reset-id` (`--delete`); `--help` for each.
//! Exit codes: 0 success, 1 failure, 2 bad command line.
//!
//! This file parses the command line and holds what the commands share
//! (explaining where a setting comes from); each command has its own file,
//! and `help` the help texts.

mod enable;
mod help;
mod preview;
mod reset_id;
mod send_test;
mod status;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, ConfigFile, FileState, IfInvalid, Source};
use crate::spool;

pub use crate::identity::AnonymousId;

const NAME: &str = "openadapt-telemetry";
const VERSION: &str = env!("CARGO_PKG_VERSION");

const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
const ENABLED_VAR: &str = "OPENADAPT_TELEMETRY_ENABLED";
const DEBUG_VAR: &str = "OPENADAPT_TELEMETRY_DEBUG";
const DEBUG_FILE_VAR: &str = "OPENADAPT_TELEMETRY_DEBUG_FILE";

/// Where a user sends an old anonymous id to have its data erased.
const ERASURE: &str = "https://docs.openadapt.ai/telemetry";

/// Runs the `openadapt-telemetry` command: `args` are its arguments, without
/// the program's name. Prints to stdout, and a failure's one line to stderr;
/// returns the exit code: 0 success, 1 failure, 2 bad command line.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     openadapt_telemetry::cli::run(std::env::args_os().skip(1))
/// }
/// ```
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    match dispatch(args.into_iter().collect()) {
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

/// Runs the command `args` names.
fn dispatch(args: Vec<OsString>) -> Result<ExitCode, Failure> {
    match parse(args)? {
        Command::Help(None) => {
            say(&help::main_help());
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
        Command::Status { json } => status::status(json),
        Command::Enable { force } => enable::set_enabled(true, if_invalid(force)),
        Command::Disable { force } => enable::set_enabled(false, if_invalid(force)),
        Command::Preview => preview::preview(),
        Command::SendTest { dsn } => send_test::send_test(dsn),
        Command::ResetId { delete } => reset_id::reset_id(delete),
    }
}

/// What `--force` asks of a config file that cannot be parsed.
fn if_invalid(force: bool) -> IfInvalid {
    if force {
        IfInvalid::Replace
    } else {
        IfInvalid::Refuse
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
    let on = config.enabled().value;
    let decided = &config.enabled().source;
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
        && config.dsn().value.is_none()
        && config.dsn().source == *decided
        && config.dsn().source != Source::Default
    {
        return format!("{origin}: its DSN does not parse");
    }
    if !on && config.send_default_pii().value && config.send_default_pii().source == *decided {
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

/// The spool folder and what waits in it (`None`: no cache folder).
fn spooled() -> Option<(PathBuf, spool::Summary)> {
    let dir = spool::default_dir(&env_text)?;
    let summary = spool::summary(&dir);
    Some((dir, summary))
}

#[cfg(test)]
mod tests {
    use super::send_test::masked;
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
