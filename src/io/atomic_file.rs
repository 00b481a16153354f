//! Output files appear whole or not at all, and a run's outputs appear together or not at all:
//! every writer in the crate writes through a [`Transaction`], which stages each file as a
//! temporary file beside its target and renames them all into place at [`Transaction::commit`].
//! A run that fails (or is dropped, or killed by SIGINT/SIGTERM: see [`remove_in_flight`])
//! leaves no new file and no temporary behind.
//!
//! Temporary files are created by the `tempfile` crate (`O_CREAT | O_EXCL`, random names with
//! the prefix [`TEMP_PREFIX`]), so a link planted where a temporary will be is never followed.
//! A replaced file keeps its permissions; a new one gets the usual `0666 & !umask`. No output
//! ever replaces an input file (checked through links and `..`).

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs::{File, Permissions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Prefix of every temporary file the crate creates: a batch removes stale ones by it, and
/// only regular files (never links) that carry it.
pub const TEMP_PREFIX: &str = ".rsdm-tmp-";

/// Temporary files of every transaction not yet committed, for [`remove_in_flight`].
static IN_FLIGHT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn track(path: &Path, add: bool) {
    let mut set = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    let set = set.get_or_insert_with(HashSet::new);
    if add {
        set.insert(path.to_path_buf());
    } else {
        set.remove(path);
    }
}

/// Removes the temporary files of every transaction in flight: for a signal handler, before
/// the process exits without unwinding.
pub fn remove_in_flight() {
    let set = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
    for path in set {
        let _ = std::fs::remove_file(&path);
    }
}

/// True when `a` and `b` name the same existing file (through links, `..`, or hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                ma.dev() == mb.dev() && ma.ino() == mb.ino()
            }
            #[cfg(not(unix))]
            {
                let _ = (ma, mb);
                match (a.canonicalize(), b.canonicalize()) {
                    (Ok(ca), Ok(cb)) => ca == cb,
                    _ => false,
                }
            }
        }
        _ => false,
    }
}

/// The folder `path` is in ("." for a bare name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` made absolute against the current folder (without resolving links), to compare
/// targets.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// One staged file: its temporary, where it goes, the permissions it takes.
struct Staged {
    temp: PathBuf,
    target: PathBuf,
    permissions: Option<Permissions>,
}

/// Files written together: staged beside their targets, renamed into place at
/// [`Transaction::commit`], removed if it is never reached. Shared by threads (pictures are
/// written side by side).
#[derive(Default)]
pub struct Transaction {
    staged: Mutex<Vec<Staged>>,
    /// Folders this transaction created, removed again (when empty) if it is not committed.
    created: Mutex<Vec<PathBuf>>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `path`: `write` fills a temporary file beside it. Refuses an input (`protected`)
    /// and a target that this transaction already writes, before writing anything.
    pub fn write<F>(&self, path: &Path, protected: &[&Path], write: F) -> Result<()>
    where
        F: FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    {
        if let Some(input) = protected.iter().find(|p| same_file(path, p)) {
            return Err(Error::Invalid(format!(
                "refusing to write {}: it is the input file {}",
                path.display(),
                input.display()
            )));
        }
        let target = absolute(path);
        if self.staged.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|s| s.target == target) {
            return Err(Error::Invalid(format!("two outputs of this run would both be written to {}", path.display())));
        }
        if path.file_name().is_none() {
            return Err(Error::Invalid(format!("output path {} has no file name", path.display())));
        }
        // A device, a FIFO or a folder at the target is not replaced (renaming over /dev/null as
        // root would turn the device into a file): outputs are files.
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && !meta.is_file()
            && !meta.file_type().is_symlink()
        {
            return Err(Error::Invalid(format!(
                "cannot write {}: it exists and is not a regular file (outputs are files)",
                path.display()
            )));
        }
        // A replaced file keeps its permissions (not those of a fresh file); a link at the
        // target is replaced, not followed.
        let permissions = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file()).map(|m| m.permissions());
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(Permissions::from_mode(0o666));
        }
        // The folder first: a missing one is created (and removed again if the run fails), and
        // an error names the folder, which tempfile's own error, wrapped with the temporary's
        // name, would not.
        let folder = folder_of(path);
        self.create_dir(&folder)?;
        let file = builder.tempfile_in(&folder).map_err(|e| Error::io(path, e))?;
        // Kept past the NamedTempFile: this transaction owns the path from here on.
        let (file, temp) = file.keep().map_err(|e| Error::io(path, e.error))?;
        track(&temp, true);
        let result = (|| -> std::io::Result<()> {
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            write(&mut writer)?;
            // No fsync: the rename already makes the file appear whole or not at all when the
            // process dies; forcing every map to disk would cost more than computing it.
            writer.flush()
        })();
        if let Err(source) = result {
            let _ = std::fs::remove_file(&temp);
            track(&temp, false);
            return Err(Error::io(path, source));
        }
        self.staged.lock().unwrap_or_else(|e| e.into_inner()).push(Staged { temp, target, permissions });
        Ok(())
    }

    /// Creates `folder` (and its parents) if it does not exist; a folder this created is
    /// removed again, if empty, when the transaction is not committed.
    pub fn create_dir(&self, folder: &Path) -> Result<()> {
        if folder.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut current = Some(folder);
        while let Some(dir) = current.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(dir.to_path_buf());
            current = dir.parent();
        }
        std::fs::create_dir_all(folder).map_err(|e| {
            Error::io(folder, std::io::Error::new(e.kind(), format!("cannot create this folder for the outputs: {e}")))
        })?;
        self.created.lock().unwrap_or_else(|e| e.into_inner()).extend(missing);
        Ok(())
    }

    /// Renames every staged file into place; returns the targets, in the order staged.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let staged = std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner()));
        let mut done = Vec::with_capacity(staged.len());
        let mut failure = None;
        for s in &staged {
            if failure.is_some() {
                let _ = std::fs::remove_file(&s.temp);
                track(&s.temp, false);
                continue;
            }
            if let Some(permissions) = &s.permissions {
                let _ = std::fs::set_permissions(&s.temp, permissions.clone());
            }
            match std::fs::rename(&s.temp, &s.target) {
                Ok(()) => done.push(s.target.clone()),
                Err(e) => {
                    let _ = std::fs::remove_file(&s.temp);
                    failure = Some(Error::io(&s.target, e));
                }
            }
            track(&s.temp, false);
        }
        self.created.lock().unwrap_or_else(|e| e.into_inner()).clear();
        match failure {
            Some(error) => Err(error),
            None => Ok(done),
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        for s in std::mem::take(&mut *self.staged.lock().unwrap_or_else(|e| e.into_inner())) {
            let _ = std::fs::remove_file(&s.temp);
            track(&s.temp, false);
        }
        // Innermost first; only empty folders go.
        for dir in std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner())) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Writes `path` alone, through a temporary file in the same folder and an atomic rename.
///
/// `protected` lists input files that must never be replaced: writing over one of them is an
/// error before anything is written. If `write` fails, the target is left as it was.
pub fn write_atomically<F>(path: &Path, protected: &[&Path], write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
{
    let transaction = Transaction::new();
    transaction.write(path, protected, write)?;
    transaction.commit().map(|_| ())
}

/// Removes the temporary files a killed run left in `folder`: regular files named with
/// [`TEMP_PREFIX`] only, never a link or a folder.
pub fn remove_stale_temporaries(folder: &Path) {
    let Ok(listing) = std::fs::read_dir(folder) else { return };
    for entry in listing.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
        if is_ours && std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let err = write_atomically(&target, &[], |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk on fire"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_to_overwrite_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.map");
        std::fs::write(&input, b"precious").unwrap();
        let alias = dir.path().join(".").join("in.map");
        let err = write_atomically(&alias, &[&input], |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("refusing"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), b"precious");
    }

    #[test]
    fn a_transaction_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.txt"), dir.path().join("sub/b.txt"));
        {
            let transaction = Transaction::new();
            transaction.write(&a, &[], |w| w.write_all(b"a")).unwrap();
            transaction.create_dir(&dir.path().join("sub")).unwrap();
            transaction.write(&b, &[], |w| w.write_all(b"b")).unwrap();
            // The same target twice is refused.
            assert!(transaction.write(&dir.path().join("./a.txt"), &[], |w| w.write_all(b"x")).is_err());
            assert!(!a.exists() && !b.exists());
            // Dropped without a commit: nothing is left, not even the folder it made.
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let transaction = Transaction::new();
        transaction.write(&a, &[], |w| w.write_all(b"a")).unwrap();
        assert_eq!(transaction.commit().unwrap(), vec![absolute(&a)]);
        assert_eq!(std::fs::read(&a).unwrap(), b"a");
    }

    #[cfg(unix)]
    #[test]
    fn replaced_files_keep_their_mode_and_links_are_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.txt");
        std::fs::write(&private, b"old").unwrap();
        std::fs::set_permissions(&private, Permissions::from_mode(0o600)).unwrap();
        write_atomically(&private, &[], |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        // A link where the output goes: the link is replaced, its target untouched.
        let elsewhere = dir.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, b"keep").unwrap();
        let link = dir.path().join("out.txt");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        write_atomically(&link, &[], |w| w.write_all(b"out")).unwrap();
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        // Stale temporaries go, links with the prefix stay.
        std::fs::write(dir.path().join(format!("{TEMP_PREFIX}old")), b"x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join(format!("{TEMP_PREFIX}link"))).unwrap();
        remove_stale_temporaries(dir.path());
        assert!(!dir.path().join(format!("{TEMP_PREFIX}old")).exists());
        assert!(std::fs::symlink_metadata(dir.path().join(format!("{TEMP_PREFIX}link"))).is_ok());
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"keep");
    }
}
