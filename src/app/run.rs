//! One run of the main job from the command line: read the files, compute the job
//! ([`crate::pipeline`], shared with the Python package), write, and say what happened.

use crate::app::args::RunArgs;
use crate::app::console::Console;
use crate::error::{Error, Result};
use crate::io::ccp4::{MapRead, read_map};
use crate::io::gz::Digest;
use crate::io::model::{Model, read_model_hashed};
use crate::parameters::Settings;
use crate::pipeline::{
    ExperimentalInputs, InputSource, JobInputs, LoadedMap, check_output_locations, compute_job, take_output_maps,
    write_outputs,
};
use crate::report::Report;
use crate::timings::Timings;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a run produced, for callers that want more than the exit code.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Resolution used.
    pub resolution: f64,
    /// The full report (input checksums only when `json=` was given).
    pub report: Report,
}

/// Reads the map and/or the half maps; [`ExperimentalInputs::assemble`] checks that they share
/// a frame.
fn read_experimental(args: &RunArgs, console: &Console, stages: &mut Timings) -> Result<ExperimentalInputs> {
    let halves = args.half_map_pair()?;
    let map_path = args.map();
    if map_path.is_none() && halves.is_none() {
        return Err(Error::Usage(
            "no map given: real_space_diff_map MODEL MAP resolution=R (or half_map=H1 half_map=H2)".into(),
        ));
    }
    let full = map_path.as_deref().map(|p| read_map_stage(p, "map", console, stages)).transpose()?;
    let halves = match halves {
        Some([path1, path2]) => {
            // The two halves are independent files: reading them side by side halves the wait
            // on a large entry (decoding is CPU-bound once the file is cached).
            console.stage("reading the half maps");
            let clock = Instant::now();
            let (read1, read2) = rayon::join(|| read_map(&path1), || read_map(&path2));
            stages.add("read half maps", clock);
            let half1 = describe_map(read1?, &path1, "half map 1", console);
            let half2 = describe_map(read2?, &path2, "half map 2", console);
            Some([half1, half2])
        }
        None => None,
    };
    ExperimentalInputs::assemble(full, halves)
}

/// Runs the main job: read, compute, write, report on stdout/stderr.
pub fn run(args: &RunArgs) -> Result<RunSummary> {
    let start = Instant::now();
    let model_path = args
        .model()
        .ok_or_else(|| Error::Usage("no model given: real_space_diff_map MODEL MAP resolution=R".into()))?;
    let settings = Settings::check(args.parameters.clone(), args.half_map_pair()?.is_some())?;
    let mut inputs = vec![model_path.clone()];
    inputs.extend(args.map());
    inputs.extend(args.parameters.peaks.mask.clone());
    inputs.extend(args.half_map_pair()?.into_iter().flatten());
    check_output_locations(&args.parameters, &inputs.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    if let Some(bytes) = args.max_memory {
        crate::limits::set_memory_limit(bytes);
    }
    let console = Console::new(args.quiet);
    use_threads(args.threads, args.force_threads, &console)?;
    check_job_size(args, &console)?;
    let mut stages = Timings::new();
    let experimental = read_experimental(args, &console, &mut stages)?;
    let (model, model_digest) = read_model_stage(&model_path, &console, &mut stages)?;
    let search_mask = match &args.parameters.peaks.mask {
        Some(path) => Some(read_map_stage(path, "mask", &console, &mut stages)?),
        None => None,
    };
    let inputs = JobInputs {
        model,
        model_source: InputSource::File(model_path),
        model_digest: Some(model_digest),
        experimental,
        search_mask,
        stages,
    };
    let mut job = compute_job(inputs, &settings, &console)?;
    console.stage("writing");
    let maps = take_output_maps(&mut job);
    let outputs = write_outputs(&mut job, &maps)?;
    console.finish();
    let times: Vec<String> = job.stages.stages().iter().map(|(name, s)| format!("{name} {s:.2} s")).collect();
    console.say(format!("time: {}", times.join(", ")));
    for path in &outputs {
        console.say(format!("wrote {}", path.display()));
    }
    console.say(format!("done in {:.2} s", start.elapsed().as_secs_f64()));
    let resolution = job.parameters.resolution.unwrap_or(f64::NAN);
    Ok(RunSummary { outputs, resolution, report: job.report })
}

/// Sets the size of the worker pool: at most the machine's cores unless forced.
fn use_threads(threads: Option<usize>, force: bool, console: &Console) -> Result<()> {
    if threads == Some(0) {
        return Err(Error::Usage("threads must be at least 1".into()));
    }
    let (threads, warning) = crate::limits::threads(threads, force);
    if let Some(warning) = warning {
        console.warn(warning);
    }
    if let Some(threads) = threads {
        // Fails only if a pool already exists (library use); then the existing pool is used.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    Ok(())
}

/// Refuses, from the map headers alone, a job that would need more memory than the limit:
/// nothing of the map's size is read or allocated before this. Says the prediction.
fn check_job_size(args: &RunArgs, console: &Console) -> Result<()> {
    let half_maps = args.half_map_pair()?;
    let Some(sizing) = args.map().or_else(|| half_maps.as_ref().map(|[first, _]| first.clone())) else {
        return Ok(());
    };
    let geometry = crate::io::ccp4::read_map_header(&sizing)?;
    // The resolution may only be known from the model, read later: 3 Å sizes the padding.
    let d_min = args.parameters.resolution.unwrap_or(3.0);
    let model_bytes = args.model().map_or(0, |m| crate::limits::model_file_bytes(&m));
    let need = crate::limits::job_memory(geometry.dims, geometry.voxel_size, d_min, half_maps.is_some(), model_bytes);
    crate::limits::ensure_fits(
        &format!(
            "a job on its {} x {} x {} voxels of {:.3} Å",
            geometry.dims[0], geometry.dims[1], geometry.dims[2], geometry.voxel_size[0]
        ),
        need,
        Some(&sizing),
    )?;
    if let Some(bytes) = need {
        console.say(format!(
            "memory: about {} at the peak (predicted from the map's header and the model file's size; the limit is {})",
            crate::limits::describe_bytes(bytes),
            crate::limits::describe_bytes(crate::limits::memory_limit())
        ));
    }
    Ok(())
}

/// Reads the map and says what it is and where it sits.
fn read_map_stage(path: &Path, what: &str, console: &Console, stages: &mut Timings) -> Result<LoadedMap> {
    console.stage(format!("reading the {what}"));
    let clock = Instant::now();
    let map_read = read_map(path)?;
    stages.add(&format!("read {what}"), clock);
    Ok(describe_map(map_read, path, what, console))
}

/// Says on the console what a map read holds and where it sits, with its warnings.
fn describe_map(map_read: MapRead, path: &Path, what: &str, console: &Console) -> LoadedMap {
    let (g, h) = (&map_read.map.geometry, &map_read.map.header);
    console.say(format!(
        "{what} {}: {} x {} x {} voxels of {:.4} x {:.4} x {:.4} Å, mode {}, axis order {:?}",
        path.display(),
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.voxel_size[0],
        g.voxel_size[1],
        g.voxel_size[2],
        map_read.mode.number(),
        h.axis_order
    ));
    let c = g.first_voxel_centre;
    console.say(format!(
        "    first voxel at ({:.3}, {:.3}, {:.3}) Å (header ORIGIN ({:.3}, {:.3}, {:.3}) Å, NSTART ({}, {}, {}))",
        c[0], c[1], c[2], h.origin[0], h.origin[1], h.origin[2], h.nstart[0], h.nstart[1], h.nstart[2]
    ));
    for w in &map_read.warnings {
        console.warn(format!("{}: {w}", path.display()));
    }
    LoadedMap {
        map: map_read.map,
        source: InputSource::File(path.to_path_buf()),
        warnings: map_read.warnings,
        digest: map_read.digest,
    }
}

/// Reads the model and says what it holds.
fn read_model_stage(path: &Path, console: &Console, stages: &mut Timings) -> Result<(Model, Digest)> {
    console.stage("reading the model");
    let clock = Instant::now();
    let (model, digest) = read_model_hashed(path)?;
    stages.add("read model", clock);
    for w in &model.warnings {
        console.warn(format!("{}: {w}", path.display()));
    }
    let chains = model.chain_count();
    console.say(format!(
        "model {}: {} atoms ({} hydrogens), {} residues in {chains} chain{}",
        path.display(),
        model.atoms.len(),
        model.hydrogen_count(),
        model.residues.len(),
        if chains == 1 { "" } else { "s" }
    ));
    Ok((model, digest))
}
