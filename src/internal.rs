//! Internal-usage detection: is this process run by an OpenAdapt developer, a test
//! suite or CI, so that its telemetry can be tagged `internal` and filtered out?
//!
//! Pure: the environment is an injected lookup and the facts that are not
//! environment variables come in as [`Signals`], so tests touch no global state.
//!
//! The family's rules (the Python package's), in order, first match wins; the
//! config module applies the first three, this module the heuristics:
//!
//! 1. `OPENADAPT_INTERNAL`: a true value (true/1/yes/on) makes the process
//!    internal, a false value (false/0/no/off) makes it external and wins over
//!    everything below. It is the only way to force "not internal".
//! 2. `OPENADAPT_DEV` set to a true value. (A false value is the default and
//!    changes nothing.)
//! 3. `"internal": true` in the config file, or from the builder. (`false` is
//!    the default the Python package writes, and changes nothing.)
//! 4. A CI variable from [`CI_VARIABLES`] set to a non-empty value other than
//!    `false` or `0`.
//! 5. A `.git` in the working directory or its parent (a development checkout),
//!    only when `OPENADAPT_INTERNAL_FROM_GIT` is true: it tagged ordinary users
//!    who run a tool inside their own repository.
//! 6. Running under cargo: cargo sets `CARGO` for the processes it starts with
//!    `cargo run` and `cargo test`.
//! 7. A debug build (`debug_assertions`).

use std::path::{Path, PathBuf};

/// The explicit variables, in the order they are consulted.
pub(crate) const EXPLICIT_VARIABLES: [&str; 2] = ["OPENADAPT_INTERNAL", "OPENADAPT_DEV"];

/// The only variable whose false value forces "not internal".
pub(crate) const INTERNAL: &str = "OPENADAPT_INTERNAL";

/// Turns the `.git` heuristic on.
pub(crate) const FROM_GIT: &str = "OPENADAPT_INTERNAL_FROM_GIT";

/// Variables whose presence means "running in CI": the Python package's 13
/// (`CI` to `BITBUCKET_BUILD_NUMBER`), then four more this crate knew.
///
/// Each is set by exactly one CI service (or, for `CI` and
/// `CONTINUOUS_INTEGRATION`, by many) and has a name no ordinary program or
/// shell sets. Deliberately left out because they are too generic and would
/// tag real users' machines: `BUILD_ID`, `BUILD_NUMBER`, `RUN_ID`, `JOB_ID`,
/// `SEMAPHORE`, `HUDSON_URL` (Jenkins also sets `JENKINS_URL`).
pub(crate) const CI_VARIABLES: [&str; 17] = [
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "CIRCLECI",
    "BUILDKITE",
    "AZURE_PIPELINES",
    "TF_BUILD",
    "CODEBUILD_BUILD_ID",
    "TEAMCITY_VERSION",
    "BITBUCKET_BUILD_NUMBER",
    "DRONE",
    "APPVEYOR",
    "CIRRUS_CI",
    "BITRISE_IO",
];

/// Facts about the process that are not environment variables (injected, so tests
/// need no global state).
#[derive(Debug, Clone, Default)]
pub(crate) struct Signals {
    /// The working directory: where `.git` is looked for (with
    /// `OPENADAPT_INTERNAL_FROM_GIT`) and where the walk for a repository
    /// opt-out starts. `None`: neither is looked for.
    pub(crate) cwd: Option<PathBuf>,
    /// This crate was compiled with `debug_assertions`.
    pub(crate) debug_build: bool,
}

impl Signals {
    /// Read the signals of the running process.
    pub(crate) fn detect() -> Self {
        Self {
            cwd: std::env::current_dir().ok(),
            debug_build: cfg!(debug_assertions),
        }
    }
}

/// The variable `name`, trimmed; `None` when unset, empty or blank.
pub(crate) fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The first CI variable that is set (to anything but empty, `0` or `false`).
pub(crate) fn ci_variable(env: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
    CI_VARIABLES.into_iter().find(|name| {
        var(env, name).is_some_and(|value| value != "0" && !value.eq_ignore_ascii_case("false"))
    })
}

/// Where a `.git` is: `.git` in `cwd`, else `../.git`.
fn git_checkout(cwd: &Path) -> Option<&'static str> {
    let has = |path: PathBuf| std::fs::symlink_metadata(path).is_ok();
    if has(cwd.join(".git")) {
        Some(".git")
    } else if cwd.parent().is_some_and(|parent| has(parent.join(".git"))) {
        Some("../.git")
    } else {
        None
    }
}

/// The heuristics (CI, `.git` when `from_git`, cargo, debug build): whether
/// the process is internal, and one human-readable reason why.
pub(crate) fn detect(
    env: &dyn Fn(&str) -> Option<String>,
    signals: &Signals,
    from_git: bool,
) -> (bool, String) {
    if let Some(name) = ci_variable(env) {
        return (true, format!("CI variable {name} is set"));
    }
    if from_git && let Some(git) = signals.cwd.as_deref().and_then(git_checkout) {
        return (
            true,
            format!("{git} in the working directory ({FROM_GIT} is true)"),
        );
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

    fn signals(cwd: Option<&Path>, debug_build: bool) -> Signals {
        Signals {
            cwd: cwd.map(Path::to_owned),
            debug_build,
        }
    }

    /// A checkout: `repo/.git` and `repo/sub`, in a fresh temporary folder.
    fn checkout(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "openadapt-telemetry-internal-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("repo").join(".git")).unwrap();
        std::fs::create_dir_all(root.join("repo").join("sub").join("deeper")).unwrap();
        std::fs::create_dir_all(root.join("plain")).unwrap();
        root
    }

    #[test]
    fn heuristics_table() {
        let root = checkout("table");
        let repo = root.join("repo");
        let sub = repo.join("sub");
        let deeper = sub.join("deeper");
        let plain = root.join("plain");
        type Case<'a> = (&'a [(&'a str, &'a str)], Signals, bool, bool, &'a str);
        let cases: Vec<Case> = vec![
            (
                &[],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            // a git checkout is not internal by default
            (
                &[],
                signals(Some(&repo), false),
                false,
                false,
                "no internal signal",
            ),
            (
                &[],
                signals(Some(&sub), false),
                false,
                false,
                "no internal signal",
            ),
            // ... only with OPENADAPT_INTERNAL_FROM_GIT
            (
                &[],
                signals(Some(&repo), false),
                true,
                true,
                ".git in the working directory (OPENADAPT_INTERNAL_FROM_GIT is true)",
            ),
            (
                &[],
                signals(Some(&sub), false),
                true,
                true,
                "../.git in the working directory (OPENADAPT_INTERNAL_FROM_GIT is true)",
            ),
            // two levels down is not a checkout's working directory
            (
                &[],
                signals(Some(&deeper), false),
                true,
                false,
                "no internal signal",
            ),
            (
                &[],
                signals(Some(&plain), false),
                true,
                false,
                "no internal signal",
            ),
            // CI values that do not count
            (
                &[("CI", "false")],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            (
                &[("CI", "FALSE")],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            (
                &[("CI", "0")],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            (
                &[("CI", "")],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            (
                &[("BUILD_ID", "42"), ("BUILD_NUMBER", "7")],
                signals(None, false),
                false,
                false,
                "no internal signal",
            ),
            // CI before .git before cargo before debug build
            (
                &[("GITHUB_ACTIONS", "true"), ("CARGO", "cargo")],
                signals(Some(&repo), true),
                true,
                true,
                "CI variable GITHUB_ACTIONS is set",
            ),
            (
                &[("CARGO", "/usr/bin/cargo")],
                signals(Some(&repo), true),
                true,
                true,
                ".git in the working directory (OPENADAPT_INTERNAL_FROM_GIT is true)",
            ),
            (
                &[("CARGO", "/usr/bin/cargo")],
                signals(Some(&repo), true),
                false,
                true,
                "running under cargo (CARGO is set)",
            ),
            (
                &[("CARGO", "")],
                signals(None, true),
                false,
                true,
                "debug build",
            ),
        ];
        for (pairs, signals, from_git, internal, reason) in cases {
            let got = detect(&env_of(pairs), &signals, from_git);
            assert_eq!(
                got,
                (internal, reason.to_owned()),
                "env {pairs:?}, signals {signals:?}, from_git {from_git}"
            );
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn every_ci_variable_counts() {
        for name in CI_VARIABLES {
            for value in ["true", "1", "yes", "https://ci.example"] {
                let env = env_of(&[(name, value)]);
                assert_eq!(ci_variable(&env), Some(name), "{name}={value}");
                let got = detect(&env, &Signals::default(), false);
                assert_eq!(
                    got,
                    (true, format!("CI variable {name} is set")),
                    "{name}={value}"
                );
            }
        }
    }

    #[test]
    fn the_python_packages_ci_variables_are_all_here() {
        let python = [
            "CI",
            "CONTINUOUS_INTEGRATION",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "JENKINS_URL",
            "TRAVIS",
            "CIRCLECI",
            "BUILDKITE",
            "AZURE_PIPELINES",
            "TF_BUILD",
            "CODEBUILD_BUILD_ID",
            "TEAMCITY_VERSION",
            "BITBUCKET_BUILD_NUMBER",
        ];
        assert_eq!(CI_VARIABLES[..13], python);
    }

    #[test]
    fn signals_detect_reads_the_build_and_the_working_directory() {
        let signals = Signals::detect();
        assert_eq!(signals.debug_build, cfg!(debug_assertions));
        assert_eq!(signals.cwd, std::env::current_dir().ok());
    }
}
