//! Running the `openadapt-telemetry` binary against a temporary home folder,
//! with an environment of its own: the child gets only `PATH` and the variables
//! a test gives it, `HOME` points into a fresh temporary folder (and
//! `XDG_CONFIG_HOME` is unset unless a test sets it), and its working directory
//! is that folder. The real home directory and the test process's environment
//! are never touched.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a panic fails the test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_openadapt-telemetry");

/// A fresh temporary folder with a home and a config folder inside, removed on drop.
pub struct Sandbox {
    pub root: PathBuf,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code; {self:#?}");
        self
    }
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!(
            "openadapt-telemetry-cli-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("home")).unwrap();
        Sandbox { root }
    }

    /// `$HOME` of the child.
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// A folder for `$XDG_CONFIG_HOME`: not set unless a test passes it
    /// (`("XDG_CONFIG_HOME", text(&sandbox.xdg()))`).
    pub fn xdg(&self) -> PathBuf {
        self.root.join("xdg")
    }

    /// The config file in the XDG folder.
    pub fn xdg_config_file(&self) -> PathBuf {
        self.xdg().join("openadapt").join("telemetry.json")
    }

    /// The config folder: `$HOME/.config/openadapt`, shared with the Python packages.
    pub fn config_dir(&self) -> PathBuf {
        self.home().join(".config").join("openadapt")
    }

    /// The config file the child uses by default.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("telemetry.json")
    }

    /// The install id file: `$HOME/.openadapt/telemetry_distinct_id`.
    pub fn id_file(&self) -> PathBuf {
        self.home().join(".openadapt").join("telemetry_distinct_id")
    }

    /// The crate's former id file, beside the config file.
    pub fn legacy_id_file(&self) -> PathBuf {
        self.config_dir().join("anonymous_id")
    }

    /// Writes the install id file (creating the folder), as Python does: no line break.
    pub fn write_id(&self, id: &str) {
        std::fs::create_dir_all(self.id_file().parent().unwrap()).unwrap();
        std::fs::write(self.id_file(), id).unwrap();
    }

    /// Writes the config file (creating the folder).
    pub fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.config_dir()).unwrap();
        std::fs::write(self.config_file(), text).unwrap();
    }

    /// The config file parsed.
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.config_file()).unwrap()).unwrap()
    }

    /// The names in the config folder, sorted.
    pub fn config_dir_names(&self) -> Vec<String> {
        names(&self.config_dir())
    }

    /// Runs the binary with `args` and, besides the sandbox's own, the variables `env`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(BIN, args);
        command.envs(env.iter().copied());
        finish(&mut command)
    }

    /// A command for `program` with `args`, in the sandbox's environment.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .current_dir(&self.root);
        for name in ["PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
    }

    /// Runs the binary with `args` under `umask 022` (through `sh`).
    pub fn run_umask_022(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec!["-c", "umask 022; exec \"$0\" \"$@\"", BIN];
        all.extend_from_slice(args);
        let mut command = self.command("sh", &all);
        command.envs(env.iter().copied());
        finish(&mut command)
    }
}

/// Runs `command`, waiting for its end.
pub fn finish(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A DSN nothing listens on: a port taken from the system, then released.
pub fn closed_port_dsn() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://closedportkey@127.0.0.1:{port}/1")
}

/// `path` as text, for an environment variable.
pub fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The names in `dir`, sorted (none if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
