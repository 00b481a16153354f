//! What a run says about its fit, its noise and its peaks, in words, to its [`Observer`].

use super::Observer;
use crate::analysis::peaks::{NEAREST_ATOM_RADIUS, Peak};
use crate::difference::{DifferenceMaps, SigmaScope};
use crate::parameters::Parameters;
use crate::report::{PeakSummary, ResidueFlags, peak_table};

/// Says how the model sits in the map and what the fit found, in words.
pub fn describe_fit(observer: &dyn Observer, parameters: &Parameters, resolution: f64, result: &DifferenceMaps) {
    let p = &result.placement;
    observer.say(&format!(
        "    {} of {} atoms inside the map box ({:.1}%), mean map value at atoms {:.2} sd",
        p.atoms_inside,
        p.atoms,
        100.0 * p.fraction_inside(),
        p.mean_density_at_atoms_sd
    ));
    for w in &result.warnings {
        observer.warn(w);
    }
    observer.say(&format!(
        "resolution {resolution} Å ({}); model map sampled with a {:.1} Å² blur, removed in Fourier space",
        parameters.resolution_edge().describe(),
        result.model_map_blur
    ));
    let envelope = crate::defaults::DEFAULT_ENVELOPE_RADIUS;
    let global = &result.global;
    observer.say(&format!(
        "global fit within {envelope} Å of the model: scale k = {:.4}, offset = {:.4}, correlation {:.3}",
        global.scale, global.offset, global.correlation
    ));
    let [wx, wy, wz] = result.local.window_voxels;
    let k = result.local.scale_percentiles;
    observer.say(&format!(
        "local fit in a {} Å window ({wx} x {wy} x {wz} voxels) around every voxel, {}; scale k at the model \
         (1st / 50th / 99th percentile): {:.3} / {:.3} / {:.3}",
        parameters.window(),
        if parameters.scaling.offset { "scale and offset" } else { "scale only" },
        k[0],
        k[1],
        k[2]
    ));
    if let Some(b) = result.local.relative_b_percentiles {
        observer.say(&format!("local relative B percentiles 1/50/99 = {:.1} / {:.1} / {:.1} Å²", b[0], b[1], b[2]));
    }
    if let Some(solvent) = result.solvent_noise.as_ref().filter(|s| s.applied) {
        let best = solvent.shells.iter().max_by(|a, b| a.weight.total_cmp(&b.weight));
        observer.say(&format!(
            "solvent noise: {:.0}% of the box is solvent (rms {:.2} of the envelope sd); the difference is weighted \
             by resolution shell with its noise spectrum ({:?} weight, largest at {:.1} Å)",
            100.0 * solvent.solvent_fraction,
            solvent.solvent_to_envelope,
            parameters.noise.spectral_weight,
            best.map_or(f64::NAN, |s| s.d_min)
        ));
    }
    match &result.noise {
        Some(noise) => describe_noise(observer, result, noise),
        None => observer.say(&match parameters.units.sigma_scope {
            SigmaScope::Envelope => format!(
                "units: sigma in the model envelope, sigma = {:.5} map units: the sd of the difference within \
                 {envelope} Å of the model ({} voxels)",
                result.sigma, result.envelope_voxels
            ),
            SigmaScope::Box => {
                format!("units: sigma over the box, sigma = {:.5} map units: the sd of the difference", result.sigma)
            }
        }),
    }
}

/// Says what the half maps measured: resolution shells, weights, local noise, calibration.
fn describe_noise(observer: &dyn Observer, result: &DifferenceMaps, noise: &crate::difference::NoiseSummary) {
    let weighted: Vec<String> = noise
        .shells
        .iter()
        .filter(|s| s.terms > 0)
        .step_by((noise.shells.len() / 6).max(1))
        .map(|s| format!("{:.1} Å: FSC {:.2}, weight {:.2}", s.d_min, s.fsc_half, s.weight))
        .collect();
    observer.say(&format!(
        "half maps: {} shells, {:?} spectral weight ({})",
        noise.shells.len(),
        noise.spectral_weight,
        weighted.join("; ")
    ));
    if noise.full_map {
        observer.say(
            "    the full map's noise is the half-map noise scaled shell by shell by the full map's amplitude ratio",
        );
    }
    let [low, median, high] = noise.local_sd_percentiles;
    observer.say(&format!(
        "units: z from half-map noise, the difference over its local noise sd ({} Å window); local noise sd \
         1st / 50th / 99th percentile: {low:.4} / {median:.4} / {high:.4} map units",
        noise.window
    ));
    if let Some(far) = noise.far_from_model {
        observer.say(&format!(
            "    farther than {} Å from every atom ({} voxels sampled): z mean {:.3}, sd {:.3}",
            far.distance, far.voxels, far.mean, far.sd
        ));
    }
    let _ = result;
}

/// Says what was searched, how many blobs there are and where, how residues were flagged,
/// and lists the strongest peaks.
pub fn describe_peaks(
    observer: &dyn Observer,
    parameters: &Parameters,
    search: &PeakSummary,
    flags: &ResidueFlags,
    peaks: &[Peak],
) {
    let unit = search.units.word();
    let threshold = search.threshold;
    let mut region = Vec::new();
    if let Some(radius) = search.search_radius.0 {
        region.push(format!("within {radius} Å of the model"));
    }
    if let Some(mask) = &search.mask {
        region.push(format!("inside the mask {}", mask.display()));
    }
    let region = if region.is_empty() { "the whole box".to_string() } else { region.join(", ") };
    observer.say(&format!(
        "peaks beyond {threshold:.2} {unit} with their maximum {region}{}: {} positive, {} negative",
        if search.min_volume > 0.0 { format!(", at least {} Å³", search.min_volume) } else { String::new() },
        search.positive,
        search.negative
    ));
    let n = &search.not_listed;
    let mut left_out = Vec::new();
    if n.outside_mask > 0 {
        left_out.push(format!("{} outside the mask", n.outside_mask));
    }
    if n.beyond_radius > 0 {
        left_out.push(format!(
            "{} farther than {} Å from every atom (unmodelled density or noise: search_radius=none lists them)",
            n.beyond_radius, search.search_radius
        ));
    }
    if n.too_small > 0 {
        left_out.push(format!("{} smaller than {} Å³", n.too_small, search.min_volume));
    }
    if n.not_significant > 0 {
        left_out.push(format!(
            "{} with a q-value above {}",
            n.not_significant,
            search.fdr.map_or(String::from("the rate"), |r| r.to_string())
        ));
    }
    if !left_out.is_empty() {
        observer.say(&format!("    not listed: {}", left_out.join("; ")));
    }
    let near_model = peaks.iter().filter(|p| p.nearest_atom.is_some()).count();
    if near_model < peaks.len() {
        observer.say(&format!(
            "    {} of the listed peaks have no atom within {NEAREST_ATOM_RADIUS} Å",
            peaks.len() - near_model
        ));
    }
    observer.say(&match flags.rule.as_str() {
        "fdr" => format!(
            "{} of {} residues in negative density at a false discovery rate of {} (each residue's lowest z at its \
             atoms, Benjamini-Hochberg over the residues)",
            flags.flagged,
            flags.scored,
            flags.fdr.unwrap_or(f64::NAN)
        ),
        _ => format!(
            "{} of {} residues with an atom at or below -{threshold:.2} {unit}: a fixed cut, not controlled for \
             the number of residues tested (with half maps the flags get q-values)",
            flags.flagged, flags.scored
        ),
    });
    if !peaks.is_empty() && parameters.peaks.peaks_shown > 0 {
        observer.say(&peak_table(peaks, parameters.peaks.peaks_shown, search.units));
    }
}
