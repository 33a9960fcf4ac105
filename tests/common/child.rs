//! Re-running this test binary as a child process, for what only a process of
//! its own can show (a panic that ends it, a global panic hook, its stderr).
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(clippy::expect_used, reason = "test helper")]

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A generous bound on a child's run: it guards against hangs, it is no speed claim.
pub const CHILD_BOUND: Duration = Duration::from_secs(60);

/// How a child run ended.
#[derive(Debug)]
pub struct ChildRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit.
    pub ran: Duration,
}

/// Runs the test `test` (its path in the binary, `module::name`: it is
/// matched with `--exact`) of this binary alone in a child process with `vars`
/// set and `removed` unset, killing it (and failing) after [`CHILD_BOUND`].
pub fn run_self(test: &str, vars: &[(&str, &str)], removed: &[&str]) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in removed {
        cmd.env_remove(name);
    }
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
            break status;
        }
        if start.elapsed() > CHILD_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child running {test} did not exit within {CHILD_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    ChildRun {
        status,
        ran: start.elapsed(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
