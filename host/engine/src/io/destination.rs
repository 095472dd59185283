//! Where an output path leads (a regular file, through symlinks, or a device, FIFO or socket
//! written in place), and writing a whole file atomically: into a temporary file beside it,
//! synced and renamed into place.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::sink::OutputError;

/// Where an output path leads, as far as writing it is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or nothing yet: written to a temporary file beside it and renamed
    /// onto it when complete. A symlink is followed: this is the path it leads to.
    Regular(PathBuf),
    /// A character or block device, a FIFO or a socket (`/dev/stdout`, `/dev/null`, a named
    /// pipe): written to in place as a stream, never replaced.
    Special {
        /// The path.
        path: PathBuf,
        /// What it is, for messages.
        kind: &'static str,
    },
}

/// Opens a special file that [`destination`] found (a device, FIFO or socket) for writing in
/// place; it is never replaced by a file. Returns it with the name errors give it
/// (`/dev/full (character device)`).
pub fn open_in_place(path: &Path, kind: &str) -> Result<(std::fs::File, String), OutputError> {
    let name = format!("{} ({kind})", path.display());
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => Ok((file, name)),
        Err(source) => Err(OutputError::Create { path: name, source }),
    }
}

/// Where writing `path` leads: through a symlink to what it points at (existing or not), a
/// regular file or nothing yet, or a special file that must be written in place. A
/// directory is refused.
pub fn destination(path: &Path) -> Result<Destination, OutputError> {
    let create_error = |source| OutputError::Create {
        path: path.display().to_string(),
        source,
    };
    // The kernel follows the links (including /proc's, such as /dev/stdout, whose targets
    // are not paths).
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            Ok(Destination::Regular(real))
        }
        Ok(meta) if meta.is_dir() => Err(create_error(std::io::Error::other(
            "it is a directory (name a file in it)",
        ))),
        Ok(meta) => match special_kind(&meta.file_type()) {
            Some(kind) => Ok(Destination::Special {
                path: path.to_path_buf(),
                kind,
            }),
            None => Err(create_error(std::io::Error::other(
                "it is neither a regular file nor a device, FIFO or socket",
            ))),
        },
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            // Nothing there, or a symlink to nothing yet: the new file goes where the links
            // lead.
            let mut resolved = path.to_path_buf();
            for _ in 0..40 {
                match std::fs::read_link(&resolved) {
                    Ok(target) => resolved = parent_dir(&resolved).join(target),
                    Err(_) => return Ok(Destination::Regular(resolved)),
                }
            }
            Err(create_error(std::io::Error::other(
                "too many levels of symbolic links",
            )))
        }
        Err(e) => Err(create_error(e)),
    }
}

#[cfg(unix)]
fn special_kind(file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_char_device() {
        Some("character device")
    } else if file_type.is_block_device() {
        Some("block device")
    } else if file_type.is_fifo() {
        Some("FIFO")
    } else if file_type.is_socket() {
        Some("socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> Option<&'static str> {
    None
}

/// The refusal for a format that needs a regular file, written to a special one.
pub(super) fn needs_a_file(path: &Path, kind: &str, what: &str) -> OutputError {
    OutputError::Unsupported {
        path: path.display().to_string(),
        message: format!(
            "is a {kind}, but {what} needs a regular file; stream csv or jsonl to it instead"
        ),
    }
}

/// Makes a rename or a new file in `dir` durable.
///
/// On Unix by syncing the directory. Windows cannot open a directory as a file (it is
/// refused, "Access denied"), and NTFS journals a rename itself: there it is nothing to do.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Why `file` could not be created, said about its directory where that is the reason.
pub(super) fn cannot_create(file: &Path, error: std::io::Error) -> OutputError {
    let dir = parent_dir(file);
    let source = if !dir.exists() {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )
    } else if !dir.is_dir() {
        std::io::Error::other(format!("{} is not a directory", dir.display()))
    } else {
        // The OS's reason, without the temporary file's random name that tempfile appends.
        let text = error.to_string();
        match text.rsplit_once(" at path ") {
            Some((reason, _)) => std::io::Error::new(error.kind(), reason.to_string()),
            None => error,
        }
    };
    OutputError::Create {
        path: file.display().to_string(),
        source,
    }
}

pub(super) fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output")
}

/// Writes a whole file: `fill` writes through a buffer into a temporary file beside `path`,
/// which is flushed, synced and renamed into place, so that after an error nothing is left;
/// a device or FIFO (`/dev/stdout`, a named pipe) is written in place, never replaced.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    let name = path.display().to_string();
    let path = &match destination(path)? {
        Destination::Regular(path) => path,
        Destination::Special { path, kind } => {
            let (file, name) = open_in_place(&path, kind)?;
            let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, &file);
            return fill(&mut out)
                .and_then(|()| out.flush())
                .map_err(|source| OutputError::Write { path: name, source });
        }
    };
    let temp = output_temp(".gen.", ".partial", &parent_dir(path)).map_err(|source| {
        OutputError::Create {
            path: name.clone(),
            source,
        }
    })?;
    let write_error = |source: std::io::Error| OutputError::Write {
        path: name.clone(),
        source,
    };
    let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, temp.as_file());
    fill(&mut out)
        .and_then(|()| out.flush())
        .map_err(write_error)?;
    drop(out);
    temp.as_file().sync_all().map_err(write_error)?;
    super::persist_over(temp, path).map_err(write_error)?;
    Ok(())
}

/// The buffer [`write_atomically`] writes through.
const WRITE_BUFFER: usize = 1 << 16;

/// A temporary file in `dir` that will become an output: created with the permissions any new
/// file gets (0666 less the umask), not tempfile's private 0600, since it is renamed into place.
pub(crate) fn output_temp(
    prefix: &str,
    suffix: &str,
    dir: &Path,
) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// The directory a file will be created in ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
