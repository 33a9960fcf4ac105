//! `reset-id`: replace the install id with a new random one, or delete it.

use std::process::ExitCode;

use super::{ERASURE, Failure, say, why};
use crate::config::Config;
use crate::identity::AnonymousId;

/// `reset-id [--delete]`.
pub(super) fn reset_id(delete: bool) -> Result<ExitCode, Failure> {
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
    let on = config.enabled().value;
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
