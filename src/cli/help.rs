//! The help texts: the command's and each subcommand's.

use super::{NAME, Name, VERSION};
use crate::TELEMETRY_HELP;

impl Name {
    /// A command's help text.
    pub(super) fn help(self) -> &'static str {
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

/// The help of `openadapt-telemetry --help`.
pub(super) fn main_help() -> String {
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
