//! Limits on what an input may make the program allocate or start. Every size read from a file
//! is a request from a stranger: a header that claims 2^64 voxels, a 1 MB gzip that inflates to
//! gigabytes, a voxel of 0.003 Å that makes the model map's padded grid terabytes, `/dev/zero`
//! given as a model. Each is checked here, with overflow-checked arithmetic, against a memory
//! limit before anything of that size is allocated, and refused with an error that names the
//! file, what it would need and how to raise the limit (`max_memory=`).
//!
//! The limit is process-wide (the readers deep in [`crate::io`] consult it): by default 90% of
//! the memory the machine has available when the program starts (`MemAvailable` in
//! `/proc/meminfo`), else 8 GiB; the command line's `max_memory=` and the batch's
//! `--max-memory` set it.

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// 0 until set: then the machine's default is used.
static MEMORY_LIMIT: AtomicU64 = AtomicU64::new(0);

/// Bytes a float32 map takes per voxel.
pub const BYTES_PER_VOXEL: u64 = 4;

/// The peak memory of a job, fitted to measured peaks (VmHWM) of single-map and half-map jobs
/// on noise maps of 128³-320³ at 1.05 Å and 3.2 Å with the testdata pocket model (8 runs; each
/// within 2-8% of the fit): `map_factor` float32 maps of the input's size, plus two padded
/// model-map grids (the grid and its half spectrum), plus [`OVERHEAD_BYTES`], plus
/// [`BYTES_PER_MODEL_FILE_BYTE`] for the model. In quarter maps: 4 (one map) single, 9 (2.25
/// maps) with half maps.
pub const SINGLE_MAP_QUARTERS: u64 = 4;

/// The same with half maps (both halves, their average and noise, two half spectra).
pub const HALF_MAP_QUARTERS: u64 = 9;

/// Memory beyond the maps and the model (program, tables, thread stacks), measured at 7-9 MiB.
pub const OVERHEAD_BYTES: u64 = 12 << 20;

/// Memory per byte of the model file (its atoms, residues and the spatial indexes over them):
/// an 80,000-atom PDB file of 6.5 MB took about 60 MB beyond the maps on the 384³ case.
pub const BYTES_PER_MODEL_FILE_BYTE: u64 = 9;

/// Largest grid edge (voxels) any transform is allowed: beyond it the FFT size search and the
/// buffers would run away long before memory is checked.
pub const MAX_GRID_EDGE: u64 = 1 << 16;

/// Memory available to this process, in bytes: the least of `MemAvailable` in `/proc/meminfo`,
/// the address-space limit (`ulimit -v`) and the memory cgroup's room (a Slurm job's or a
/// container's limit); 8 GiB where none can be read.
pub fn available_memory() -> u64 {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let mut candidates: Vec<u64> = Vec::new();
    if let Some(text) = read("/proc/meminfo") {
        let available = text
            .lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
        candidates.extend(available.map(|kb| kb.saturating_mul(1024)));
    }
    if let Some(text) = read("/proc/self/limits") {
        // "Max address space   <soft>   <hard>   bytes"
        let soft = text
            .lines()
            .find(|l| l.starts_with("Max address space"))
            .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok());
        candidates.extend(soft);
    }
    candidates.extend(cgroup_room());
    candidates.into_iter().filter(|b| *b > 0).min().unwrap_or(8 << 30)
}

/// Room left under the memory cgroup's limit (v2 `memory.max - memory.current`, v1
/// `memory.limit_in_bytes - memory.usage_in_bytes`), when there is a limit.
fn cgroup_room() -> Option<u64> {
    let number = |path: &str| std::fs::read_to_string(path).ok()?.trim().parse::<u64>().ok();
    let groups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut rooms = Vec::new();
    for line in groups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let candidates = if controllers.is_empty() {
            [("/sys/fs/cgroup", "memory.max", "memory.current")]
        } else if controllers.split(',').any(|c| c == "memory") {
            [("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes")]
        } else {
            continue;
        };
        for (root, limit, usage) in candidates {
            // Inside a cgroup namespace the process's group is the root of the mount.
            for dir in [format!("{root}{path}"), root.to_string()] {
                if let (Some(limit), Some(usage)) =
                    (number(&format!("{dir}/{limit}")), number(&format!("{dir}/{usage}")))
                {
                    // Kernels write "unlimited" as a huge number.
                    if limit < 1 << 60 {
                        rooms.push(limit.saturating_sub(usage));
                    }
                    break;
                }
            }
        }
    }
    rooms.into_iter().min()
}

/// The memory limit in bytes.
pub fn memory_limit() -> u64 {
    match MEMORY_LIMIT.load(Ordering::Relaxed) {
        0 => {
            let default = available_memory() / 10 * 9;
            MEMORY_LIMIT.store(default, Ordering::Relaxed);
            default
        }
        limit => limit,
    }
}

/// Sets the memory limit (bytes; at least 64 MiB).
pub fn set_memory_limit(bytes: u64) {
    MEMORY_LIMIT.store(bytes.max(64 << 20), Ordering::Relaxed);
}

/// Parses a memory size: a number of bytes with an optional unit `K`, `M`, `G`, `T` (powers of
/// 1024, `B`/`iB` accepted after them): `max_memory=12G`, `--max-memory 800M`.
pub fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let lower = lower.trim_end_matches("ib").trim_end_matches('b');
    let (number, shift) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 10),
        Some('m') => (&lower[..lower.len() - 1], 20),
        Some('g') => (&lower[..lower.len() - 1], 30),
        Some('t') => (&lower[..lower.len() - 1], 40),
        _ => (lower, 0),
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("'{t}' is not a memory size (for example 8G or 800M)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < 2f64.powi(63)) {
        return Err(format!("'{t}' is not a memory size (for example 8G or 800M)"));
    }
    Ok(bytes as u64)
}

/// A size in words: "4.0 GiB".
pub fn describe_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", (b / (1u64 << 20) as f64).max(1.0))
    }
}

/// The error for `what` needing `bytes` beyond the limit, naming `file` when there is one.
fn beyond_limit(what: &str, bytes: Option<u64>, file: Option<&Path>) -> Error {
    let need =
        bytes.map_or("more memory than can be counted".to_string(), |b| format!("{} of memory", describe_bytes(b)));
    let message = format!(
        "{what} would need {need}, more than the limit of {} (max_memory=SIZE raises it: by default 90% of the \
         memory available)",
        describe_bytes(memory_limit())
    );
    Error::limit(file, message)
}

/// Checks that `bytes` (`None`: more than a u64 holds) fit within the memory limit, before
/// `what` is allocated.
pub fn ensure_fits(what: &str, bytes: Option<u64>, file: Option<&Path>) -> Result<()> {
    match bytes {
        Some(b) if b <= memory_limit() => Ok(()),
        _ => Err(beyond_limit(what, bytes, file)),
    }
}

/// Voxels of a grid, or `None` when the product overflows.
pub fn voxels(dims: [u64; 3]) -> Option<u64> {
    dims[0].checked_mul(dims[1])?.checked_mul(dims[2])
}

/// The grid `dims` padded by `padding` Å on each side (rounded up to voxels), or `None` when an
/// edge would exceed [`MAX_GRID_EDGE`] or the sizes are not finite.
pub fn padded_dims(dims: [usize; 3], voxel_size: [f64; 3], padding: f64) -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    for a in 0..3 {
        let extra = (padding / voxel_size[a]).ceil();
        if !(extra.is_finite() && extra >= 0.0 && voxel_size[a] > 0.0) {
            return None;
        }
        let edge = (dims[a] as f64 + 2.0 * extra + 2.0).ceil();
        if edge > MAX_GRID_EDGE as f64 {
            return None;
        }
        out[a] = edge as u64;
    }
    Some(out)
}

/// Predicted peak memory (bytes) of a job on a map of `dims` voxels of `voxel_size` Å, at
/// resolution `d_min`, with a model file of `model_bytes` (uncompressed): from the map's header
/// and the model file's size alone, so that a run or a batch can decide before reading either
/// (see [`SINGLE_MAP_QUARTERS`] for the measurements behind it). `None` when the sizes
/// overflow.
pub fn job_memory(
    dims: [usize; 3],
    voxel_size: [f64; 3],
    d_min: f64,
    half_maps: bool,
    model_bytes: u64,
) -> Option<u64> {
    let map = voxels(dims.map(|n| n as u64))?.checked_mul(BYTES_PER_VOXEL)?;
    // The model map's grid is padded by its widest Gaussian (about 2.5 d_min for the blurs
    // chosen, at least 6 Å), the filter's by 2 d_min: take the larger.
    let padding = (2.5 * d_min).max(6.0);
    let padded = voxels(padded_dims(dims, voxel_size, padding)?)?.checked_mul(BYTES_PER_VOXEL)?;
    let quarters = if half_maps { HALF_MAP_QUARTERS } else { SINGLE_MAP_QUARTERS };
    let model = model_bytes.checked_mul(BYTES_PER_MODEL_FILE_BYTE)?;
    (map / 4)
        .checked_mul(quarters)?
        .checked_add(padded.checked_mul(2)?)?
        .checked_add(OVERHEAD_BYTES)?
        .checked_add(model)
}

/// The uncompressed size of a model file, for [`job_memory`]: its length, four times that for
/// a `.gz` (model text compresses about fourfold); 0 when it cannot be read.
pub fn model_file_bytes(path: &Path) -> u64 {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) { len.saturating_mul(4) } else { len }
}

/// Worker threads for a request of `requested` (`None`: all cores): at most the machine's
/// cores unless `force`; returns the count and, when it was capped, a warning.
pub fn threads(requested: Option<usize>, force: bool) -> (Option<usize>, Option<String>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match requested {
        Some(n) if n > cores && !force => (
            Some(cores),
            Some(format!(
                "threads={n} is more than the {cores} cores of this machine: using {cores} (force_threads=true to insist)"
            )),
        ),
        other => (other, None),
    }
}

/// Refuses anything but a regular file (following links) as an input: a FIFO or a device
/// (`/dev/zero`) would block or never end, a folder is not a file.
pub fn ensure_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        return Ok(());
    }
    let what = if meta.is_dir() {
        "a folder"
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.file_type();
            if t.is_fifo() {
                "a FIFO (named pipe)"
            } else if t.is_char_device() || t.is_block_device() {
                "a device"
            } else if t.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            }
        }
        #[cfg(not(unix))]
        {
            "not a regular file"
        }
    };
    Err(Error::limit(Some(path), format!("is {what}, not a regular file: inputs must be files")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_with_units() {
        assert_eq!(parse_memory("8G").unwrap(), 8 << 30);
        assert_eq!(parse_memory("800M").unwrap(), 800 << 20);
        assert_eq!(parse_memory("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_memory("4096").unwrap(), 4096);
        assert_eq!(parse_memory("2tb").unwrap(), 2 << 40);
        for bad in ["", "G", "-1G", "lots", "1e30T", "NaN"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_that_overflow_are_caught() {
        assert_eq!(voxels([4194304, 4194304, 1048576]), None);
        assert_eq!(voxels([10, 10, 10]), Some(1000));
        // 0.003 Å voxels: a grid of terabytes; 0.0001 Å: an edge beyond any transform.
        assert!(job_memory([10; 3], [0.003; 3], 3.0, false, 0).unwrap() > 500 << 30);
        assert_eq!(padded_dims([10; 3], [0.0001; 3], 8.0), None);
        assert_eq!(padded_dims([100; 3], [1.0; 3], f64::NAN), None);
        // The 384³ case with its 6.5 MB model measured 772 MiB.
        let typical = job_memory([384; 3], [1.05; 3], 3.2, false, 6_500_000).unwrap();
        assert!(typical > 700 << 20 && typical < 850 << 20, "{}", describe_bytes(typical));
    }
}
