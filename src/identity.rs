//! The anonymous id: a random UUID (version 4) sent as the Sentry user id
//! (`user.id`), so that the maintainers can count installations and, when a
//! user asks, find and erase one installation's data, without knowing whose it
//! is. It is never derived from the hardware, the user or the host.
//!
//! It is one line of text in the file `anonymous_id`, in the folder of the
//! config file (`~/.config/openadapt/anonymous_id` by default), shared by every
//! package on the machine, like the config file. It is created the first time
//! telemetry runs with a DSN ([`TelemetryBuilder::init`](crate::TelemetryBuilder::init)),
//! never while telemetry is off and never in preview mode, removed by
//! `openadapt-telemetry disable` and replaced by `openadapt-telemetry reset-id`.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::{Config, write_atomic, write_temp};

/// The file name, in the config file's folder.
const FILE_NAME: &str = "anonymous_id";

/// Where the anonymous id is kept, and the operations on it.
///
/// ```
/// use openadapt_telemetry::AnonymousId;
///
/// let dir = std::env::temp_dir().join(format!("openadapt-doc-id-{}", std::process::id()));
/// let id = AnonymousId::beside(&dir.join("telemetry.json"));
/// assert_eq!(id.path(), dir.join("anonymous_id"));
/// let first = id.load_or_create()?;
/// assert_eq!(id.load()?, Some(first.clone()));
/// let (old, new) = id.reset()?;
/// assert_eq!(old, Some(first));
/// assert_eq!(id.delete()?, Some(new));
/// assert_eq!(id.load()?, None);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousId {
    path: PathBuf,
}

impl AnonymousId {
    /// The id kept beside the config file `config_file` (in the same folder).
    pub fn beside(config_file: &Path) -> Self {
        let dir = config_file.parent().unwrap_or(Path::new(""));
        Self {
            path: dir.join(FILE_NAME),
        }
    }

    /// The id kept beside `config`'s config file; `None` when it has no config
    /// file path (no home directory, or the file was turned off with
    /// [`TelemetryBuilder::no_config_file`](crate::TelemetryBuilder::no_config_file)).
    pub fn of(config: &Config) -> Option<Self> {
        config.file_path().map(Self::beside)
    }

    /// The file holding the id.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored id; `None` when there is none. A file that does not hold a
    /// UUID is an error of kind [`io::ErrorKind::InvalidData`].
    pub fn load(&self) -> io::Result<Option<String>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match sentry::types::Uuid::parse_str(text.trim()) {
            Ok(uuid) => Ok(Some(uuid.hyphenated().to_string())),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file does not hold a UUID",
            )),
        }
    }

    /// The stored id, or a new random one, stored now. Two processes starting
    /// at once end up with the same id. A file that does not hold a UUID is
    /// replaced.
    pub fn load_or_create(&self) -> io::Result<String> {
        match self.load() {
            Ok(Some(id)) => return Ok(id),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let id = new_id();
                write_atomic(&self.path, line(&id).as_bytes())?;
                return Ok(id);
            }
            Err(e) => return Err(e),
        }
        let id = new_id();
        let temp = write_temp(&self.path, line(&id).as_bytes())?;
        // A hard link never replaces an existing file: if another process made
        // the id meanwhile, its id wins and is read back.
        let linked = std::fs::hard_link(&temp, &self.path);
        let result = match linked {
            Ok(()) => Ok(id),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self
                .load()?
                .ok_or_else(|| io::Error::other("the id file vanished while it was created")),
            // a file system without hard links: rename (the last writer wins)
            Err(_) => std::fs::rename(&temp, &self.path).map(|()| id),
        };
        let _ = std::fs::remove_file(&temp);
        result
    }

    /// Replaces the id with a new random one; returns the old one (`None` if
    /// there was none, or it was not a UUID) and the new one.
    pub fn reset(&self) -> io::Result<(Option<String>, String)> {
        let old = self.load_lenient()?;
        let id = new_id();
        write_atomic(&self.path, line(&id).as_bytes())?;
        Ok((old, id))
    }

    /// Deletes the id; returns the old one (`None` if there was none, or it was
    /// not a UUID).
    pub fn delete(&self) -> io::Result<Option<String>> {
        let old = self.load_lenient()?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(old),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`load`](Self::load), with a file that is not a UUID read as no id.
    fn load_lenient(&self) -> io::Result<Option<String>> {
        match self.load() {
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(None),
            other => other,
        }
    }
}

/// A new random id: a UUID v4 from the operating system's random source.
fn new_id() -> String {
    sentry::types::random_uuid().hyphenated().to_string()
}

fn line(id: &str) -> String {
    format!("{id}\n")
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

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != FILE_NAME)
            .collect()
    }

    #[test]
    fn created_once_random_v4_and_in_a_new_folder() {
        let dir = scratch("create");
        let id = AnonymousId::beside(&dir.join("nested").join("telemetry.json"));
        assert_eq!(id.load().unwrap(), None);
        let first = id.load_or_create().unwrap();
        let uuid = sentry::types::Uuid::parse_str(&first).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(id.load_or_create().unwrap(), first);
        assert_eq!(
            std::fs::read_to_string(id.path()).unwrap(),
            format!("{first}\n")
        );
        assert!(leftovers(&dir.join("nested")).is_empty());

        let other_dir = scratch("create-2");
        let other = AnonymousId::beside(&other_dir.join("telemetry.json"));
        assert_ne!(other.load_or_create().unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other_dir).unwrap();
    }

    #[test]
    fn concurrent_creation_agrees() {
        let dir = scratch("race");
        let id = AnonymousId::beside(&dir.join("telemetry.json"));
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| id.load_or_create())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        assert!(leftovers(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_is_replaced_reset_and_delete() {
        let dir = scratch("garbage");
        std::fs::create_dir_all(&dir).unwrap();
        let id = AnonymousId::beside(&dir.join("telemetry.json"));
        std::fs::write(id.path(), "alice's laptop").unwrap();
        assert_eq!(id.load().unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(id.delete().unwrap(), None);
        assert!(!id.path().exists());

        std::fs::write(id.path(), "not a uuid").unwrap();
        let made = id.load_or_create().unwrap();
        assert_eq!(id.load().unwrap(), Some(made.clone()));

        let (old, new) = id.reset().unwrap();
        assert_eq!(old, Some(made.clone()));
        assert_ne!(new, made);
        assert_eq!(id.delete().unwrap(), Some(new));
        assert_eq!(id.delete().unwrap(), None);
        let (old, _) = id.reset().unwrap();
        assert_eq!(old, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
