//! Output files appear whole or not at all: every writer in the crate goes through
//! [`write_atomically`], which writes a temporary file beside the target and renames it into
//! place, and which refuses to replace an input file.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

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

/// Writes `path` through a temporary file in the same directory and an atomic rename.
///
/// `protected` lists input files that must never be replaced: writing over one of them is an
/// error before anything is written. If `write` fails, the temporary file is removed and the
/// target is left as it was.
pub fn write_atomically<F>(path: &Path, protected: &[&Path], write: F) -> Result<()>
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
    let file_name =
        path.file_name().ok_or_else(|| Error::Invalid(format!("output path {} has no file name", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&temp)?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        write(&mut writer)?;
        // No fsync: the rename already makes the file appear whole or not at all when the
        // process dies; forcing every map to disk would cost more than computing it.
        writer.flush()?;
        Ok(())
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(path, source));
    }
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        Error::io(path, source)
    })
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
}
