//! The environment variables the configuration reads: their names, the
//! process's own values ([`process_env`], where a value that is not valid
//! UTF-8 stays visible as such) and booleans as written in a variable
//! ([`parse_bool`]). The trimmed lookup all of them are read through, `var`,
//! lives in [`internal`](crate::internal), which needs it too and must not
//! import `config`.

pub(super) const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
pub(super) const ENABLED: &str = "OPENADAPT_TELEMETRY_ENABLED";
pub(super) const DSN: &str = "OPENADAPT_TELEMETRY_DSN";
pub(super) const USAGE_DSN: &str = "OPENADAPT_TELEMETRY_USAGE_DSN";
pub(super) const ENVIRONMENT: &str = "OPENADAPT_TELEMETRY_ENVIRONMENT";
pub(super) const SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_SAMPLE_RATE";
pub(super) const TRACES_SAMPLE_RATE: &str = "OPENADAPT_TELEMETRY_TRACES_SAMPLE_RATE";
pub(super) const CONFIG: &str = "OPENADAPT_TELEMETRY_CONFIG";
pub(super) const DEBUG: &str = "OPENADAPT_TELEMETRY_DEBUG";
pub(super) const DEBUG_FILE: &str = "OPENADAPT_TELEMETRY_DEBUG_FILE";
pub(super) const IN_CI: &str = "OPENADAPT_TELEMETRY_IN_CI";
pub(super) const DISTINCT_ID: &str = "OPENADAPT_TELEMETRY_DISTINCT_ID";
pub(super) const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub(super) const HOME: &str = "HOME";

/// Variables that decide whether telemetry runs, where it writes or which
/// files say so: one that is not valid UTF-8 turns telemetry off, since what
/// it says cannot be known.
pub(super) const FAIL_CLOSED_VARIABLES: [&str; 7] = [
    DO_NOT_TRACK,
    ENABLED,
    CONFIG,
    XDG_CONFIG_HOME,
    HOME,
    DEBUG,
    DEBUG_FILE,
];

/// The variable `name` of the process environment, trimmed of nothing; a
/// value that is not valid UTF-8 is returned with U+FFFD in place of each bad
/// sequence, so that it is seen as set, and unreadable (see [`not_utf8`]).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| match value.into_string() {
        Ok(text) => text,
        Err(raw) => raw.to_string_lossy().into_owned(),
    })
}

/// Whether a variable's text stands for a value that was not valid UTF-8.
pub(super) fn not_utf8(text: &str) -> bool {
    text.contains(char::REPLACEMENT_CHARACTER)
}

/// A boolean as written in a variable: true/1/yes/on or false/0/no/off, any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "yes", "on"];
    const FALSE: [&str; 4] = ["false", "0", "no", "off"];
    let text = text.trim();
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bool_table() {
        for text in ["true", "TRUE", "1", "yes", "Yes", "on", " on "] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["false", "False", "0", "no", "NO", "off"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "2", "y", "n", "enable", "truthy"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }

    #[test]
    fn process_env_marks_bytes_that_are_not_utf8() {
        assert_eq!(
            process_env("OPENADAPT_TELEMETRY_SURELY_UNSET_VARIABLE"),
            None
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let raw = std::ffi::OsStr::from_bytes(b"1\xff");
            assert!(not_utf8(&raw.to_string_lossy()));
        }
        assert!(!not_utf8("1"));
    }
}
