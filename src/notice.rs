//! The first-run notice: [`TELEMETRY_HELP`](crate::TELEMETRY_HELP), shown once
//! per machine on stderr by the first program that starts telemetry.
//!
//! "Once" is recorded by the file `notice_shown` in the config file's folder
//! (`~/.config/openadapt/notice_shown` by default), shared by every package.

use std::io::{IsTerminal as _, Write};
use std::path::Path;

use crate::config::{Config, process_env};
use crate::internal::ci_variable;

/// The file name, in the config file's folder.
const FILE_NAME: &str = "notice_shown";

/// [`Telemetry::show_first_run_notice`](crate::Telemetry::show_first_run_notice):
/// the notice on stderr when it is a terminal.
pub(crate) fn show_first_run_notice(config: &Config) -> bool {
    let stderr = std::io::stderr();
    let terminal = stderr.is_terminal();
    write_first_run_notice(config, &process_env, terminal, &mut stderr.lock())
}

/// [`Telemetry::show_first_run_notice`](crate::Telemetry::show_first_run_notice) with its inputs
/// given: the environment lookup (for the CI variables), whether the output is
/// a terminal, and where to write.
///
/// ```
/// use openadapt_telemetry::Telemetry;
/// use openadapt_telemetry::testing::write_first_run_notice;
///
/// let dir = std::env::temp_dir().join(format!("openadapt-doc-notice-{}", std::process::id()));
/// let telemetry = Telemetry::builder("demo", "0.1.0")
///     .dsn("https://key@glitchtip.example.com/1")
///     .config_file(dir.join("telemetry.json"))
///     .env_lookup(|_| None)
///     .preview(true) // a doc test sends nothing
///     .global(false)
///     .init();
/// let no_ci = |_: &str| None;
/// let mut out = Vec::new();
/// assert!(write_first_run_notice(telemetry.config(), &no_ci, true, &mut out));
/// assert!(String::from_utf8_lossy(&out).contains("DO_NOT_TRACK"));
/// assert!(!write_first_run_notice(telemetry.config(), &no_ci, true, &mut out)); // once
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg_attr(
    not(feature = "test-util"),
    expect(
        unreachable_pub,
        reason = "public as `testing::write_first_run_notice`"
    )
)]
pub fn write_first_run_notice(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    terminal: bool,
    out: &mut dyn Write,
) -> bool {
    if !terminal || !config.enabled().value || config.dsn().value.is_none() || in_ci(env) {
        return false;
    }
    let Some(config_file) = config.file_path() else {
        return false;
    };
    if !claim(config_file) {
        return false;
    }
    write!(out, "{}", crate::TELEMETRY_HELP)
        .and_then(|()| out.flush())
        .is_ok()
}

/// Whether a CI variable is set (to anything but empty, `0` or `false`), as the
/// internal-usage detection reads them.
fn in_ci(env: &dyn Fn(&str) -> Option<String>) -> bool {
    ci_variable(env).is_some()
}

/// Records that the notice is shown, beside `config_file`; `false` if it was
/// already recorded (by this or another process) or cannot be.
fn claim(config_file: &Path) -> bool {
    let dir = config_file.parent().unwrap_or(Path::new(""));
    // 0600 in a folder created 0700; never through a link (create_new)
    match crate::fs::create_new_private(&dir.join(FILE_NAME)) {
        Ok(mut file) => {
            let _ = writeln!(
                file,
                "The OpenAdapt telemetry notice was shown (by {} {}).",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION")
            );
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::*;
    use crate::config::{FileChoice, Overrides, resolve};
    use crate::internal::Signals;

    const DSN: &str = "https://key@errors.example/1";

    /// A name, a config, the environment, whether stderr is a terminal.
    type Case = (
        &'static str,
        Config,
        &'static [(&'static str, &'static str)],
        bool,
    );

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-telemetry-notice-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn config(dir: &Path, pairs: &[(&str, &str)], dsn: Option<&str>) -> Config {
        let builder = Overrides {
            dsn: dsn.map(str::to_owned),
            ..Overrides::default()
        };
        resolve(
            &env_of(pairs),
            &FileChoice::Path(dir.join("telemetry.json")),
            &builder,
            Signals::default(),
        )
    }

    fn show(config: &Config, pairs: &[(&str, &str)], terminal: bool) -> Option<String> {
        let mut out = Vec::new();
        let shown = write_first_run_notice(config, &env_of(pairs), terminal, &mut out);
        assert_eq!(shown, !out.is_empty());
        shown.then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn shown_once_per_config_folder() {
        let dir = scratch("once");
        let c = config(&dir, &[], Some(DSN));
        assert_eq!(show(&c, &[], true).as_deref(), Some(crate::TELEMETRY_HELP));
        assert!(dir.join(FILE_NAME).exists());
        assert_eq!(show(&c, &[], true), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_shown_and_not_recorded_when_it_should_not_be() {
        let dir = scratch("never");
        let on = config(&dir, &[], Some(DSN));
        let cases: [Case; 7] = [
            ("not a terminal", on.clone(), &[], false),
            ("CI", on.clone(), &[("CI", "true")], true),
            (
                "GitHub Actions",
                on.clone(),
                &[("GITHUB_ACTIONS", "1")],
                true,
            ),
            (
                "DO_NOT_TRACK",
                config(&dir, &[("DO_NOT_TRACK", "1")], Some(DSN)),
                &[],
                true,
            ),
            (
                "disabled by variable",
                config(&dir, &[("OPENADAPT_TELEMETRY_ENABLED", "false")], Some(DSN)),
                &[],
                true,
            ),
            ("no DSN", config(&dir, &[], None), &[], true),
            (
                "no config file",
                resolve(
                    &env_of(&[]),
                    &FileChoice::None,
                    &Overrides {
                        dsn: Some(DSN.to_owned()),
                        ..Overrides::default()
                    },
                    Signals::default(),
                ),
                &[],
                true,
            ),
        ];
        for (name, c, env, terminal) in cases {
            assert_eq!(show(&c, env, terminal), None, "{name}");
            assert!(!dir.join(FILE_NAME).exists(), "{name}");
        }
        // CI=false is not CI
        assert!(show(&on, &[("CI", "false")], true).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
