//! `enable` and `disable`: set `"enabled"` in the config files; `disable`
//! also deletes the install id and the spool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{ERASURE, Failure, NAME, chain, on_off, say, spooled, why};
use crate::config::{Config, ConfigErrorKind, FileState, IfInvalid, Source};
use crate::identity::AnonymousId;
use crate::spool;

/// `enable`/`disable [--force]`.
pub(super) fn set_enabled(on: bool, invalid: IfInvalid) -> Result<ExitCode, Failure> {
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
        if invalid == IfInvalid::Replace && matches!(state, FileState::Invalid(_)) && path.is_file()
        {
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
        if let Err(e) = Config::write_enabled(path, on, invalid) {
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
    if !on && let Some((dir, summary)) = spooled().filter(|(dir, _)| dir.exists()) {
        if let Err(e) = spool::remove_all(&dir) {
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
    let now = after.enabled().value;
    if now != on {
        let source = &after.enabled().source;
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
