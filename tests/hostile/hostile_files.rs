//! Hostile files and variables (issue 14): a config or id file that is a FIFO,
//! a link to one, `/dev/zero`, a folder or 5 MB; opt-out variables that are not
//! UTF-8; a preview file that is a link or another user's; the modes of what
//! the crate creates. Each case runs `init` in a child process (this test binary
//! again, `--exact hostile::hostile_files::hostile_child`), so a hang is caught and stderr is its own.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test panics to fail"
)]

use crate::common;

use std::ffi::OsStr;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::capture::{FLUSH, env, run};
use openadapt_telemetry::Telemetry;
use openadapt_telemetry::testing::Captured;
use serde_json::Value;

/// Set in the child only: which case it plays.
const CASE: &str = "OPENADAPT_HOSTILE_CASE";
/// The path the case is about.
const PATH: &str = "OPENADAPT_HOSTILE_PATH";
/// A DSN nothing is sent to (the child captures).
const DSN: &str = "https://key@errors.example/1";
/// What `init` must stay under.
const INIT_BOUND: Duration = Duration::from_secs(1);
/// A bound on a whole child run: against hangs only.
const CHILD_BOUND: Duration = Duration::from_secs(60);

/// How a child ran.
#[derive(Debug)]
struct Child {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Child {
    /// The lines the crate printed (the harness prints its own).
    fn lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| line.starts_with("openadapt-telemetry: "))
            .collect()
    }
}

/// How to start the child.
#[derive(Clone, Copy, PartialEq)]
enum As {
    Me,
    /// As the user `nobody` (only when this test runs as root).
    Nobody,
    /// Under `umask 022`.
    Umask022,
}

/// Runs the `hostile_child` test of this binary with `vars` (values may be any
/// bytes), failing after [`CHILD_BOUND`].
fn child(case: &str, path: &Path, vars: &[(&str, &OsStr)], how: As) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match how {
        As::Me => Command::new(&exe),
        As::Nobody => {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&exe);
            cmd
        }
        As::Umask022 => {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "umask 022; exec \"$0\" \"$@\""]).arg(&exe);
            cmd
        }
    };
    cmd.args([
        "--exact",
        "hostile::hostile_files::hostile_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CASE, case)
    .env(PATH, path)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let started = Instant::now();
    let mut process = cmd.spawn().unwrap();
    let mut out = process.stdout.take().unwrap();
    let mut err = process.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = process.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHILD_BOUND {
            let _ = process.kill();
            let _ = process.wait();
            panic!("the child ({case}, {}) hung", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Child {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The child role. In the parent (no case set) it does nothing and passes.
#[test]
fn hostile_child() {
    let Some(case) = std::env::var_os(CASE) else {
        return;
    };
    let path = PathBuf::from(std::env::var_os(PATH).unwrap());
    match case.to_str().unwrap() {
        // init with this config file: returns at once, off
        "config" => {
            let started = Instant::now();
            let telemetry = Telemetry::builder("openadapt-hostile", "1.0.0")
                .dsn(DSN)
                .config_file(&path)
                .env_lookup(env(&[]))
                .global(false)
                .capture_panics(false)
                .init();
            let took = started.elapsed();
            assert!(took < INIT_BOUND, "init took {took:?}");
            assert!(!telemetry.is_enabled());
        }
        // init with this install id file: returns at once, on, no id sent
        "id" => {
            let captured = Captured::new();
            let home = path.parent().unwrap().parent().unwrap().to_owned();
            let started = Instant::now();
            let telemetry = Telemetry::builder("openadapt-hostile", "1.0.0")
                .dsn(DSN)
                .config_file(home.join("telemetry.json"))
                .env_lookup(env(&[("HOME", home.to_str().unwrap())]))
                .global(false)
                .capture_panics(false)
                .capture(&captured)
                .init();
            let took = started.elapsed();
            assert!(took < INIT_BOUND, "init took {took:?}");
            assert!(telemetry.is_enabled());
            run(&telemetry, || tracing::error!("boom"));
            assert!(telemetry.flush(FLUSH));
            let items = captured.items();
            assert_eq!(items.len(), 1);
            println!("user={}", items[0].1["user"]);
        }
        // init with the real process environment (its opt-out variables):
        // off, and nothing created
        "environment" => {
            let telemetry = Telemetry::builder("openadapt-hostile", "1.0.0")
                .dsn(DSN)
                .config_file(&path)
                .global(false)
                .capture_panics(false)
                .init();
            assert!(!telemetry.is_enabled());
            println!("source={}", telemetry.config().enabled().source);
        }
        // preview to this file, twice
        "preview" => {
            let path = path.to_str().unwrap();
            let telemetry = Telemetry::builder("openadapt-hostile", "1.0.0")
                .env_lookup(env(&[("OPENADAPT_TELEMETRY_DEBUG_FILE", path)]))
                .no_config_file()
                .global(false)
                .capture_panics(false)
                .init();
            assert!(telemetry.is_enabled());
            run(&telemetry, || tracing::error!("boom"));
            assert!(telemetry.flush(FLUSH));
            run(&telemetry, || tracing::error!("boom again"));
            assert!(telemetry.flush(FLUSH));
        }
        // the notice marker and the preview file, created here
        "create" => {
            let home = path.to_str().unwrap();
            let preview = path.join("preview").join("items.jsonl");
            std::fs::create_dir_all(preview.parent().unwrap()).unwrap();
            let telemetry = Telemetry::builder("openadapt-hostile", "1.0.0")
                .dsn(DSN)
                .env_lookup(env(&[
                    ("HOME", home),
                    ("OPENADAPT_TELEMETRY_DEBUG_FILE", preview.to_str().unwrap()),
                ]))
                .global(false)
                .capture_panics(false)
                .init();
            let mut out = Vec::new();
            assert!(openadapt_telemetry::testing::write_first_run_notice(
                telemetry.config(),
                &|_: &str| None,
                true,
                &mut out
            ));
            run(&telemetry, || tracing::error!("boom"));
            assert!(telemetry.flush(FLUSH));
        }
        other => panic!("unknown case {other}"),
    }
}

/// A fresh folder under the system temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "openadapt-telemetry-hostile-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// The hostile kinds of file, each with the reason the crate gives for it.
const KINDS: [(Kind, &str); 5] = [
    (Kind::Fifo, "it is a FIFO (named pipe), not a regular file"),
    (
        Kind::LinkToFifo,
        "it is a FIFO (named pipe), not a regular file",
    ),
    (
        Kind::LinkToZero,
        "it is a character device, not a regular file",
    ),
    (Kind::Folder, "it is a directory"),
    (Kind::Large, "it is larger than"),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Fifo,
    LinkToFifo,
    LinkToZero,
    Folder,
    Large,
}

/// Puts a hostile file of `kind` at `path` (a FIFO a link points to goes in `dir`).
fn make(kind: Kind, dir: &Path, path: &Path) {
    let fifo = dir.join("a-fifo");
    match kind {
        Kind::Fifo => mkfifo(path),
        Kind::LinkToFifo => {
            mkfifo(&fifo);
            std::os::unix::fs::symlink(&fifo, path).unwrap();
        }
        Kind::LinkToZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        Kind::Folder => std::fs::create_dir_all(path).unwrap(),
        Kind::Large => std::fs::write(path, vec![b' '; 5 << 20]).unwrap(),
    }
}

/// Removes whatever is at `path` (and the FIFO a link pointed to).
fn clear(dir: &Path, path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(dir.join("a-fifo"));
}

#[test]
fn init_returns_at_once_with_a_hostile_config_file() {
    let dir = scratch("config");
    let path = dir.join("telemetry.json");
    for (kind, reason) in KINDS {
        clear(&dir, &path);
        make(kind, &dir, &path);
        let run = child("config", &path, &[], As::Me);
        assert!(run.success, "{reason}: {run:#?}");
        let reason = if reason == "it is larger than" {
            "it is larger than 1 MiB"
        } else {
            reason
        };
        assert_eq!(
            run.lines(),
            [format!(
                "openadapt-telemetry: invalid config file {}: {reason}; telemetry is off",
                path.display()
            )],
            "{run:#?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn init_returns_at_once_with_a_hostile_id_file() {
    let dir = scratch("id");
    let path = dir
        .join("home")
        .join(".openadapt")
        .join("telemetry_distinct_id");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    for (kind, reason) in KINDS {
        clear(&dir, &path);
        make(kind, &dir, &path);
        let run = child("id", &path, &[], As::Me);
        assert!(run.success, "{reason}: {run:#?}");
        if reason == "it is larger than" {
            // a regular file that holds no UUID: replaced, as Python's garbage would be
            assert!(run.lines().is_empty(), "{run:#?}");
            let id = std::fs::read_to_string(&path).unwrap();
            assert_eq!(id.len(), 36);
            assert!(
                run.stdout.contains(&format!("user={{\"id\":\"{id}\"}}")),
                "{run:#?}"
            );
        } else {
            assert_eq!(
                run.lines(),
                [format!(
                    "openadapt-telemetry: cannot use the install id file {}: {reason}; events carry no install id",
                    path.display()
                )],
                "{run:#?}"
            );
            assert!(run.stdout.contains("user=null"), "{run:#?}");
            // left alone
            assert!(!std::fs::symlink_metadata(&path).unwrap().is_file());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_opt_out_variable_that_is_not_utf8_turns_it_off() {
    let dir = scratch("not-utf8");
    let config = dir.join("telemetry.json");
    std::fs::write(&config, r#"{"enabled": true}"#).unwrap();
    let cases: [(&str, &[u8]); 7] = [
        ("DO_NOT_TRACK", b"1\xff"),
        ("OPENADAPT_TELEMETRY_ENABLED", b"false\xff"),
        ("OPENADAPT_TELEMETRY_CONFIG", b"/tmp/\xff.json"),
        ("XDG_CONFIG_HOME", b"/tmp/\xff"),
        ("HOME", b"/home/\xff"),
        ("OPENADAPT_TELEMETRY_DEBUG", b"1\xff"),
        ("OPENADAPT_TELEMETRY_DEBUG_FILE", b"/tmp/\xff.jsonl"),
    ];
    for (name, value) in cases {
        let run = child(
            "environment",
            &config,
            &[(name, OsStr::from_bytes(value))],
            As::Me,
        );
        assert!(run.success, "{name}: {run:#?}");
        assert_eq!(
            run.lines(),
            [format!(
                "openadapt-telemetry: environment variable {name} is not valid UTF-8; telemetry is off"
            )],
            "{name}"
        );
        assert!(
            run.stdout.contains(&format!(
                "source=environment variable {name} (not valid UTF-8)"
            )),
            "{run:#?}"
        );
    }
    // nothing was written anywhere it could have been
    assert_eq!(cli_names(&dir), ["telemetry.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn cli_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Whether this test runs as root (then another user can be played).
fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[test]
fn the_preview_file_is_never_a_link_nor_another_users() {
    let dir = scratch("preview");
    let refusal = |path: &Path, why: &str| {
        format!(
            "openadapt-telemetry: refusing to write the preview file {}: {why}; nothing is written there",
            path.display()
        )
    };

    // a link to a file: the file is untouched
    let target = dir.join("target.txt");
    std::fs::write(&target, "precious\n").unwrap();
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let run = child("preview", &link, &[], As::Me);
    assert!(run.success, "{run:#?}");
    assert_eq!(
        run.lines(),
        [refusal(&link, "it is a symbolic link")],
        "once"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");

    // a dangling link: nothing is created where it points
    let nowhere = dir.join("created-through-the-link");
    let dangling = dir.join("dangling.jsonl");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    let run = child("preview", &dangling, &[], As::Me);
    assert_eq!(run.lines(), [refusal(&dangling, "it is a symbolic link")]);
    assert!(!nowhere.exists());

    // a FIFO: never blocks, never written
    let fifo = dir.join("fifo.jsonl");
    mkfifo(&fifo);
    let run = child("preview", &fifo, &[], As::Me);
    assert_eq!(
        run.lines(),
        [refusal(
            &fifo,
            "it is a FIFO (named pipe), not a regular file"
        )]
    );

    // another user's file
    if !root() {
        eprintln!(
            "skipped: a preview file owned by another user needs root (to chown it, or to run a child as nobody)"
        );
    } else {
        // a file of nobody's, written by root
        let theirs = dir.join("theirs.jsonl");
        std::fs::write(&theirs, "").unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let run = child("preview", &theirs, &[], As::Me);
        assert_eq!(
            run.lines(),
            [refusal(&theirs, "it belongs to another user (uid 65534)")]
        );
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "");

        // a 0666 file of root's, written by nobody
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let roots = dir.join("roots.jsonl");
        std::fs::write(&roots, "").unwrap();
        std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o666)).unwrap();
        let run = child("preview", &roots, &[], As::Nobody);
        assert!(run.success, "{run:#?}");
        assert_eq!(
            run.lines(),
            [refusal(&roots, "it belongs to another user (uid 0)")]
        );
        assert_eq!(std::fs::read_to_string(&roots).unwrap(), "");
    }

    // a file of one's own: appended to
    let own = dir.join("own.jsonl");
    let run = child("preview", &own, &[], As::Me);
    assert!(run.lines().is_empty(), "{run:#?}");
    let text = std::fs::read_to_string(&own).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap()).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_it_creates_is_private_under_umask_022() {
    let home = scratch("modes");
    let run = child("create", &home, &[], As::Umask022);
    assert!(run.success, "{run:#?}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // the notice marker, in a config folder it created
    let config = home.join(".config");
    assert_eq!(mode(&config), 0o700);
    assert_eq!(mode(&config.join("openadapt")), 0o700);
    assert_eq!(mode(&config.join("openadapt").join("notice_shown")), 0o600);
    // the preview file
    assert_eq!(mode(&home.join("preview").join("items.jsonl")), 0o600);
    std::fs::remove_dir_all(&home).unwrap();
}
