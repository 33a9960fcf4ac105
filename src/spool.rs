//! The spool: envelopes that passed the privacy gate and are not yet confirmed
//! delivered, kept on disk so that exit never waits on the network and nothing
//! is lost to a slow, silent or absent server.
//!
//! Where: `<cache dir>/openadapt/telemetry-spool/` (`$XDG_CACHE_HOME` or
//! `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on
//! Windows), folder 0700, files 0600. What: exactly the bytes that would be
//! sent, already scrubbed, one envelope per file, its header naming the DSN it
//! was made for. Shared by every process and package of an install.
//!
//! - A file is written under a temporary name and renamed, so a crash or
//!   `kill -9` mid-write never leaves half an envelope that is sent.
//! - A process claims a file by renaming it (`NAME.PID-MILLIS.claim`): only one
//!   rename wins, so no two processes send the same file. It gives the claim
//!   back (renames it back) when a send fails or when it exits; a claim older
//!   than [`STALE_CLAIM`] belongs to nobody.
//! - Bounded: at most [`MAX_ENVELOPES`] files and [`MAX_BYTES`], nothing older
//!   than [`MAX_AGE`]; the oldest go first, counted in the next client report.
//! - A file that cannot be read or is not a whole envelope is removed and counted.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::gate::{
    CACHE_OVERFLOW, CLIENT_REPORT, Category, EVENT, Envelope, INTERNAL_ERROR, Losses, TRANSACTION,
};
use crate::queue::lock_briefly;

/// Most envelopes kept.
pub(crate) const MAX_ENVELOPES: usize = 1000;
/// Most bytes kept.
pub(crate) const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Oldest envelope kept.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// A claim older than this is given up: its process is gone or stuck.
pub(crate) const STALE_CLAIM: Duration = Duration::from_secs(60);
/// Largest file read back (an envelope holds one item of at most 1 MiB).
const MAX_FILE: u64 = 2 * 1024 * 1024;
/// How long the spool's own count of its files is trusted before a rescan.
const RESCAN: Duration = Duration::from_secs(2);
const SUFFIX: &str = ".envelope";
const CLAIM: &str = ".claim";

/// The spool folder for this install, from the environment as `env` reports
/// it: `<cache dir>/openadapt/telemetry-spool`; `None` without a cache folder.
pub(crate) fn default_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let cache = if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library").join("Caches"))
    } else if cfg!(windows) {
        var("LOCALAPPDATA")
    } else {
        var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))
    };
    Some(cache?.join("openadapt").join("telemetry-spool"))
}

/// What waits in a spool folder, for `openadapt-telemetry status`.
#[cfg(any(test, feature = "cli"))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Envelopes waiting (ready or claimed by a process sending them).
    pub(crate) envelopes: usize,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// When the oldest was written.
    pub(crate) oldest: Option<SystemTime>,
}

/// Counts what waits in `dir` (nothing when it does not exist).
#[cfg(any(test, feature = "cli"))]
pub(crate) fn summary(dir: &Path) -> Summary {
    let mut out = Summary::default();
    for file in list(dir) {
        if let Some(name) = Name::parse(&file.name) {
            out.envelopes += 1;
            out.bytes += file.len;
            let created = UNIX_EPOCH + Duration::from_nanos(name.nanos);
            out.oldest = Some(out.oldest.map_or(created, |o: SystemTime| o.min(created)));
        }
    }
    out
}

/// Deletes the spool folder and everything in it (done when it does not exist).
#[cfg(any(test, feature = "cli"))]
pub(crate) fn remove_all(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A file of the spool, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    /// The ready name (`NANOS-RANDOM-CATEGORY.envelope`).
    ready: String,
    nanos: u64,
    category: Category,
    /// For a claimed file: the claiming process and when it claimed.
    claim: Option<(u32, u64)>,
}

impl Name {
    fn parse(name: &str) -> Option<Name> {
        let (ready, claim) = match name.strip_suffix(CLAIM) {
            Some(rest) => {
                let (ready, by) = rest.rsplit_once('.')?;
                let (pid, millis) = by.split_once('-')?;
                (ready, Some((pid.parse().ok()?, millis.parse().ok()?)))
            }
            None => (name, None),
        };
        let stem = ready.strip_suffix(SUFFIX)?;
        let mut parts = stem.splitn(3, '-');
        let nanos = parts.next()?.parse().ok()?;
        let _random = u64::from_str_radix(parts.next()?, 16).ok()?;
        let category = match parts.next()? {
            "error" => Category::Error,
            "transaction" => Category::Transaction,
            _ => return None,
        };
        Some(Name {
            ready: ready.to_owned(),
            nanos,
            category,
            claim,
        })
    }
}

/// A spooled envelope this process holds a claim on.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    ready: String,
    claimed: String,
    pub(crate) category: Category,
}

struct Listed {
    name: String,
    len: u64,
}

fn list(dir: &Path) -> Vec<Listed> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| Listed {
                name: e.file_name().to_string_lossy().into_owned(),
                len: meta.len(),
            })
        })
        .collect()
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

#[derive(Debug, Default)]
struct Estimate {
    count: usize,
    bytes: u64,
    checked: Option<Instant>,
    /// The files of the last scan not yet dropped, oldest first: while the
    /// scan is fresh, room is made from these without listing the folder again.
    oldest: VecDeque<(Name, u64)>,
}

/// One process's handle on the spool folder. Creates nothing until it writes.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    estimate: Mutex<Estimate>,
    /// The folder's mode has been checked (once per process).
    #[cfg_attr(not(unix), allow(dead_code, reason = "modes are unix only"))]
    private: AtomicBool,
}

impl Spool {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Spool {
            dir,
            estimate: Mutex::new(Estimate::default()),
            private: AtomicBool::new(false),
        }
    }

    /// The id claims are made under: this process (a forked child has its own).
    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn claim_name(&self, ready: &str) -> String {
        format!("{ready}.{}-{}{CLAIM}", self.pid(), now_millis())
    }

    /// Creates the folder (0700, and the folders on the way); a folder that
    /// exists with more than owner access is made 0700, once per process.
    fn ensure_dir(&self) -> io::Result<()> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&self.dir)?;
        #[cfg(unix)]
        if !self.private.swap(true, Ordering::Relaxed) {
            use std::os::unix::fs::PermissionsExt as _;
            let loose = fs::symlink_metadata(&self.dir)
                .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o077 != 0);
            if loose {
                let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700));
            }
        }
        Ok(())
    }

    /// Writes an envelope. `claimed`: this process sends it next (the worker,
    /// before it tries the network); else any process may (exit paths).
    pub(crate) fn write(
        &self,
        bytes: &[u8],
        category: Category,
        claimed: bool,
        losses: &Losses,
    ) -> io::Result<Entry> {
        self.ensure_dir()?;
        self.make_room(bytes.len() as u64, losses);
        self.put(bytes, category, claimed)
    }

    /// Writes the counts of lost items not yet reported to the spool, as an
    /// envelope of their own for `dsn`, so that the next run reports them
    /// (exit paths). Room is made first, so what that drops is reported too.
    pub(crate) fn write_report(&self, dsn: &str, losses: &Losses) {
        let report = |item| Envelope {
            event_id: None,
            dsn: Some(dsn.to_owned()),
            items: vec![item],
        };
        // The report's size, with room for a few more reasons (what making room adds).
        let Some(item) = losses.take_item() else {
            return;
        };
        let probe = report(item);
        let room = probe.to_bytes().len() as u64 + 512;
        losses.lose_reports(&probe);
        if self.ensure_dir().is_err() {
            return;
        }
        self.make_room(room, losses);
        let Some(item) = losses.take_item() else {
            return;
        };
        let report = report(item);
        if self
            .put(&report.to_bytes(), Category::Error, false)
            .is_err()
        {
            losses.lose_reports(&report);
        }
    }

    /// Writes a file under a temporary name and renames it into place.
    fn put(&self, bytes: &[u8], category: Category, claimed: bool) -> io::Result<Entry> {
        let random = crate::random::random_u64();
        let ready = format!(
            "{:020}-{random:016x}-{}{SUFFIX}",
            now_nanos(),
            category.as_str()
        );
        let temp = self.dir.join(format!(".{random:016x}.tmp"));
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let written = options.open(&temp).and_then(|mut f| f.write_all(bytes));
        let claimed_name = if claimed {
            self.claim_name(&ready)
        } else {
            ready.clone()
        };
        let renamed = written.and_then(|()| fs::rename(&temp, self.dir.join(&claimed_name)));
        if let Err(e) = renamed {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        if let Some(mut estimate) = lock_briefly(&self.estimate) {
            estimate.count += 1;
            estimate.bytes += bytes.len() as u64;
        }
        Ok(Entry {
            ready,
            claimed: claimed_name,
            category,
        })
    }

    /// Drops the oldest envelopes until one of `len` bytes fits the bounds.
    /// The folder is listed at most once per [`RESCAN`]: once the spool is
    /// full, each write drops from the list of that scan.
    fn make_room(&self, len: u64, losses: &Losses) {
        let Some(mut estimate) = lock_briefly(&self.estimate) else {
            return;
        };
        let fits = |e: &Estimate| e.count < MAX_ENVELOPES && e.bytes + len <= MAX_BYTES;
        let mut fresh = estimate.checked.is_some_and(|t| t.elapsed() < RESCAN);
        if fresh && fits(&estimate) {
            return;
        }
        let now = now_millis();
        let mut listed = false;
        loop {
            if !fresh || estimate.oldest.is_empty() {
                if listed {
                    // Listed in this call and still no room: what is left are live claims.
                    return;
                }
                listed = true;
                let mut files: Vec<(Name, u64)> = list(&self.dir)
                    .into_iter()
                    .filter_map(|f| Some((Name::parse(&f.name)?, f.len)))
                    .collect();
                estimate.count = files.len();
                estimate.bytes = files.iter().map(|(_, len)| len).sum();
                estimate.checked = Some(Instant::now());
                files.sort_by_key(|(name, _)| name.nanos);
                estimate.oldest = files.into();
                fresh = true;
            }
            while !fits(&estimate) {
                let Some((name, file_len)) = estimate.oldest.pop_front() else {
                    break;
                };
                // Another process's live claim is theirs to send.
                let path = match name.claim {
                    Some((_, at)) if now.saturating_sub(at) < STALE_CLAIM.as_millis() as u64 => {
                        continue;
                    }
                    Some((pid, at)) => self.dir.join(format!("{}.{pid}-{at}{CLAIM}", name.ready)),
                    None => self.dir.join(&name.ready),
                };
                // What it carries is counted: its items, and the client reports in it.
                let bytes = read_file(&path).ok();
                match fs::remove_file(path) {
                    Ok(()) => count_lost(bytes.as_deref(), name.category, CACHE_OVERFLOW, losses),
                    // Sent or dropped meanwhile by another process: gone all the same.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(_) => continue,
                }
                estimate.count = estimate.count.saturating_sub(1);
                estimate.bytes = estimate.bytes.saturating_sub(file_len);
            }
            if fits(&estimate) {
                return;
            }
        }
    }

    /// The envelopes that may be claimed now, oldest first. Removes on the way
    /// what must go: leftovers of interrupted writes, files past [`MAX_AGE`],
    /// files that are not spool files (all counted).
    pub(crate) fn candidates(&self, losses: &Losses) -> Vec<String> {
        let now = now_millis();
        let now_ns = now_nanos();
        let mut out: Vec<(u64, String)> = Vec::new();
        for file in list(&self.dir) {
            let path = self.dir.join(&file.name);
            if file.name.starts_with('.') && file.name.ends_with(".tmp") {
                // A write in progress, or one a crash interrupted.
                let old = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_CLAIM);
                if old {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            let Some(name) = Name::parse(&file.name) else {
                if fs::remove_file(&path).is_ok() {
                    losses.add(INTERNAL_ERROR, "error", 1);
                }
                continue;
            };
            if Duration::from_nanos(now_ns.saturating_sub(name.nanos)) > MAX_AGE {
                let bytes = read_file(&path).ok();
                if fs::remove_file(&path).is_ok() {
                    count_lost(bytes.as_deref(), name.category, CACHE_OVERFLOW, losses);
                }
                continue;
            }
            let claimable = match name.claim {
                None => true,
                Some((_, at)) => now.saturating_sub(at) >= STALE_CLAIM.as_millis() as u64,
            };
            if claimable {
                out.push((name.nanos, file.name));
            }
        }
        out.sort();
        out.into_iter().map(|(_, name)| name).collect()
    }

    /// Claims the file `name` (from [`candidates`](Self::candidates)); `None`
    /// when another process was first.
    pub(crate) fn claim(&self, name: &str) -> Option<Entry> {
        let parsed = Name::parse(name)?;
        let claimed = self.claim_name(&parsed.ready);
        fs::rename(self.dir.join(name), self.dir.join(&claimed)).ok()?;
        Some(Entry {
            ready: parsed.ready,
            claimed,
            category: parsed.category,
        })
    }

    /// Reads a claimed envelope. A file that is not a whole envelope naming
    /// its DSN is removed and counted: `None`.
    pub(crate) fn read(&self, entry: &Entry, losses: &Losses) -> Option<(Vec<u8>, String)> {
        let path = self.dir.join(&entry.claimed);
        let checked = read_file(&path)
            .ok()
            .and_then(|b| envelope_dsn(&b).map(|dsn| (b, dsn)));
        if checked.is_none() {
            let _ = fs::remove_file(&path);
            losses.add(INTERNAL_ERROR, entry.category.as_str(), 1);
            self.forget();
        }
        checked
    }

    /// Removes a delivered (or finally refused) envelope.
    pub(crate) fn delete(&self, entry: &Entry) {
        let removed = match fs::remove_file(self.dir.join(&entry.claimed)) {
            // Given back meanwhile (an exit path): remove it under its ready name.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::remove_file(self.dir.join(&entry.ready))
            }
            other => other,
        };
        if removed.is_ok() {
            self.forget();
        }
    }

    /// Gives a claim back: any process may send the envelope now.
    pub(crate) fn give_back(&self, entry: &Entry) {
        let _ = fs::rename(self.dir.join(&entry.claimed), self.dir.join(&entry.ready));
    }

    /// Gives back every claim this process holds (at exit).
    pub(crate) fn release_mine(&self) {
        let pid = self.pid();
        for file in list(&self.dir) {
            if let Some(name) = Name::parse(&file.name)
                && name.claim.is_some_and(|(by, _)| by == pid)
            {
                let _ = fs::rename(self.dir.join(&file.name), self.dir.join(&name.ready));
            }
        }
    }

    fn forget(&self) {
        if let Some(mut estimate) = lock_briefly(&self.estimate) {
            estimate.count = estimate.count.saturating_sub(1);
            // The file may be in the last scan's list: list again before dropping from it.
            estimate.oldest.clear();
        }
    }

    /// Whether anything may be waiting (a cheap look at the folder).
    pub(crate) fn has_waiting(&self) -> bool {
        fs::read_dir(&self.dir)
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(SUFFIX)))
            })
            .unwrap_or(false)
    }
}

/// A spool file's bytes (at most [`MAX_FILE`]; a larger file is an error).
fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(io::Error::other("too large"));
    }
    Ok(bytes)
}

/// A whole envelope read back, borrowed from its bytes: its DSN and its items
/// of the types the gate makes, as (type, JSON text).
struct Read<'a> {
    dsn: String,
    items: Vec<(&'static str, &'a str)>,
}

/// Reads a whole envelope; `None` for anything else (no DSN, no item, a cut or
/// bad item).
fn parse(bytes: &[u8]) -> Option<Read<'_>> {
    let (header, mut rest) = split_line(bytes)?;
    let header = json(header)?;
    let mut read = Read {
        dsn: header.get("dsn")?.as_str()?.to_owned(),
        items: Vec::new(),
    };
    let mut items = 0;
    while !rest.is_empty() {
        let (item_header, after) = split_line(rest)?;
        let item_header = json(item_header)?;
        let len = usize::try_from(item_header.get("length")?.as_u64()?).ok()?;
        let payload = std::str::from_utf8(after.get(..len)?).ok()?;
        // Whole JSON, or the item is cut or bad.
        payload.parse::<Value>().ok()?;
        let kind = match item_header.get("type").and_then(Value::as_str) {
            Some(EVENT) => Some(EVENT),
            Some(TRANSACTION) => Some(TRANSACTION),
            Some(CLIENT_REPORT) => Some(CLIENT_REPORT),
            _ => None,
        };
        if let Some(kind) = kind {
            read.items.push((kind, payload));
        }
        rest = after.get(len..)?;
        rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        items += 1;
    }
    (items > 0).then_some(read)
}

/// The DSN in a whole envelope's header; `None` for anything else.
fn envelope_dsn(bytes: &[u8]) -> Option<String> {
    Some(parse(bytes)?.dsn)
}

/// Counts a spooled envelope dropped unsent as lost for `reason`: its events
/// and transactions, and the counts of the client reports it carries (never
/// reported: they go into the next report). Bytes that are not an envelope
/// count as one item of `category`.
pub(crate) fn count_lost(bytes: Option<&[u8]>, category: Category, reason: &str, losses: &Losses) {
    match bytes.and_then(parse) {
        Some(read) => losses.lose_items(read.items, reason),
        None => losses.add(reason, category.as_str(), 1),
    }
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b'\n', bytes)?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

/// One JSON value, when `bytes` are exactly that (through `FromStr`, whose
/// parser is compiled in `serde_json`).
fn json(bytes: &[u8]) -> Option<Value> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Item;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-spool-{tag}-{}-{:x}",
            std::process::id(),
            crate::random::random_u64()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn envelope(n: u64) -> Vec<u8> {
        Envelope {
            event_id: Some(format!("{n:032x}")),
            dsn: Some("http://key@127.0.0.1:9/1".into()),
            items: vec![Item::new(
                "event",
                &serde_json::json!({ "event_id": format!("{n:032x}"), "message": "m" }),
            )],
        }
        .to_bytes()
    }

    #[test]
    fn names_round_trip() {
        let n = Name::parse("00000000000000000042-00000000000000ff-error.envelope").unwrap();
        assert_eq!(n.nanos, 42);
        assert_eq!(n.category, Category::Error);
        assert_eq!(n.claim, None);
        let c =
            Name::parse("00000000000000000042-00000000000000ff-transaction.envelope.77-1234.claim")
                .unwrap();
        assert_eq!(c.claim, Some((77, 1234)));
        assert_eq!(
            c.ready,
            "00000000000000000042-00000000000000ff-transaction.envelope"
        );
        assert!(Name::parse("garbage").is_none());
        assert!(Name::parse("1-zz-error.envelope").is_none());
    }

    #[test]
    fn write_claim_read_delete() {
        let dir = temp_dir("cycle");
        let spool = Spool::new(dir.clone());
        let losses = Losses::default();
        let bytes = envelope(1);
        let entry = spool
            .write(&bytes, Category::Error, false, &losses)
            .unwrap();
        assert!(spool.has_waiting());
        let names = spool.candidates(&losses);
        assert_eq!(names, vec![entry.ready.clone()]);
        let claimed = spool.claim(&names[0]).unwrap();
        assert!(spool.claim(&names[0]).is_none(), "a file is claimed once");
        assert!(
            spool.candidates(&losses).is_empty(),
            "a live claim is not a candidate"
        );
        let (read, dsn) = spool.read(&claimed, &losses).unwrap();
        assert_eq!(read, bytes);
        assert_eq!(dsn, "http://key@127.0.0.1:9/1");
        spool.give_back(&claimed);
        assert_eq!(spool.candidates(&losses).len(), 1);
        let claimed = spool.claim(&entry.ready).unwrap();
        spool.delete(&claimed);
        assert_eq!(summary(&dir).envelopes, 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        remove_all(&dir).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn files_are_private() {
        let dir = temp_dir("modes");
        let spool = Spool::new(dir.clone());
        let entry = spool
            .write(&envelope(2), Category::Error, true, &Losses::default())
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join(&entry.claimed))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        spool.release_mine();
        assert!(dir.join(&entry.ready).exists(), "claims are given back");
        remove_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_files_are_removed_and_counted() {
        let dir = temp_dir("corrupt");
        let spool = Spool::new(dir.clone());
        let losses = Losses::default();
        let whole = envelope(3);
        let entry = spool
            .write(&whole, Category::Error, false, &losses)
            .unwrap();
        // Truncate it mid-item, as a crash without the rename would.
        fs::write(dir.join(&entry.ready), &whole[..whole.len() - 10]).unwrap();
        fs::write(dir.join("garbage.bin"), b"not an envelope").unwrap();
        let names = spool.candidates(&losses);
        assert_eq!(names.len(), 1, "the garbage file is removed");
        assert!(!dir.join("garbage.bin").exists());
        let claimed = spool.claim(&names[0]).unwrap();
        assert!(spool.read(&claimed, &losses).is_none());
        assert_eq!(summary(&dir).envelopes, 0);
        remove_all(&dir).unwrap();
    }

    #[test]
    fn stale_claims_are_claimable() {
        let dir = temp_dir("stale");
        let spool = Spool::new(dir.clone());
        let losses = Losses::default();
        spool.ensure_dir().unwrap();
        let ready = format!("{:020}-0000000000000001-error{SUFFIX}", now_nanos());
        // Claimed by process 4242 at millisecond 1: long ago.
        fs::write(dir.join(format!("{ready}.4242-1{CLAIM}")), envelope(7)).unwrap();
        let names = spool.candidates(&losses);
        assert_eq!(names.len(), 1);
        assert!(spool.claim(&names[0]).is_some());
        remove_all(&dir).unwrap();
    }

    #[test]
    fn bounds_drop_the_oldest() {
        let dir = temp_dir("bounds");
        let spool = Spool::new(dir.clone());
        let losses = Losses::default();
        for i in 0..(MAX_ENVELOPES + 5) {
            spool
                .write(&envelope(i as u64), Category::Error, false, &losses)
                .unwrap();
        }
        let s = summary(&dir);
        assert!(s.envelopes <= MAX_ENVELOPES, "{}", s.envelopes);
        let dropped = losses.take_item().map(|i| i.json).unwrap_or_default();
        assert!(dropped.contains("cache_overflow"), "{dropped}");
        remove_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_envelope_gives_back_the_counts_it_carries() {
        let dir = temp_dir("carried");
        let spool = Spool::new(dir.clone());
        let losses = Losses::default();
        // The oldest envelope carries a report of 7 items lost earlier.
        let mut first = Envelope {
            event_id: Some(format!("{:032x}", 1)),
            dsn: Some("http://key@127.0.0.1:9/1".into()),
            items: Vec::new(),
        };
        let carried = Losses::default();
        carried.add("queue_overflow", "error", 7);
        first.items.push(carried.take_item().unwrap());
        spool
            .write(&first.to_bytes(), Category::Error, false, &losses)
            .unwrap();
        for i in 0..MAX_ENVELOPES {
            spool
                .write(&envelope(i as u64 + 2), Category::Error, false, &losses)
                .unwrap();
        }
        assert_eq!(summary(&dir).envelopes, MAX_ENVELOPES);
        let report = losses.take_item().unwrap().json;
        assert!(
            report.contains(r#""quantity":7,"reason":"queue_overflow""#),
            "{report}"
        );
        assert!(
            !report.contains("cache_overflow"),
            "a report alone is no lost item: {report}"
        );
        // At exit, what is pending goes to the spool as a report of its own,
        // made room for like any envelope.
        losses.add("queue_overflow", "error", 3);
        spool.write_report("http://key@127.0.0.1:9/1", &losses);
        assert_eq!(summary(&dir).envelopes, MAX_ENVELOPES);
        assert!(losses.take_item().is_none(), "all in the report");
        let reports: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| fs::read_to_string(e.path()).unwrap())
            .filter(|text| text.contains("client_report"))
            .collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].contains(r#""quantity":3,"reason":"queue_overflow""#));
        assert!(reports[0].contains(r#""quantity":1,"reason":"cache_overflow""#));
        remove_all(&dir).unwrap();
    }

    #[test]
    fn default_dir_follows_the_platform() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/u".to_owned()),
            "XDG_CACHE_HOME" => Some("relative".to_owned()),
            _ => None,
        };
        if cfg!(target_os = "linux") {
            assert_eq!(
                default_dir(&env),
                Some(PathBuf::from("/home/u/.cache/openadapt/telemetry-spool"))
            );
        }
        assert_eq!(default_dir(&|_| None), None);
    }
}
