//! Internal-usage detection: is this process run by an OpenAdapt developer, a test
//! suite or CI, so that its telemetry can be tagged `internal` and filtered out?
//!
//! Pure: the environment is an injected lookup and the facts that are not
//! environment variables come in as [`Signals`], so tests touch no global state.
//!
//! Order, first match wins:
//!
//! 1. `OPENADAPT_INTERNAL`, then `OPENADAPT_DEV`: a true value (true/1/yes/on)
//!    makes the process internal, a false value (false/0/no/off) makes it external
//!    and wins over every heuristic below. Any other value is ignored here (the
//!    config module reports it) and the heuristics apply.
//! 2. A CI variable from [`CI_VARIABLES`] set to a non-empty value other than
//!    `false` or `0`.
//! 3. A `.git` in the working directory (a development checkout).
//! 4. Running under cargo: cargo sets `CARGO` for the processes it starts with
//!    `cargo run` and `cargo test`.
//! 5. A debug build (`debug_assertions`).

use std::path::Path;

use crate::config::{parse_bool, var};

/// The explicit variables, in the order they are consulted.
pub(crate) const EXPLICIT_VARIABLES: [&str; 2] = ["OPENADAPT_INTERNAL", "OPENADAPT_DEV"];

/// Variables whose presence means "running in CI".
///
/// Each is set by exactly one CI service (or, for `CI`, by nearly all of them) and
/// has a name no ordinary program or shell sets. Deliberately left out because
/// they are too generic and would tag real users' machines: `BUILD_ID`,
/// `BUILD_NUMBER`, `RUN_ID`, `JOB_ID`, `SEMAPHORE`, `HUDSON_URL` (Jenkins also sets
/// `JENKINS_URL`).
pub(crate) const CI_VARIABLES: [&str; 15] = [
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "BUILDKITE",
    "CIRCLECI",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ID",
    "DRONE",
    "APPVEYOR",
    "CIRRUS_CI",
    "BITRISE_IO",
];

/// Facts about the process that are not environment variables (injected, so tests
/// need no file system).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Signals {
    /// The working directory contains `.git`.
    pub(crate) cwd_has_git: bool,
    /// This crate was compiled with `debug_assertions`.
    pub(crate) debug_build: bool,
}

impl Signals {
    /// Read the signals of the running process.
    pub(crate) fn detect() -> Self {
        Self {
            cwd_has_git: Path::new(".git").exists(),
            debug_build: cfg!(debug_assertions),
        }
    }
}

/// An explicit `OPENADAPT_INTERNAL` / `OPENADAPT_DEV` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explicit {
    /// What the variable says.
    pub(crate) value: bool,
    /// The variable that said it.
    pub(crate) variable: &'static str,
    /// Its text, trimmed.
    pub(crate) text: String,
}

impl Explicit {
    /// The reason shown by `status`, e.g. `OPENADAPT_INTERNAL=1`.
    pub(crate) fn reason(&self) -> String {
        if self.value {
            format!("{}={}", self.variable, self.text)
        } else {
            format!("{}={} (overrides detection)", self.variable, self.text)
        }
    }
}

/// The first of [`EXPLICIT_VARIABLES`] that holds a valid boolean, if any.
pub(crate) fn explicit(env: &dyn Fn(&str) -> Option<String>) -> Option<Explicit> {
    EXPLICIT_VARIABLES.into_iter().find_map(|variable| {
        let text = var(env, variable)?;
        let value = parse_bool(&text)?;
        Some(Explicit {
            value,
            variable,
            text,
        })
    })
}

/// Whether the process is internal, and one human-readable reason why.
pub(crate) fn detect(env: &dyn Fn(&str) -> Option<String>, signals: Signals) -> (bool, String) {
    if let Some(explicit) = explicit(env) {
        return (explicit.value, explicit.reason());
    }
    let ci = CI_VARIABLES.into_iter().find(|name| {
        var(env, name).is_some_and(|value| value != "0" && !value.eq_ignore_ascii_case("false"))
    });
    if let Some(name) = ci {
        return (true, format!("CI variable {name} is set"));
    }
    if signals.cwd_has_git {
        return (true, ".git in the working directory".to_owned());
    }
    if var(env, "CARGO").is_some() {
        return (true, "running under cargo (CARGO is set)".to_owned());
    }
    if signals.debug_build {
        return (true, "debug build".to_owned());
    }
    (false, "no internal signal".to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const NONE: Signals = Signals {
        cwd_has_git: false,
        debug_build: false,
    };
    const GIT: Signals = Signals {
        cwd_has_git: true,
        debug_build: false,
    };
    const DEBUG: Signals = Signals {
        cwd_has_git: false,
        debug_build: true,
    };
    const ALL: Signals = Signals {
        cwd_has_git: true,
        debug_build: true,
    };

    #[test]
    fn detect_table() {
        type Case = (
            &'static [(&'static str, &'static str)],
            Signals,
            bool,
            &'static str,
        );
        let cases: &[Case] = &[
            (&[], NONE, false, "no internal signal"),
            // explicit variables
            (
                &[("OPENADAPT_INTERNAL", "true")],
                NONE,
                true,
                "OPENADAPT_INTERNAL=true",
            ),
            (
                &[("OPENADAPT_INTERNAL", "1")],
                NONE,
                true,
                "OPENADAPT_INTERNAL=1",
            ),
            (
                &[("OPENADAPT_INTERNAL", "YES")],
                NONE,
                true,
                "OPENADAPT_INTERNAL=YES",
            ),
            (
                &[("OPENADAPT_INTERNAL", "on")],
                NONE,
                true,
                "OPENADAPT_INTERNAL=on",
            ),
            (
                &[("OPENADAPT_DEV", "true")],
                NONE,
                true,
                "OPENADAPT_DEV=true",
            ),
            (&[("OPENADAPT_DEV", " 1 ")], NONE, true, "OPENADAPT_DEV=1"),
            // explicit false wins over every heuristic
            (
                &[
                    ("OPENADAPT_INTERNAL", "false"),
                    ("CI", "true"),
                    ("CARGO", "/bin/cargo"),
                ],
                ALL,
                false,
                "OPENADAPT_INTERNAL=false (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "0")],
                ALL,
                false,
                "OPENADAPT_INTERNAL=0 (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "No")],
                ALL,
                false,
                "OPENADAPT_INTERNAL=No (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "off")],
                ALL,
                false,
                "OPENADAPT_INTERNAL=off (overrides detection)",
            ),
            (
                &[("OPENADAPT_DEV", "false")],
                ALL,
                false,
                "OPENADAPT_DEV=false (overrides detection)",
            ),
            // OPENADAPT_INTERNAL is consulted before OPENADAPT_DEV
            (
                &[("OPENADAPT_INTERNAL", "false"), ("OPENADAPT_DEV", "true")],
                NONE,
                false,
                "OPENADAPT_INTERNAL=false (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "true"), ("OPENADAPT_DEV", "false")],
                NONE,
                true,
                "OPENADAPT_INTERNAL=true",
            ),
            // an unparseable value is ignored: the next variable, then heuristics
            (
                &[("OPENADAPT_INTERNAL", "maybe"), ("OPENADAPT_DEV", "no")],
                ALL,
                false,
                "OPENADAPT_DEV=no (overrides detection)",
            ),
            (
                &[("OPENADAPT_INTERNAL", "maybe")],
                GIT,
                true,
                ".git in the working directory",
            ),
            (
                &[("OPENADAPT_INTERNAL", "maybe")],
                NONE,
                false,
                "no internal signal",
            ),
            // empty means unset
            (&[("OPENADAPT_INTERNAL", "")], DEBUG, true, "debug build"),
            (
                &[("OPENADAPT_INTERNAL", "  ")],
                NONE,
                false,
                "no internal signal",
            ),
            // CI values that do not count
            (&[("CI", "false")], NONE, false, "no internal signal"),
            (&[("CI", "FALSE")], NONE, false, "no internal signal"),
            (&[("CI", "0")], NONE, false, "no internal signal"),
            (&[("CI", "")], NONE, false, "no internal signal"),
            (
                &[("BUILD_ID", "42"), ("BUILD_NUMBER", "7")],
                NONE,
                false,
                "no internal signal",
            ),
            // CI before .git before cargo before debug build
            (
                &[("GITHUB_ACTIONS", "true"), ("CARGO", "cargo")],
                ALL,
                true,
                "CI variable GITHUB_ACTIONS is set",
            ),
            (
                &[("CARGO", "/usr/bin/cargo")],
                ALL,
                true,
                ".git in the working directory",
            ),
            (
                &[("CARGO", "/usr/bin/cargo")],
                DEBUG,
                true,
                "running under cargo (CARGO is set)",
            ),
            (&[("CARGO", "")], DEBUG, true, "debug build"),
            (&[], GIT, true, ".git in the working directory"),
            (&[], DEBUG, true, "debug build"),
        ];
        for (pairs, signals, internal, reason) in cases {
            let got = detect(&env_of(pairs), *signals);
            assert_eq!(
                got,
                (*internal, (*reason).to_owned()),
                "env {pairs:?}, signals {signals:?}"
            );
        }
    }

    #[test]
    fn every_ci_variable_counts() {
        for name in CI_VARIABLES {
            for value in ["true", "1", "yes", "https://ci.example"] {
                let got = detect(&env_of(&[(name, value)]), NONE);
                assert_eq!(
                    got,
                    (true, format!("CI variable {name} is set")),
                    "{name}={value}"
                );
            }
        }
    }

    #[test]
    fn explicit_reports_variable_and_text() {
        let got = explicit(&env_of(&[("OPENADAPT_DEV", "Yes")]));
        assert_eq!(
            got,
            Some(Explicit {
                value: true,
                variable: "OPENADAPT_DEV",
                text: "Yes".to_owned()
            })
        );
        assert_eq!(explicit(&env_of(&[("OPENADAPT_INTERNAL", "maybe")])), None);
        assert_eq!(explicit(&env_of(&[])), None);
    }

    #[test]
    fn signals_detect_reads_the_build() {
        assert_eq!(Signals::detect().debug_build, cfg!(debug_assertions));
    }
}
