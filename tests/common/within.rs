//! Re-running this test binary as a child process with a bound of the caller's
//! choosing, reporting a hang instead of panicking on it, so the caller's
//! assertion says what the child was doing. `tests/behaviour.rs` includes it with
//! `#[path = "common/within.rs"] mod within;`.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(clippy::expect_used, reason = "test helper")]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a bounded child run ended.
#[derive(Debug)]
pub struct Bounded {
    /// `None` when the child was killed at the bound.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Bounded {
    /// True when the child exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Everything known about the run, for an assertion message.
    pub fn describe(&self) -> String {
        let ended = match self.status {
            Some(status) => format!("exited: {status}"),
            None => "HUNG: killed at the bound".to_owned(),
        };
        format!(
            "{ended}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// The last 4,000 bytes of `text` (a failing child may print a lot).
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(4000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Runs the test `test` (its path in the binary, `module::name`: it is
/// matched with `--exact`) of this binary alone in a child process with `vars`
/// set, killing it after `bound` (a bound on hangs, not a speed claim).
pub fn run_self_within(test: &str, vars: &[(&str, &str)], bound: Duration) -> Bounded {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn the child");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Bounded {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
