//! Every file the crate reads or writes goes through here: reads that can
//! neither block nor exhaust memory, and writes that are private and never
//! redirected.
//!
//! Reading ([`read_text`]): only a regular file is read, a symbolic link to one
//! is followed. The path is checked before it is opened, so a device is never
//! opened, and the opened handle is checked again (`fstat`), so a file swapped
//! in between cannot slip through. On unix it is opened with `O_NONBLOCK` and
//! `O_NOCTTY`: a FIFO never blocks the open, a terminal never becomes the
//! controlling one. At most `limit` bytes are read.
//!
//! Writing: folders are created `0700` ([`create_dir_private`]); new files
//! `0600`, an existing file's mode is kept ([`write_atomic`], [`write_temp`],
//! [`create_new_private`]). The preview file ([`open_preview`]) is never
//! reached through a symbolic link and never one another user owns.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The size cap of a config file (and of a manifest read for the repository
/// opt-out): 1 MiB.
pub(crate) const CONFIG_LIMIT: u64 = 1 << 20;
/// The size cap of an id file: 128 bytes (a UUID is 36).
pub(crate) const ID_LIMIT: u64 = 128;

/// Why a file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A directory.
    Directory,
    /// Not a regular file: a FIFO, a device, a socket (the words say which).
    NotRegular(&'static str),
    /// Larger than the cap, in bytes.
    TooLarge(u64),
    /// Opening or reading failed (permissions, not UTF-8, …).
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory => f.write_str("it is a directory"),
            Self::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            Self::TooLarge(limit) => write!(f, "it is larger than {}", size(*limit)),
            Self::Io(e) => write!(f, "cannot read it: {e}"),
        }
    }
}

impl ReadError {
    /// The error as an [`io::Error`], for callers that return one: a file
    /// too large is [`io::ErrorKind::InvalidData`] (its contents are wrong), a
    /// directory [`io::ErrorKind::IsADirectory`], another kind of file
    /// [`io::ErrorKind::Other`].
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            Self::Directory => io::Error::new(io::ErrorKind::IsADirectory, self.to_string()),
            Self::NotRegular(_) => io::Error::other(self.to_string()),
            Self::TooLarge(_) => io::Error::new(io::ErrorKind::InvalidData, self.to_string()),
        }
    }
}

/// A size for a message: `1 MiB`, `128 bytes`.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// What a file that is not a regular file is, in words.
fn kind_of(file_type: std::fs::FileType) -> Option<ReadError> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some(ReadError::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return Some(ReadError::NotRegular("a FIFO (named pipe)"));
        }
        if file_type.is_char_device() {
            return Some(ReadError::NotRegular("a character device"));
        }
        if file_type.is_block_device() {
            return Some(ReadError::NotRegular("a block device"));
        }
        if file_type.is_socket() {
            return Some(ReadError::NotRegular("a socket"));
        }
    }
    Some(ReadError::NotRegular("not a file"))
}

/// Opens `path` for reading without blocking, and only if it is a regular file
/// (a link to one is followed); `Ok(None)` when nothing is there.
fn open_regular(path: &Path) -> Result<Option<File>, ReadError> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            if let Some(error) = kind_of(meta.file_type()) {
                return Err(error);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    };
    // The handle, not the path: what was opened is what is checked.
    let meta = file.metadata().map_err(ReadError::Io)?;
    match kind_of(meta.file_type()) {
        Some(error) => Err(error),
        None => Ok(Some(file)),
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them; `Ok(None)`
/// when there is no file.
pub(crate) fn read_bytes(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(Some(bytes))
}

/// The text of the regular file at `path`, at most `limit` bytes; `Ok(None)`
/// when there is no file. Text that is not UTF-8 is an [`ReadError::Io`] error.
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<Option<String>, ReadError> {
    match read_bytes(path, limit)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            ReadError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))
        }),
    }
}

/// Creates `dir` and its missing parents, each new one `0700` (only its owner
/// may enter it); folders that exist are left as they are.
pub(crate) fn create_dir_private(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The folder of `path` (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Options that create a new file, `0600`, failing if anything (a file, a
/// link, a dangling link) is already at the path.
fn create_new_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Creates the new file `path`, `0600`, in its folder (created `0700` if
/// needed); fails if anything is already there.
pub(crate) fn create_new_private(path: &Path) -> io::Result<File> {
    create_dir_private(folder(path))?;
    create_new_options().open(path)
}

/// Whether a write waits for the disk before it takes the file's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// `fsync` first: what must survive a crash, the user's consent (the
    /// config file). It can take a second on a disk busy with other writes
    /// (ext4 commits them all), so never on a caller's `init` but once per
    /// install (an id moved from the former file, which is then deleted).
    Synced,
    /// Left to the kernel: what a crash may take and the next run makes again
    /// (the anonymous id: an empty file is replaced by a new id). Still atomic.
    Lazy,
}

/// Writes `contents` to a new temporary file beside `path` (creating the
/// folder `0700`), synced to disk as `flush` says; the file is `0600`, or has
/// `path`'s mode if `path` exists. Returns the temporary file's path.
pub(crate) fn write_temp(path: &Path, contents: &[u8], flush: Flush) -> io::Result<PathBuf> {
    let dir = folder(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    create_dir_private(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        sentry::types::random_uuid().simple()
    ));
    // create_new: never follows a planted link, never reuses someone else's file
    let mut file = create_new_options().open(&temp)?;
    let written = (|| {
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(contents)?;
        match flush {
            Flush::Synced => file.sync_all(),
            Flush::Lazy => Ok(()),
        }
    })();
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Replaces `path` with `contents` atomically: a temporary file in the same
/// folder (see [`write_temp`]), then renamed over `path`. A reader sees the
/// old file or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], flush: Flush) -> io::Result<()> {
    let temp = write_temp(path, contents, flush)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Whether a refusal to write the preview file was already reported (once
/// per process).
static PREVIEW_REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Opens the preview file `path` for appending, creating it `0600`.
///
/// Refused, with one line on stderr (once per process) and nothing written,
/// when `path` is a symbolic link (it is opened with `O_NOFOLLOW`, so even a
/// link planted after a check is never followed), is not a regular file, or
/// belongs to another user.
pub(crate) fn open_preview(path: &Path) -> io::Result<File> {
    let opened = open_append_own(path);
    if let Err(e) = &opened
        && e.kind() == io::ErrorKind::PermissionDenied
        && !PREVIEW_REFUSED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        eprintln!("openadapt-telemetry: {e}; nothing is written there");
    }
    opened
}

/// [`open_preview`] without the report; a refusal is a
/// [`io::ErrorKind::PermissionDenied`] error whose text names the file.
fn open_append_own(path: &Path) -> io::Result<File> {
    let refuse = |why: &str| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to write the preview file {}: {why}",
                path.display()
            ),
        )
    };
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse("it is a symbolic link"));
    }
    let file = match options.open(path) {
        Ok(file) => file,
        // O_NOFOLLOW on a link: ELOOP (Linux, macOS), EMLINK (FreeBSD)
        #[cfg(unix)]
        Err(e)
            if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK))
                && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            return Err(refuse("it is a symbolic link"));
        }
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(refuse("it is a directory"));
        }
        // a FIFO nobody reads
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(refuse("it is a FIFO (named pipe), not a regular file"));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if let Some(error) = kind_of(meta.file_type()) {
        return Err(refuse(&error.to_string()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if meta.uid() != effective_uid() {
            return Err(refuse(&format!(
                "it belongs to another user (uid {})",
                meta.uid()
            )));
        }
    }
    Ok(file)
}

/// The user id the process runs as.
#[cfg(unix)]
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "openadapt-telemetry-fs-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_regular_files_and_links_to_them_within_the_cap() {
        let dir = scratch("read");
        let file = dir.join("a.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read_text(&file, 10).unwrap().as_deref(), Some("{}"));
        assert_eq!(read_text(&dir.join("missing"), 10).unwrap(), None);
        std::fs::write(&file, "x".repeat(11)).unwrap();
        assert_eq!(
            read_text(&file, 10).unwrap_err().to_string(),
            "it is larger than 10 bytes"
        );
        std::fs::write(&file, "x".repeat(10)).unwrap();
        assert_eq!(read_text(&file, 10).unwrap().map(|t| t.len()), Some(10));
        assert_eq!(
            read_text(&dir, 10).unwrap_err().to_string(),
            "it is a directory"
        );
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text(&file, 10).unwrap_err().to_string(),
            "cannot read it: stream did not contain valid UTF-8"
        );
        #[cfg(unix)]
        {
            let link = dir.join("link.json");
            std::fs::write(&file, "{}").unwrap();
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(read_text(&link, 10).unwrap().as_deref(), Some("{}"));
            let dangling = dir.join("dangling.json");
            std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
            assert_eq!(read_text(&dangling, 10).unwrap(), None);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = scratch("special");
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let link = dir.join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let cases: [(&Path, &str); 4] = [
            (&fifo, "it is a FIFO (named pipe), not a regular file"),
            (&link, "it is a FIFO (named pipe), not a regular file"),
            (
                Path::new("/dev/zero"),
                "it is a character device, not a regular file",
            ),
            (
                Path::new("/dev/null"),
                "it is a character device, not a regular file",
            ),
        ];
        for (path, reason) in cases {
            let started = std::time::Instant::now();
            let error = read_text(path, CONFIG_LIMIT).unwrap_err();
            assert_eq!(error.to_string(), reason, "{}", path.display());
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn writes_are_private() {
        use std::os::unix::fs::PermissionsExt as _;

        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = scratch("private");
        let file = dir.join("a").join("b").join("telemetry.json");
        write_atomic(&file, b"{}", Flush::Synced).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.join("a")), 0o700);
        assert_eq!(mode(&dir.join("a").join("b")), 0o700);
        // an existing file's mode is kept
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&file, b"{ }", Flush::Lazy).unwrap();
        assert_eq!(mode(&file), 0o640);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ }");
        let marker = dir.join("c").join("marker");
        drop(create_new_private(&marker).unwrap());
        assert_eq!(mode(&marker), 0o600);
        assert_eq!(mode(&dir.join("c")), 0o700);
        assert_eq!(
            create_new_private(&marker).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_preview_file_is_never_a_link() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = scratch("preview");
        let path = dir.join("preview.jsonl");
        let mut file = open_append_own(&path).unwrap();
        file.write_all(b"1\n").unwrap();
        drop(file);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        open_append_own(&path).unwrap().write_all(b"2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n");

        let target = dir.join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.join("dangling.jsonl");
        std::os::unix::fs::symlink(dir.join("created-through-link"), &dangling).unwrap();
        for path in [&link, &dangling] {
            let error = open_append_own(path).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
            assert_eq!(
                error.to_string(),
                format!(
                    "refusing to write the preview file {}: it is a symbolic link",
                    path.display()
                )
            );
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(!dir.join("created-through-link").exists());
        let error = open_append_own(&dir).unwrap_err();
        assert!(error.to_string().contains("is a directory"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
