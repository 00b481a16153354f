//! Gzip, recognised by its magic bytes rather than the file name (EMDB serves `.map.gz`, and
//! renamed files are common): every reader in the crate opens its input through here.

use sha2::{Digest as _, Sha256};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What was read of a file: its size and the SHA-256 of its bytes (as stored, compressed or
/// not), taken while reading, so that a report records the file its numbers came from even if
/// the file is replaced while the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Bytes read.
    pub bytes: u64,
    /// SHA-256 of them, hex.
    pub sha256: String,
}

/// The digest of what a [`HashingReader`] has read so far.
#[derive(Debug, Clone, Default)]
pub struct DigestHandle(Arc<Mutex<(Sha256, u64)>>);

impl DigestHandle {
    /// The digest of the bytes read until now.
    pub fn digest(&self) -> Digest {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let sha256 = state.0.clone().finalize().iter().map(|b| format!("{b:02x}")).collect();
        Digest { bytes: state.1, sha256 }
    }
}

/// A reader that hashes every byte it passes on.
struct HashingReader<R> {
    inner: R,
    state: DigestHandle,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        state.0.update(&buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

/// The first two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Opens `path` for reading, decompressing on the fly when it is gzip. Also returns the size of
/// the content when it is known without reading it (plain files), so readers can check a
/// header's claims against it up front.
pub fn open(path: &Path) -> std::io::Result<(Box<dyn Read + Send>, Option<u64>)> {
    open_hashed(path).map(|(reader, length, _)| (reader, length))
}

/// As [`open`], hashing the file's bytes as they are read: the handle gives their digest.
pub fn open_hashed(path: &Path) -> std::io::Result<(Box<dyn Read + Send>, Option<u64>, DigestHandle)> {
    // Opening a FIFO blocks until someone writes to it, and a device never ends: refuse both
    // before opening (the callers say so with more words, see crate::limits).
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let state = DigestHandle::default();
    let hashing = HashingReader { inner: file, state: state.clone() };
    let mut reader = BufReader::with_capacity(1 << 20, hashing);
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut reader, &mut magic)?;
    let stream = std::io::Cursor::new(magic[..got].to_vec()).chain(reader);
    if is_gzip(&magic[..got]) {
        let decoder = flate2::read::MultiGzDecoder::new(stream);
        Ok((Box::new(BufReader::with_capacity(1 << 20, decoder)), None, state))
    } else {
        Ok((Box::new(stream), Some(length), state))
    }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
pub fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A reader over bytes in memory, decompressing when they are gzip, with the content size when
/// it is known.
pub fn reader(bytes: &[u8]) -> (Box<dyn Read + '_>, Option<u64>) {
    if is_gzip(bytes) {
        (Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(bytes))), None)
    } else {
        (Box::new(bytes), Some(bytes.len() as u64))
    }
}

/// The whole (decompressed) content of `path`.
pub fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    read_at_most(path, u64::MAX)?.ok_or_else(|| std::io::Error::other("too large"))
}

/// The whole (decompressed) content of `path` if it is at most `limit` bytes, else `None`
/// (having read no more than `limit + 1` bytes: a gzip bomb stops there).
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    Ok(read_at_most_hashed(path, limit)?.map(|(bytes, _)| bytes))
}

/// As [`read_at_most`], with the digest of the file's bytes.
pub fn read_at_most_hashed(path: &Path, limit: u64) -> std::io::Result<Option<(Vec<u8>, Digest)>> {
    let (reader, length, digest) = open_hashed(path)?;
    if length.is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(length.unwrap_or(0) as usize);
    reader.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then(|| (out, digest.digest())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_and_gzip_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"ATOM      1  N   ALA A   1\n".repeat(100);
        let plain = dir.path().join("model.pdb");
        std::fs::write(&plain, &content).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(&content).unwrap();
        let compressed = encoder.finish().unwrap();
        // A misleading name: the magic bytes decide.
        let gz = dir.path().join("model_really_gz.pdb");
        std::fs::write(&gz, &compressed).unwrap();
        assert_eq!(read_all(&plain).unwrap(), content);
        assert_eq!(read_all(&gz).unwrap(), content);
        assert_eq!(open(&plain).unwrap().1, Some(content.len() as u64));
        assert_eq!(open(&gz).unwrap().1, None);
        let (mut r, size) = reader(&compressed);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!((out, size), (content.clone(), None));
        assert!(read_all(&dir.path().join("missing")).is_err());
        // One byte: not gzip, read as it is.
        std::fs::write(&plain, [0x1f]).unwrap();
        assert_eq!(read_all(&plain).unwrap(), vec![0x1f]);
    }
}
