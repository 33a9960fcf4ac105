//! Running the `openadapt-telemetry` binary against a temporary config folder,
//! with an environment of its own: the child gets only `PATH` and the variables
//! a test gives it, `HOME` and `XDG_CONFIG_HOME` point into a fresh temporary
//! folder, and its working directory is that folder. The real home directory
//! and the test process's environment are never touched.
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

    /// `$XDG_CONFIG_HOME` of the child.
    pub fn xdg(&self) -> PathBuf {
        self.root.join("xdg")
    }

    /// The config folder: `$XDG_CONFIG_HOME/openadapt`.
    pub fn config_dir(&self) -> PathBuf {
        self.xdg().join("openadapt")
    }

    /// The config file the child uses by default.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("telemetry.json")
    }

    /// The anonymous id file beside the config file.
    pub fn id_file(&self) -> PathBuf {
        self.config_dir().join("anonymous_id")
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
        let mut names: Vec<String> = match std::fs::read_dir(self.config_dir()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Runs the binary with `args` and, besides the sandbox's own, the variables `env`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.xdg())
            .current_dir(&self.root);
        for name in ["PATH", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(env.iter().copied());
        let output = command.output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
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
