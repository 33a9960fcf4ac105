//! The spool tests' helpers: a temporary spool folder and what is in it, a
//! builder that uses it, and the child-process roles' variables.
//!
//! A child role is this test binary run again (`common::within`) with
//! [`ROLE`] set; it reads the DSN, the spool folder and a tag from [`DSN`],
//! [`DIR`] and [`TAG`]. In the parent the role tests find no [`ROLE`] and pass.
#![allow(dead_code, reason = "each test file uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a panic fails the test"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openadapt_telemetry::{Telemetry, TelemetryBuilder};
use serde_json::Value;

use super::capture::env;
use super::faults::{Item, parse_envelope_items};

/// The role a child plays (unset in the parent).
pub const ROLE: &str = "OPENADAPT_SPOOL_TEST_ROLE";
/// The DSN the child sends to.
pub const DSN: &str = "OPENADAPT_SPOOL_TEST_DSN";
/// The child's spool folder.
pub const DIR: &str = "OPENADAPT_SPOOL_TEST_DIR";
/// A word the child puts in what it logs, so the parent finds it.
pub const TAG: &str = "OPENADAPT_SPOOL_TEST_TAG";

/// A generous bound on one child's run: it catches hangs, it is no speed claim.
pub const CHILD_BOUND: Duration = Duration::from_secs(60);

/// The role this process plays, when it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// A child's DSN, spool folder and tag.
pub fn child_setup() -> (String, PathBuf, String) {
    (
        std::env::var(DSN).expect("the parent sets the DSN"),
        PathBuf::from(std::env::var(DIR).expect("the parent sets the spool folder")),
        std::env::var(TAG).unwrap_or_default(),
    )
}

/// A word no other run uses.
pub fn nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// A fresh temporary folder (not created), removed with everything in it on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        Self::under(std::env::temp_dir(), tag)
    }

    /// In memory (`/dev/shm`, where there is one), for a test of the spool's
    /// own rules rather than the disk: on ext4 its thousands of files made and
    /// removed cost more kernel time (inode allocation after deletes) than the
    /// whole pipeline does.
    pub fn in_memory(tag: &str) -> TempDir {
        let dir = Self::under(PathBuf::from("/dev/shm"), tag);
        // Only where this process may write (some sandboxes have it read-only).
        if std::fs::create_dir(&dir.path).is_ok() && std::fs::remove_dir(&dir.path).is_ok() {
            dir
        } else {
            Self::new(tag)
        }
    }

    fn under(parent: PathBuf, tag: &str) -> TempDir {
        let path = parent.join(format!("openadapt-spooltest-{tag}-{}", nonce()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir { path }
    }

    /// The spool folder inside it (not created: the crate creates it when it writes).
    pub fn spool(&self) -> PathBuf {
        self.path
            .join("cache")
            .join("openadapt")
            .join("telemetry-spool")
    }

    /// The spool folder as text, for a child's environment.
    pub fn spool_text(&self) -> String {
        self.spool().to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A builder isolated from the machine (no config file, no real environment,
/// not global, no panic hook) that sends to `dsn` and spools in `spool`.
pub fn builder(dsn: &str, spool: &Path) -> TelemetryBuilder {
    Telemetry::builder("openadapt-spool-test", "1.0.0")
        .env_lookup(env(&[
            ("OPENADAPT_TELEMETRY_DSN", dsn),
            ("OPENADAPT_INTERNAL", "false"),
        ]))
        .no_config_file()
        .global(false)
        .capture_panics(false)
        .spool_dir(spool)
}

/// A DSN nothing listens on: a port taken from the system, then released.
pub fn closed_port_dsn() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://public@127.0.0.1:{port}/1")
}

/// Every regular file in `dir`: its name and bytes (none if `dir` does not exist).
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

/// The spool's envelope files (ready or claimed), by name.
pub fn envelope_names(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|n| n.ends_with(".envelope") || n.ends_with(".claim"))
        .collect()
}

/// Waits (up to `bound`) until a worker has claimed an error in `dir` for
/// sending, whole (with its stack trace: on the process's first error the
/// worker first makes a copy without one durable, then reads the stack), then
/// `on_the_wire` more: it has built the error, made it durable, claimed it,
/// and (a silent server) waits on its request. True if it did.
pub fn wait_for_claim(dir: &Path, bound: Duration, on_the_wire: Duration) -> bool {
    let start = Instant::now();
    let whole = |bytes: &[u8]| bytes.windows(12).any(|w| w == b"\"stacktrace\"");
    while !files(dir)
        .iter()
        .any(|(name, bytes)| name.ends_with(".claim") && whole(bytes))
    {
        if start.elapsed() > bound {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(on_the_wire);
    true
}

/// The spool's envelope count and bytes.
pub fn usage(dir: &Path) -> (usize, u64) {
    let all: Vec<(String, Vec<u8>)> = files(dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".envelope") || n.ends_with(".claim"))
        .collect();
    (all.len(), all.iter().map(|(_, b)| b.len() as u64).sum())
}

/// One spooled envelope, parsed.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub name: String,
    pub header: Value,
    pub items: Vec<Item>,
}

impl Spooled {
    /// Its event item, if any.
    pub fn event(&self) -> Option<&Value> {
        self.items
            .iter()
            .find(|i| i.kind == "event")
            .map(|i| &i.payload)
    }
}

/// Every envelope in the spool, parsed.
pub fn read_spool(dir: &Path) -> Vec<Spooled> {
    files(dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".envelope") || n.ends_with(".claim"))
        .map(|(name, bytes)| {
            let header_end = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
            Spooled {
                header: serde_json::from_slice(&bytes[..header_end]).unwrap_or(Value::Null),
                items: parse_envelope_items(&bytes),
                name,
            }
        })
        .collect()
}

/// An event's id, without dashes.
pub fn event_id(event: &Value) -> String {
    event["event_id"]
        .as_str()
        .unwrap_or_default()
        .replace('-', "")
}

/// Whether an event is a usage count (`feature:NAME`).
pub fn is_usage(event: &Value) -> bool {
    event["tags"]["feature"].is_string()
}

/// How many times each event id occurs.
pub fn count_ids<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for event in events {
        *out.entry(event_id(event)).or_insert(0) += 1;
    }
    out
}

/// The ids that occur more than once, with their counts.
pub fn twice<'a>(events: impl IntoIterator<Item = &'a Value>) -> Vec<(String, usize)> {
    count_ids(events)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect()
}

/// A `KEY=VALUE` a child printed (the test harness may print before it on the line), parsed.
pub fn reported<T: std::str::FromStr>(stdout: &str, key: &str) -> Option<T> {
    let key = format!("{key}=");
    stdout
        .lines()
        .find_map(|l| Some(&l[l.find(&key)? + key.len()..]))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
