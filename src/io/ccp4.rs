//! CCP4/MRC map files (MRC2014): reading every layout EMDB ships, writing mode-2 maps that keep
//! the input's frame.
//!
//! What the reader accepts, and why:
//! - modes 0 (int8), 1 (int16), 2 (float32), 6 (uint16) and 12 (float16); other modes are named
//!   in the error, because silently misreading complex or packed data would be worse;
//! - either byte order, from the machine stamp (`DA`, the older `DD`, or `11`); when the stamp is
//!   missing or contradicts the header, the byte order under which the header is sane wins, with a
//!   warning;
//! - any MAPC/MAPR/MAPS permutation; the in-memory map is always X fastest (see [`crate::grid`]
//!   for the placement rule);
//! - an extended header (NSYMBT bytes), skipped;
//! - gzip-compressed files (detected from the magic bytes, not the name).
//!
//! Sizes are checked before anything large is allocated: a header that claims more voxels than
//! the file holds is an error, not an allocation.

use crate::error::{Error, Result};
use crate::grid::{GridGeometry, Map, MapHeader, MapStatistics};
use crate::io::atomic_file::write_atomically;
use crate::io::gz::{self, read_up_to};
pub use crate::io::map_source::{DataMode, Endianness};
pub use crate::io::map_source::{MapFileHeader, MapSource, SourceIdentity};
use byteorder::{BigEndian, ByteOrder, LittleEndian};
use std::io::{Read, Write};
use std::path::Path;

/// Size of the fixed CCP4/MRC header in bytes.
pub const HEADER_BYTES: usize = 1024;

/// The largest map the reader accepts, in voxels (32 GiB of float32): protects against headers
/// that would make us allocate without bound when the data size cannot be checked up front
/// (compressed input).
pub const MAX_VOXELS: u64 = 1 << 33;

/// Byte offset of the "MAP " tag (header word 53).
pub const MAP_TAG_OFFSET: usize = 208;
/// Byte offset of the machine stamp (header word 54).
pub const MACHINE_STAMP_OFFSET: usize = 212;
/// Byte offset of the first of the ten 80-character labels (header word 57).
pub const LABELS_OFFSET: usize = 224;
/// Length of one header label.
pub const LABEL_BYTES: usize = 80;

/// How far from 90° a cell angle may be and still count as orthogonal (header floats written by
/// other programs carry rounding).
pub const CELL_ANGLE_TOLERANCE_DEGREES: f64 = 0.01;

/// A map as read from a file, with what the reader noticed on the way.
#[derive(Debug, Clone)]
pub struct MapRead {
    /// The map, X fastest, placed by the rule in [`crate::grid`].
    pub map: Map,
    /// Data mode of the file.
    pub mode: DataMode,
    /// Byte order of the file.
    pub endianness: Endianness,
    /// Things that were odd but not fatal (missing machine stamp, both ORIGIN and NSTART set...).
    pub warnings: Vec<String>,
    /// Size and SHA-256 of the file's bytes as they were read (none for bytes in memory).
    pub digest: Option<gz::Digest>,
}

/// Reads a CCP4/MRC map (plain or gzip-compressed): the whole box as one slab of a
/// [`Ccp4Source`].
pub fn read_map(path: impl AsRef<Path>) -> Result<MapRead> {
    read_whole(Ccp4Source::open(path.as_ref())?)
}

/// Grid size (X, Y, Z) from a map's header alone (plain or gzip), without reading the data:
/// `None` when the header cannot be read.
pub fn read_map_header_dims(path: &Path) -> Option<[usize; 3]> {
    read_map_header(path).ok().map(|g| g.dims)
}

/// The grid (X, Y, Z dims, voxel size, placement) from a map's header alone (plain or gzip),
/// without reading the data; the header's sizes checked as [`read_map`] checks them (except
/// against the file length of a compressed file, unknown before reading it). Refuses anything
/// but a regular file before opening it.
pub fn read_map_header(path: &Path) -> Result<GridGeometry> {
    Ok(Ccp4Source::open(path)?.header().geometry)
}

/// Parses a map from bytes in memory; `name` is used in error messages.
pub fn read_map_bytes(bytes: &[u8], name: impl AsRef<Path>) -> Result<MapRead> {
    let (reader, length) = gz::reader(bytes);
    read_whole(Ccp4Source::from_reader(reader, name.as_ref(), length)?)
}

/// Reads every slab of `source` at once, as one map.
fn read_whole<R: Read>(mut source: Ccp4Source<R>) -> Result<MapRead> {
    let data = source.read_slab(0..source.header().geometry.dims[2])?;
    let digest = source.identity().digest;
    let MapFileHeader { geometry, header, mode, endianness, warnings } = source.header;
    Ok(MapRead { map: Map { geometry, data, header }, mode, endianness, warnings, digest })
}

/// A CCP4/MRC file opened as a [`MapSource`]: the header read and checked when it opens (every
/// size limited before anything is allocated), the values read slab by slab after it.
///
/// Slabs come in order, Z sections from the first: a map stored with Z as its slowest axis
/// (MAPS = 3, as EMDB's are) reads any slabs; a map stored in another axis order needs every
/// value to place one section, and is read as one slab, the whole box.
pub struct Ccp4Source<R: Read> {
    reader: R,
    name: std::path::PathBuf,
    header: MapFileHeader,
    layout: Layout,
    size_verified: bool,
    next_section: usize,
    voxels_read: usize,
    digest: Option<gz::DigestHandle>,
}

impl Ccp4Source<Box<dyn Read + Send>> {
    /// Opens a map file (plain or gzip) and reads its header; refuses anything but a regular
    /// file before opening it.
    pub fn open(path: &Path) -> Result<Self> {
        crate::limits::ensure_regular_file(path)?;
        let (reader, length, digest) = gz::open_hashed(path).map_err(|e| Error::io(path, e))?;
        let mut source = Ccp4Source::from_reader(reader, path, length)?;
        source.digest = Some(digest);
        Ok(source)
    }
}

impl<R: Read> Ccp4Source<R> {
    /// Reads the header from `reader` (`name` in messages, `file_len` checked against the
    /// header's sizes when known) and skips the extended header.
    pub fn from_reader(mut reader: R, name: &Path, file_len: Option<u64>) -> Result<Self> {
        let bad = |message: String| Error::map(name, message);
        let mut bytes = [0u8; HEADER_BYTES];
        let got = read_up_to(&mut reader, &mut bytes).map_err(|e| Error::io(name, e))?;
        if crate::io::sniff::looks_like_model(&bytes[..got]) {
            return Err(bad(format!(
                "this is a model file (PDB or mmCIF text), not a CCP4/MRC map: {}",
                crate::io::sniff::ORDER
            )));
        }
        if got < HEADER_BYTES {
            return Err(bad(format!("file is {got} bytes, shorter than the {HEADER_BYTES}-byte CCP4/MRC header")));
        }
        let mut warnings = Vec::new();
        let endianness = choose_endianness(&bytes, &mut warnings);
        let words = Words { bytes, endianness };
        let layout = read_layout(&words, file_len, &mut warnings).map_err(|e| match e {
            LayoutError::Format(message) => bad(message),
            LayoutError::Limit(message) => Error::limit(Some(name), message),
        })?;
        let (geometry, header) = read_placement(&words, &layout, &mut warnings).map_err(bad)?;
        if &bytes[MAP_TAG_OFFSET..MAP_TAG_OFFSET + 4] != b"MAP " {
            warnings.push("header word 53 is not 'MAP ' (pre-2000 CCP4 file?)".into());
        }
        // Skip the extended header without trusting its size for an allocation.
        let extended = layout.extended as u64;
        let skipped =
            std::io::copy(&mut (&mut reader).take(extended), &mut std::io::sink()).map_err(|e| Error::io(name, e))?;
        if skipped < extended {
            return Err(bad(format!("file ends inside its {extended}-byte extended header")));
        }
        let header = MapFileHeader { geometry, header, mode: layout.mode, endianness, warnings };
        Ok(Ccp4Source {
            reader,
            name: name.to_path_buf(),
            header,
            layout,
            size_verified: file_len.is_some(),
            next_section: 0,
            voxels_read: 0,
            digest: None,
        })
    }
}

impl<R: Read> MapSource for Ccp4Source<R> {
    fn header(&self) -> &MapFileHeader {
        &self.header
    }

    fn read_slab(&mut self, z: std::ops::Range<usize>) -> Result<Vec<f32>> {
        let bad = |message: String| Error::map(&self.name, message);
        let dims = self.header.geometry.dims;
        let in_order = self.layout.axis_order == [1, 2, 3];
        if z.start != self.next_section || z.end > dims[2] || z.start >= z.end {
            return Err(Error::Invalid(format!(
                "{}: Z sections {}..{} asked for, but slabs are read in order and {}..{} comes next",
                self.name.display(),
                z.start,
                z.end,
                self.next_section,
                dims[2]
            )));
        }
        if !in_order && z != (0..dims[2]) {
            return Err(Error::Invalid(format!(
                "{}: stored with axes MAPC/MAPR/MAPS = {:?}, it is read as one slab (Z 0..{})",
                self.name.display(),
                self.layout.axis_order,
                dims[2]
            )));
        }
        let count = (z.end - z.start) * dims[0] * dims[1];
        let last = z.end == dims[2];
        let (mode, endianness, voxels) = (self.layout.mode, self.header.endianness, self.layout.voxels);
        let before = self.voxels_read;
        let values =
            read_values(&mut self.reader, mode, endianness, count, self.size_verified, last).map_err(|e| match e {
                ValuesError::Io(e) => Error::io(&self.name, e),
                ValuesError::Short(n) => {
                    bad(format!("file ends after {} of the {voxels} voxels its header promises", before + n))
                }
                ValuesError::Long => bad("file is longer than its header promises".into()),
            })?;
        if let Some(bad_index) = values.iter().position(|v| !v.is_finite()) {
            let count = values.iter().filter(|v| !v.is_finite()).count();
            return Err(bad(format!(
                "{count} voxel values are NaN or infinite (the first at file position {})",
                before + bad_index
            )));
        }
        self.voxels_read += count;
        self.next_section = z.end;
        if in_order {
            return Ok(values);
        }
        let file_dims = self.layout.file_dims.map(|n| n as usize);
        Ok(permute_to_xyz(values, file_dims, self.layout.axis_order, dims))
    }

    fn identity(&self) -> SourceIdentity {
        SourceIdentity { name: self.name.clone(), digest: self.digest.as_ref().map(|d| d.digest()) }
    }
}

/// Header words decoded with one byte order.
struct Words {
    bytes: [u8; HEADER_BYTES],
    endianness: Endianness,
}

impl Words {
    fn int(&self, word: usize) -> i32 {
        let b = &self.bytes[(word - 1) * 4..word * 4];
        match self.endianness {
            Endianness::Little => LittleEndian::read_i32(b),
            Endianness::Big => BigEndian::read_i32(b),
        }
    }
    fn float(&self, word: usize) -> f32 {
        f32::from_bits(self.int(word) as u32)
    }
    /// Dimensions, mode and axis order look like a real header.
    fn is_sane(&self) -> bool {
        let dims_ok = (1..=3).all(|w| (1..=1_000_000).contains(&self.int(w)));
        let mode_ok = (0..=12).contains(&self.int(4)) || self.int(4) == 101;
        let mut axes = [self.int(17), self.int(18), self.int(19)];
        axes.sort_unstable();
        let axes_ok = axes == [1, 2, 3] || axes == [0, 0, 0];
        dims_ok && mode_ok && axes_ok
    }
}

fn stamp_endianness(bytes: &[u8; HEADER_BYTES]) -> Option<Endianness> {
    match bytes[MACHINE_STAMP_OFFSET] {
        0x44 => Some(Endianness::Little),
        0x11 => Some(Endianness::Big),
        _ => None,
    }
}

fn other(e: Endianness) -> Endianness {
    match e {
        Endianness::Little => Endianness::Big,
        Endianness::Big => Endianness::Little,
    }
}

fn choose_endianness(bytes: &[u8; HEADER_BYTES], warnings: &mut Vec<String>) -> Endianness {
    let stamp = stamp_endianness(bytes);
    let guess = stamp.unwrap_or(Endianness::Little);
    let sane = |e| Words { bytes: *bytes, endianness: e }.is_sane();
    match (stamp, sane(guess), sane(other(guess))) {
        (Some(_), true, _) => guess,
        (None, true, _) => {
            warnings.push(format!(
                "machine stamp {:02x} {:02x} is not a known stamp; the header reads sanely as {:?}-endian",
                bytes[MACHINE_STAMP_OFFSET],
                bytes[MACHINE_STAMP_OFFSET + 1],
                guess
            ));
            guess
        }
        (_, false, true) => {
            warnings.push(format!(
                "machine stamp {:02x} {:02x} contradicts the header, which reads sanely only as {:?}-endian",
                bytes[MACHINE_STAMP_OFFSET],
                bytes[213],
                other(guess)
            ));
            other(guess)
        }
        // Neither order is sane: keep the stamp's and let the detailed checks name the problem.
        (_, false, false) => guess,
    }
}

/// What the header says about the data block: its size in file order, mode and axis order.
struct Layout {
    file_dims: [i32; 3],
    mode: DataMode,
    axis_order: [u8; 3],
    voxels: u64,
    extended: i32,
}

/// Checks the header's dimensions, mode, axis order and sizes (against the file's length when
/// it is known).
/// Why a header's layout cannot be used: a malformed header, or one whose sizes exceed the
/// limits ([`crate::limits`]).
enum LayoutError {
    Format(String),
    Limit(String),
}

impl From<String> for LayoutError {
    fn from(message: String) -> Self {
        LayoutError::Format(message)
    }
}

fn read_layout(
    words: &Words,
    file_len: Option<u64>,
    warnings: &mut Vec<String>,
) -> std::result::Result<Layout, LayoutError> {
    let file_dims = [words.int(1), words.int(2), words.int(3)];
    if file_dims.iter().any(|&n| n <= 0) {
        return Err(LayoutError::Format(format!(
            "dimensions NC, NR, NS = {}, {}, {} must all be positive",
            file_dims[0], file_dims[1], file_dims[2]
        )));
    }
    let mode = DataMode::from_number(words.int(4))?;
    let mut axis_order = [words.int(17), words.int(18), words.int(19)];
    if axis_order == [0, 0, 0] {
        warnings.push("MAPC/MAPR/MAPS are 0, 0, 0; assuming 1, 2, 3".into());
        axis_order = [1, 2, 3];
    }
    let mut sorted = axis_order;
    sorted.sort_unstable();
    if sorted != [1, 2, 3] {
        return Err(LayoutError::Format(format!(
            "MAPC/MAPR/MAPS = {}, {}, {} is not a permutation of 1, 2, 3",
            axis_order[0], axis_order[1], axis_order[2]
        )));
    }
    // Each dimension fits an i32, their product need not fit a u64.
    let voxels = crate::limits::voxels(file_dims.map(|n| n as u64)).unwrap_or(u64::MAX);
    if voxels > MAX_VOXELS {
        let count = if voxels == u64::MAX { "more than 2^64".to_string() } else { voxels.to_string() };
        return Err(LayoutError::Limit(format!(
            "header claims {} x {} x {} = {count} voxels, more than the {MAX_VOXELS} this reader accepts",
            file_dims[0], file_dims[1], file_dims[2]
        )));
    }
    let extended = words.int(24);
    if extended < 0 {
        return Err(LayoutError::Format(format!("extended header size NSYMBT = {extended} is negative")));
    }
    let expected_len = HEADER_BYTES as u64 + extended as u64 + voxels * mode.bytes() as u64;
    // Memory before anything of that size is allocated: the values as float32, and a second
    // copy when they are permuted to X, Y, Z order.
    let copies = if axis_order == [1, 2, 3] { 1 } else { 2 };
    let bytes = voxels.checked_mul(crate::limits::BYTES_PER_VOXEL * copies);
    if bytes.is_none_or(|b| b > crate::limits::memory_limit()) {
        let what = format!("its {} x {} x {} voxels", file_dims[0], file_dims[1], file_dims[2]);
        return Err(LayoutError::Limit(crate::limits::ensure_fits(&what, bytes, None).unwrap_err().to_string()));
    }
    if let Some(len) = file_len
        && len != expected_len
    {
        let relation = if len < expected_len { "shorter" } else { "longer" };
        return Err(LayoutError::Format(format!(
            "file is {len} bytes, {relation} than the {expected_len} its header promises \
             ({} x {} x {} voxels of mode {}, {extended}-byte extended header)",
            file_dims[0],
            file_dims[1],
            file_dims[2],
            mode.number()
        )));
    }
    Ok(Layout { file_dims, mode, axis_order: axis_order.map(|a| a as u8), voxels, extended })
}

/// The placement fields, permuted from file order to X, Y, Z, and the grid they define.
fn read_placement(
    words: &Words,
    layout: &Layout,
    warnings: &mut Vec<String>,
) -> std::result::Result<(GridGeometry, MapHeader), String> {
    let mut dims = [0usize; 3];
    let mut nstart = [0i64; 3];
    for (file_axis, &xyz_axis) in layout.axis_order.iter().enumerate() {
        dims[xyz_axis as usize - 1] = layout.file_dims[file_axis] as usize;
        nstart[xyz_axis as usize - 1] = words.int(5 + file_axis) as i64;
    }
    let mut sampling = [words.int(8) as i64, words.int(9) as i64, words.int(10) as i64];
    let cell_lengths = [words.float(11), words.float(12), words.float(13)].map(|v| v as f64);
    let mut cell_angles = [words.float(14), words.float(15), words.float(16)].map(|v| v as f64);
    let origin = [words.float(50), words.float(51), words.float(52)].map(|v| v as f64);
    for a in 0..3 {
        if sampling[a] <= 0 {
            let axis = ["X", "Y", "Z"][a];
            warnings.push(format!("M{axis} = {} is not positive; using the grid size {}", sampling[a], dims[a]));
            sampling[a] = dims[a] as i64;
        }
    }
    if cell_lengths.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(format!("cell lengths {:?} must be positive: the voxel size is unknown", cell_lengths));
    }
    if origin.iter().any(|o| !o.is_finite()) {
        return Err(format!("ORIGIN {:?} is not finite", origin));
    }
    if cell_angles.contains(&0.0) {
        cell_angles = [90.0; 3];
    } else if cell_angles.iter().any(|c| !c.is_finite() || (c - 90.0).abs() > CELL_ANGLE_TOLERANCE_DEGREES) {
        // Placing a skewed grid needs the fractional-to-Cartesian matrix at every step (model map,
        // window sums, peaks); cryo-EM maps are orthogonal, so refuse rather than misplace it.
        return Err(format!(
            "cell angles ({}, {}, {}) are not 90 degrees: non-orthogonal maps are not supported \
             (resample the map onto an orthogonal grid first)",
            cell_angles[0], cell_angles[1], cell_angles[2]
        ));
    }
    if origin.iter().any(|&o| o != 0.0) && nstart.iter().any(|&s| s != 0) {
        warnings.push(format!(
            "both ORIGIN {:?} and NSTART {:?} are non-zero; programs differ on this, and this one \
             adds them (see the placement rule)",
            origin, nstart
        ));
    }
    let voxel_size: [f64; 3] = std::array::from_fn(|a| cell_lengths[a] / sampling[a] as f64);
    let first_voxel_centre: [f64; 3] = std::array::from_fn(|a| origin[a] + nstart[a] as f64 * voxel_size[a]);
    let geometry = GridGeometry { dims, voxel_size, first_voxel_centre };
    let space_group = words.int(23);
    let axis_order = layout.axis_order;
    Ok((geometry, MapHeader { axis_order, nstart, origin, sampling, cell_lengths, cell_angles, space_group }))
}

enum ValuesError {
    Io(std::io::Error),
    Short(usize),
    Long,
}

/// Reads `count` values; with `at_end`, the file must end there.
fn read_values<R: Read>(
    reader: &mut R,
    mode: DataMode,
    endianness: Endianness,
    count: usize,
    size_verified: bool,
    at_end: bool,
) -> std::result::Result<Vec<f32>, ValuesError> {
    // Reserve up front only when the file size already proved the data is there.
    let mut values = Vec::with_capacity(if size_verified { count } else { count.min(1 << 20) });
    let width = mode.bytes();
    let mut chunk = vec![0u8; (1 << 20) / width * width];
    while values.len() < count {
        let want = ((count - values.len()) * width).min(chunk.len());
        let got = read_up_to(reader, &mut chunk[..want]).map_err(ValuesError::Io)?;
        let whole = got / width * width;
        decode_values(&chunk[..whole], mode, endianness, &mut values);
        if got < want {
            return Err(ValuesError::Short(values.len()));
        }
    }
    let mut extra = [0u8; 1];
    if at_end && read_up_to(reader, &mut extra).map_err(ValuesError::Io)? > 0 {
        return Err(ValuesError::Long);
    }
    Ok(values)
}

fn decode_values(bytes: &[u8], mode: DataMode, endianness: Endianness, out: &mut Vec<f32>) {
    let u16_at = |c: &[u8]| match endianness {
        Endianness::Little => LittleEndian::read_u16(c),
        Endianness::Big => BigEndian::read_u16(c),
    };
    match mode {
        DataMode::Int8 => out.extend(bytes.iter().map(|&b| b as i8 as f32)),
        DataMode::Int16 => out.extend(bytes.chunks_exact(2).map(|c| u16_at(c) as i16 as f32)),
        DataMode::Uint16 => out.extend(bytes.chunks_exact(2).map(|c| u16_at(c) as f32)),
        DataMode::Float16 => out.extend(bytes.chunks_exact(2).map(|c| f16_to_f32(u16_at(c)))),
        DataMode::Float32 => out.extend(bytes.chunks_exact(4).map(|c| match endianness {
            Endianness::Little => LittleEndian::read_f32(c),
            Endianness::Big => BigEndian::read_f32(c),
        })),
    }
}

/// Converts an IEEE 754 half-precision bit pattern to f32 (exact: every half is an f32).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exponent = ((bits >> 10) & 0x1f) as i32;
    let mantissa = (bits & 0x3ff) as f32;
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

/// Converts f32 to the nearest half-precision bit pattern (round to nearest even); used to write
/// mode-12 files.
pub fn f32_to_f16(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        return sign | 0x7c00 | if mantissa != 0 { 0x200 } else { 0 };
    }
    let e = exponent - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mantissa | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rounded = (m + half - 1 + ((m >> shift) & 1)) >> shift;
        return sign | rounded as u16;
    }
    let rounded = mantissa + 0xfff + ((mantissa >> 13) & 1);
    let (e, m) = if rounded & 0x80_0000 != 0 { (e + 1, 0) } else { (e, rounded >> 13) };
    if e >= 31 {
        return sign | 0x7c00;
    }
    sign | ((e as u16) << 10) | m as u16
}

/// Strides, in X-fastest storage, of the file's columns, rows and sections.
fn file_strides(axis_order: [u8; 3], dims_xyz: [usize; 3]) -> [usize; 3] {
    let xyz_stride = [1, dims_xyz[0], dims_xyz[0] * dims_xyz[1]];
    axis_order.map(|a| xyz_stride[a as usize - 1])
}

fn permute_to_xyz(file_order: Vec<f32>, file_dims: [usize; 3], axis_order: [u8; 3], dims_xyz: [usize; 3]) -> Vec<f32> {
    if axis_order == [1, 2, 3] {
        return file_order;
    }
    let [cs, rs, ss] = file_strides(axis_order, dims_xyz);
    let mut xyz = vec![0f32; file_order.len()];
    let mut src = file_order.iter();
    for s in 0..file_dims[2] {
        for r in 0..file_dims[1] {
            let base = r * rs + s * ss;
            for c in 0..file_dims[0] {
                xyz[base + c * cs] = *src.next().expect("sizes checked");
            }
        }
    }
    xyz
}

/// How to encode a map file. [`write_map`] always writes the MRC2014 default (float32,
/// little-endian); other encodings exist to build test fixtures for every layout the reader
/// accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapEncoding {
    /// Data mode of the values.
    pub mode: DataMode,
    /// Byte order.
    pub endianness: Endianness,
}

impl Default for MapEncoding {
    fn default() -> Self {
        MapEncoding { mode: DataMode::Float32, endianness: Endianness::Little }
    }
}

/// Encodes a map as CCP4/MRC bytes, in the map header's own axis order, with recomputed
/// DMIN/DMAX/DMEAN/RMS and the labels (one per line of `label`, at most ten).
pub fn encode_map(map: &Map, encoding: MapEncoding, label: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + map.data.len() * encoding.mode.bytes());
    encode_map_into(map, encoding, label, &mut out).expect("writing to memory cannot fail");
    out
}

fn encode_map_into<W: Write>(map: &Map, encoding: MapEncoding, label: &str, out: &mut W) -> std::io::Result<()> {
    match encoding.endianness {
        Endianness::Little => encode_with::<LittleEndian, W>(map, encoding.mode, label, out),
        Endianness::Big => encode_with::<BigEndian, W>(map, encoding.mode, label, out),
    }
}

fn encode_with<B: ByteOrder, W: Write>(map: &Map, mode: DataMode, label: &str, out: &mut W) -> std::io::Result<()> {
    let h = &map.header;
    let g = &map.geometry;
    let order = h.axis_order.map(|a| a as usize - 1);
    let file_dims = order.map(|a| g.dims[a]);
    let stats = MapStatistics::of(&map.data);
    let mut header = [0u8; HEADER_BYTES];
    let mut put_i = |word: usize, v: i32| B::write_i32(&mut header[(word - 1) * 4..word * 4], v);
    for a in 0..3 {
        put_i(1 + a, file_dims[a] as i32);
        put_i(5 + a, h.nstart[order[a]] as i32);
        put_i(8 + a, h.sampling[a] as i32);
        put_i(17 + a, h.axis_order[a] as i32);
    }
    put_i(4, mode.number());
    // ISPG 1 (a single volume) unless the input was a volume stack.
    put_i(23, if h.space_group == 401 { 401 } else { 1 });
    put_i(24, 0);
    put_i(28, 20141);
    let mut put_f = |word: usize, v: f64| B::write_f32(&mut header[(word - 1) * 4..word * 4], v as f32);
    for a in 0..3 {
        put_f(11 + a, h.cell_lengths[a]);
        put_f(14 + a, h.cell_angles[a]);
        put_f(50 + a, h.origin[a]);
    }
    put_f(20, stats.min);
    put_f(21, stats.max);
    put_f(22, stats.mean);
    put_f(55, stats.sd);
    header[MAP_TAG_OFFSET..MAP_TAG_OFFSET + 4].copy_from_slice(b"MAP ");
    header[MACHINE_STAMP_OFFSET..MACHINE_STAMP_OFFSET + 4].copy_from_slice(match B::read_u16(&[0x12, 0x34]) {
        0x3412 => &[0x44, 0x44, 0, 0],
        _ => &[0x11, 0x11, 0, 0],
    });
    // One label per line of `label`, at most ten.
    let lines: Vec<&str> = label.lines().take(10).collect();
    B::write_i32(&mut header[(56 - 1) * 4..56 * 4], lines.len().max(1) as i32);
    for (i, line) in lines.iter().enumerate() {
        let text = line.as_bytes();
        let n = text.len().min(LABEL_BYTES);
        let at = LABELS_OFFSET + i * LABEL_BYTES;
        header[at..at + n].copy_from_slice(&text[..n]);
        header[at + n..at + LABEL_BYTES].fill(b' ');
    }
    out.write_all(&header)?;

    let [cs, rs, ss] = file_strides(h.axis_order, g.dims);
    let width = mode.bytes();
    let mut row = vec![0u8; file_dims[0] * width];
    for s in 0..file_dims[2] {
        for r in 0..file_dims[1] {
            let base = r * rs + s * ss;
            // The mode is fixed for the whole file: branch once per row, not per value.
            let values = (0..file_dims[0]).map(|c| map.data[base + c * cs]);
            match mode {
                DataMode::Float32 => {
                    row.chunks_exact_mut(4).zip(values).for_each(|(dst, v)| B::write_f32(dst, v));
                }
                DataMode::Int8 => {
                    row.iter_mut().zip(values).for_each(|(dst, v)| *dst = v.round().clamp(-128.0, 127.0) as i8 as u8);
                }
                DataMode::Int16 => row
                    .chunks_exact_mut(2)
                    .zip(values)
                    .for_each(|(dst, v)| B::write_i16(dst, v.round().clamp(-32768.0, 32767.0) as i16)),
                DataMode::Uint16 => row
                    .chunks_exact_mut(2)
                    .zip(values)
                    .for_each(|(dst, v)| B::write_u16(dst, v.round().clamp(0.0, 65535.0) as u16)),
                DataMode::Float16 => {
                    row.chunks_exact_mut(2).zip(values).for_each(|(dst, v)| B::write_u16(dst, f32_to_f16(v)));
                }
            }
            out.write_all(&row)?;
        }
    }
    Ok(())
}

/// Writes `map` as a mode-2, little-endian MRC2014 file in its header's frame and axis order,
/// through a temporary file renamed into place. `inputs` are files that must not be overwritten.
pub fn write_map(path: impl AsRef<Path>, map: &Map, label: &str, inputs: &[&Path]) -> Result<()> {
    write_atomically(path.as_ref(), inputs, |w| encode_map_into(map, MapEncoding::default(), label, w))
}

/// As [`write_map`], staged in `transaction` (renamed into place with the run's other outputs).
pub fn write_map_in(
    transaction: &crate::io::atomic_file::Transaction,
    path: &Path,
    map: &Map,
    label: &str,
    inputs: &[&Path],
) -> Result<()> {
    transaction.write(path, inputs, |w| encode_map_into(map, MapEncoding::default(), label, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_round_trips() {
        for v in [0.0f32, 1.0, -2.5, 0.000061035156, 65504.0, 3.140625, -0.0001] {
            let back = f16_to_f32(f32_to_f16(v));
            assert!((back - v).abs() <= v.abs() * 1e-3 + 1e-7, "{v} -> {back}");
        }
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
