//! The install id: a random UUID (version 4) sent as the Sentry user id
//! (`user.id`), so that the maintainers can count installations and, when a
//! user asks, find and erase one installation's data, without knowing whose it
//! is. It is never derived from the hardware, the user or the host.
//!
//! One install, one id, shared with OpenAdapt's Python packages:
//! `OPENADAPT_TELEMETRY_DISTINCT_ID` when it is set, else the file
//! `~/.openadapt/telemetry_distinct_id`, which holds the UUID as text (no line
//! break), as the Python package writes it. The crate's former file,
//! `anonymous_id` beside the config file, is migrated once: its id moves to the
//! shared file (when that has none yet) and the old file is removed.
//!
//! The file is created (`0600`, its folder `0700`) the first time telemetry
//! runs with a DSN ([`TelemetryBuilder::init`](crate::TelemetryBuilder::init)),
//! never while telemetry is off and never in preview mode; it is removed by
//! `openadapt-telemetry disable` and replaced by `openadapt-telemetry reset-id`.
//! It is read as every file is ([`crate::fs`]): a regular file of at most 128
//! bytes; anything else at its path is reported and left alone.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::fs::{self, ID_LIMIT, ReadError};

/// The file, under the home directory.
const FILE: [&str; 2] = [".openadapt", "telemetry_distinct_id"];

/// Where the install id is kept, and the operations on it.
///
/// ```
/// use openadapt_telemetry::cli::AnonymousId;
///
/// let home = std::env::temp_dir().join(format!("openadapt-doc-id-{}", std::process::id()));
/// let id = AnonymousId::in_home(&home);
/// assert_eq!(id.path(), home.join(".openadapt").join("telemetry_distinct_id"));
/// let first = id.load_or_create()?;
/// assert_eq!(std::fs::read_to_string(id.path())?, first); // a UUID as text, as Python writes it
/// assert_eq!(id.load()?, Some(first.clone()));
/// let (old, new) = id.reset()?;
/// assert_eq!(old, Some(first));
/// assert_eq!(id.delete()?, Some(new));
/// assert_eq!(id.load()?, None);
/// # std::fs::remove_dir_all(&home)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg_attr(
    not(feature = "cli"),
    expect(unreachable_pub, reason = "public as `cli::AnonymousId`")
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousId {
    path: PathBuf,
    legacy: Option<PathBuf>,
}

/// What is at an id file's path.
enum Stored {
    Nothing,
    Id(String),
    /// A regular file that does not hold a UUID (the reason): replaced when an
    /// id is needed.
    Garbage(String),
}

#[cfg_attr(
    not(feature = "cli"),
    expect(unreachable_pub, reason = "public as `cli::AnonymousId`")
)]
#[cfg_attr(
    not(any(test, feature = "cli")),
    expect(
        dead_code,
        reason = "the command line's `status`, `reset-id` and `disable` use the rest"
    )
)]
impl AnonymousId {
    /// The id of the install whose home directory is `home`:
    /// `home/.openadapt/telemetry_distinct_id`.
    pub fn in_home(home: &Path) -> Self {
        Self {
            path: FILE.iter().fold(home.to_owned(), |p, part| p.join(part)),
            legacy: None,
        }
    }

    /// The install id file `config` resolved, with the crate's former file
    /// beside its config file; `None` without a home directory, or when the
    /// config file was turned off with
    /// [`TelemetryBuilder::no_config_file`](crate::TelemetryBuilder::no_config_file).
    pub fn of(config: &Config) -> Option<Self> {
        Some(Self {
            path: config.id_file()?.to_owned(),
            legacy: config.legacy_id_file().map(Path::to_owned),
        })
    }

    /// The file holding the id.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The crate's former id file (`anonymous_id` beside the config file),
    /// migrated once.
    pub fn legacy_path(&self) -> Option<&Path> {
        self.legacy.as_deref()
    }

    /// The stored id: the shared file's, else the former file's (not yet
    /// migrated); `None` when there is none. A file that does not hold a UUID
    /// is an error of kind [`io::ErrorKind::InvalidData`]; something that is
    /// not a regular file (a FIFO, a device) an error of kind
    /// [`io::ErrorKind::Other`] or [`io::ErrorKind::IsADirectory`].
    pub fn load(&self) -> io::Result<Option<String>> {
        match stored(&self.path)? {
            Stored::Id(id) => Ok(Some(id)),
            Stored::Garbage(why) => Err(io::Error::new(io::ErrorKind::InvalidData, why)),
            Stored::Nothing => Ok(self.legacy_id()),
        }
    }

    /// The stored id, or a new random one, stored now (the former file's id,
    /// if there is one, is the one stored). Two processes starting at once end
    /// up with the same id. A file that does not hold a UUID is replaced;
    /// something that is not a regular file is an error and is left alone.
    pub fn load_or_create(&self) -> io::Result<String> {
        match stored(&self.path)? {
            Stored::Id(id) => {
                self.remove_legacy();
                return Ok(id);
            }
            Stored::Garbage(_) => {
                let id = new_id();
                fs::write_atomic(&self.path, id.as_bytes(), fs::Flush::Lazy)?;
                self.remove_legacy();
                return Ok(id);
            }
            Stored::Nothing => {}
        }
        // An id moved from the former file is synced before that file is
        // deleted (once per install): a crash never loses it. A new one is not.
        let (id, flush) = match self.legacy_id() {
            Some(id) => (id, fs::Flush::Synced),
            None => (new_id(), fs::Flush::Lazy),
        };
        let temp = fs::write_temp(&self.path, id.as_bytes(), flush)?;
        // A hard link never replaces an existing file: if another process made
        // the id meanwhile, its id wins and is read back.
        let linked = std::fs::hard_link(&temp, &self.path);
        let result = match linked {
            Ok(()) => Ok(id),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match stored(&self.path)? {
                Stored::Id(id) => Ok(id),
                _ => Err(io::Error::other("the id file changed while it was created")),
            },
            // a file system without hard links: rename (the last writer wins)
            Err(_) => std::fs::rename(&temp, &self.path).map(|()| id),
        };
        let _ = std::fs::remove_file(&temp);
        if result.is_ok() {
            self.remove_legacy();
        }
        result
    }

    /// Replaces the id with a new random one; returns the old one (`None` if
    /// there was none, or it was not a UUID) and the new one.
    pub fn reset(&self) -> io::Result<(Option<String>, String)> {
        let old = self.load_lenient()?;
        let id = new_id();
        fs::write_atomic(&self.path, id.as_bytes(), fs::Flush::Lazy)?;
        self.remove_legacy();
        Ok((old, id))
    }

    /// Deletes the id (and the former file); returns the old one (`None` if
    /// there was none, or it was not a UUID).
    pub fn delete(&self) -> io::Result<Option<String>> {
        let old = self.load_lenient()?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.remove_legacy();
        Ok(old)
    }

    /// [`load`](Self::load), with a file that is not a UUID, or not a regular
    /// file, read as no id.
    fn load_lenient(&self) -> io::Result<Option<String>> {
        match self.load() {
            Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::Other) => {
                Ok(None)
            }
            other => other,
        }
    }

    /// The former file's id, if it holds one.
    fn legacy_id(&self) -> Option<String> {
        match stored(self.legacy.as_deref()?) {
            Ok(Stored::Id(id)) => Some(id),
            _ => None,
        }
    }

    /// Removes the former file, if any: it has been migrated.
    fn remove_legacy(&self) {
        if let Some(legacy) = &self.legacy
            && std::fs::symlink_metadata(legacy).is_ok_and(|m| !m.is_dir())
        {
            let _ = std::fs::remove_file(legacy);
        }
    }
}

/// What is at `path`.
fn stored(path: &Path) -> io::Result<Stored> {
    let text = match fs::read_text(path, ID_LIMIT) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(Stored::Nothing),
        Err(ReadError::TooLarge(_)) => {
            return Ok(Stored::Garbage("the file does not hold a UUID".to_owned()));
        }
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
            return Ok(Stored::Garbage("the file does not hold a UUID".to_owned()));
        }
        Err(e) => return Err(e.into_io()),
    };
    Ok(match sentry::types::Uuid::parse_str(text.trim()) {
        Ok(uuid) => Stored::Id(uuid.hyphenated().to_string()),
        Err(_) => Stored::Garbage("the file does not hold a UUID".to_owned()),
    })
}

/// A new random id: a UUID v4 from the operating system's random source.
fn new_id() -> String {
    sentry::types::random_uuid().hyphenated().to_string()
}

/// The install id to send for `config`: `OPENADAPT_TELEMETRY_DISTINCT_ID`,
/// else the install id file's (made if needed). When the file cannot be used,
/// one line on stderr says why and no id is sent.
pub(crate) fn install_id(config: &Config) -> Option<String> {
    if let Some(id) = config.distinct_id() {
        return Some(id.to_owned());
    }
    let id = AnonymousId::of(config)?;
    match id.load_or_create() {
        Ok(value) => Some(value),
        Err(e) => {
            eprintln!(
                "openadapt-telemetry: cannot use the install id file {}: {e}; events carry no install id",
                id.path().display()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-telemetry-identity-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn created_once_random_v4_in_pythons_format() {
        let home = scratch("create");
        let id = AnonymousId::in_home(&home);
        assert_eq!(id.load().unwrap(), None);
        let first = id.load_or_create().unwrap();
        let uuid = sentry::types::Uuid::parse_str(&first).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(first, uuid.hyphenated().to_string());
        assert_eq!(id.load_or_create().unwrap(), first);
        // what Python's str(uuid.uuid4()) and Path.write_text write
        assert_eq!(std::fs::read_to_string(id.path()).unwrap(), first);
        assert_eq!(names(&home.join(".openadapt")), ["telemetry_distinct_id"]);

        let other_home = scratch("create-2");
        let other = AnonymousId::in_home(&other_home);
        assert_ne!(other.load_or_create().unwrap(), first);
        std::fs::remove_dir_all(&home).unwrap();
        std::fs::remove_dir_all(&other_home).unwrap();
    }

    #[test]
    fn a_python_id_is_read_as_it_is() {
        let home = scratch("python");
        let id = AnonymousId::in_home(&home);
        std::fs::create_dir_all(id.path().parent().unwrap()).unwrap();
        let python = "3f0e8a51-61a4-4bd6-9c38-5b8d1c9b6c2e";
        for text in [
            python.to_owned(),
            format!("{python}\n"),
            format!("  {python}  "),
        ] {
            std::fs::write(id.path(), &text).unwrap();
            assert_eq!(id.load_or_create().unwrap(), python);
            assert_eq!(std::fs::read_to_string(id.path()).unwrap(), text);
        }
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn concurrent_creation_agrees() {
        let home = scratch("race");
        let id = AnonymousId::in_home(&home);
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| id.load_or_create())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        assert_eq!(names(&home.join(".openadapt")), ["telemetry_distinct_id"]);
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn garbage_is_replaced_reset_and_delete() {
        let home = scratch("garbage");
        let id = AnonymousId::in_home(&home);
        std::fs::create_dir_all(id.path().parent().unwrap()).unwrap();
        std::fs::write(id.path(), "alice's laptop").unwrap();
        assert_eq!(id.load().unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(id.delete().unwrap(), None);
        assert!(!id.path().exists());

        std::fs::write(id.path(), "not a uuid").unwrap();
        let made = id.load_or_create().unwrap();
        assert_eq!(id.load().unwrap(), Some(made.clone()));
        std::fs::write(id.path(), "x".repeat(1000)).unwrap();
        assert_eq!(id.load().unwrap_err().kind(), io::ErrorKind::InvalidData);
        let made = id.load_or_create().unwrap();

        let (old, new) = id.reset().unwrap();
        assert_eq!(old, Some(made.clone()));
        assert_ne!(new, made);
        assert_eq!(id.delete().unwrap(), Some(new));
        assert_eq!(id.delete().unwrap(), None);
        let (old, _) = id.reset().unwrap();
        assert_eq!(old, None);
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn the_former_file_is_migrated_once() {
        let home = scratch("legacy");
        let config_dir = home.join(".config").join("openadapt");
        std::fs::create_dir_all(&config_dir).unwrap();
        let legacy = config_dir.join("anonymous_id");
        let old = "0b7c2a8e-4f5d-4c1e-9a3b-2d6f8e1c5a70";
        let id = AnonymousId {
            legacy: Some(legacy.clone()),
            ..AnonymousId::in_home(&home)
        };
        std::fs::write(&legacy, format!("{old}\n")).unwrap();
        // not migrated by reading
        assert_eq!(id.load().unwrap().as_deref(), Some(old));
        assert!(legacy.exists());
        assert_eq!(id.load_or_create().unwrap(), old);
        assert_eq!(std::fs::read_to_string(id.path()).unwrap(), old);
        assert!(!legacy.exists());

        // a former file beside a shared one: the shared id wins, the former goes
        std::fs::write(&legacy, "ffffffff-4f5d-4c1e-9a3b-2d6f8e1c5a70").unwrap();
        assert_eq!(id.load_or_create().unwrap(), old);
        assert!(!legacy.exists());
        // reset and delete remove it too
        std::fs::write(&legacy, old).unwrap();
        let (was, _) = id.reset().unwrap();
        assert_eq!(was.as_deref(), Some(old));
        assert!(!legacy.exists());
        std::fs::write(&legacy, old).unwrap();
        id.delete().unwrap();
        assert!(!legacy.exists() && !id.path().exists());
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_left_alone() {
        use std::os::unix::fs::FileTypeExt as _;

        let home = scratch("special");
        let id = AnonymousId::in_home(&home);
        std::fs::create_dir_all(id.path().parent().unwrap()).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(id.path())
            .status()
            .unwrap();
        assert!(status.success());
        let started = std::time::Instant::now();
        let error = id.load_or_create().unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            error.to_string(),
            "it is a FIFO (named pipe), not a regular file"
        );
        assert_eq!(error.kind(), io::ErrorKind::Other);
        assert!(
            std::fs::symlink_metadata(id.path())
                .unwrap()
                .file_type()
                .is_fifo()
        );
        std::fs::remove_dir_all(&home).unwrap();
    }
}
