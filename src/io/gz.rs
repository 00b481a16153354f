//! Gzip, recognised by its magic bytes rather than the file name (EMDB serves `.map.gz`, and
//! renamed files are common): every reader in the crate opens its input through here.

use std::io::{BufReader, Read};
use std::path::Path;

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
    let file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut reader, &mut magic)?;
    let stream = std::io::Cursor::new(magic[..got].to_vec()).chain(reader);
    if is_gzip(&magic[..got]) {
        let decoder = flate2::read::MultiGzDecoder::new(stream);
        Ok((Box::new(BufReader::with_capacity(1 << 20, decoder)), None))
    } else {
        Ok((Box::new(stream), Some(length)))
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
    let (mut reader, length) = open(path)?;
    let mut out = Vec::with_capacity(length.unwrap_or(0) as usize);
    reader.read_to_end(&mut out)?;
    Ok(out)
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
