//! Half maps: z units calibrated by the half-map noise, FDR q-values, and the command line and
//! manifest ways of giving them.

use crate::common;
use real_space_diff_map::difference::{DifferenceOptions, Units, compute_half_map_difference};
use real_space_diff_map::io::ccp4::{read_map, write_map};
use real_space_diff_map::io::model::read_model;
use real_space_diff_map::scaling::noise::far_from_model_statistics;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_real_space_diff_map")).current_dir(dir).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub fn half_maps_on_the_command_line_give_z_units_and_q_values() {
    let dir = tempfile::tempdir().unwrap();
    let map = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    let (h1, h2) = common::halves(&map, |_| 0.5);
    write_map(dir.path().join("h1.mrc"), &h1, "half 1", &[]).unwrap();
    write_map(dir.path().join("h2.mrc"), &h2, "half 2", &[]).unwrap();
    let model = common::testdata("6vyb_Ndom_noNAG.pdb").display().to_string();
    let a = run(
        dir.path(),
        &[
            &model,
            "half_map=h1.mrc",
            "half_map=h2.mrc",
            "resolution=3.2",
            "output=a.mrc",
            "json=a.json",
            "fdr=0.01",
            "noise_map=noise.mrc",
        ],
    );
    assert!(a.status.success(), "{}", text(&a));
    let b = run(
        dir.path(),
        &[&model, "--half-maps", "h1.mrc", "h2.mrc", "--resolution", "3.2", "--output", "b.mrc", "--fdr", "0.01"],
    );
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(std::fs::read(dir.path().join("a.mrc")).unwrap(), std::fs::read(dir.path().join("b.mrc")).unwrap());
    let console = text(&a);
    assert!(
        console.contains("units: z from half-map noise") && console.contains("false discovery rate 0.01"),
        "{console}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a.json")).unwrap()).unwrap();
    assert_eq!(report["fit"]["units"], "half_map_z");
    assert_eq!(report["peak_search"]["fdr"], 0.01);
    assert!(report["fit"]["noise"]["shells"].as_array().unwrap().len() >= 4);
    assert_eq!(report["inputs"].as_array().unwrap().len(), 3, "model and both halves are recorded");
    for peak in report["peaks"].as_array().unwrap() {
        assert!(peak["q_value"].as_f64().unwrap() <= 0.01, "{peak}");
    }
    // The map says its units in its header; the noise map is in the input's units and frame.
    let bytes = std::fs::read(dir.path().join("a.mrc")).unwrap();
    assert!(String::from_utf8_lossy(&bytes[224..1024]).contains("units: z from half-map noise"));
    let noise = read_map(dir.path().join("noise.mrc")).unwrap().map;
    assert_eq!(noise.geometry, map.geometry);
    let expected = 0.5 * map.statistics().sd;
    let median = noise.statistics().mean;
    assert!(median > 0.05 * expected && median < 2.0 * expected, "noise level {median} for input noise {expected}");

    // Mistakes get clear errors that name the files, and no output.
    let cropped = h2.crop([1, 0, 0], [h2.geometry.dims[0] - 1, h2.geometry.dims[1], h2.geometry.dims[2]]).unwrap();
    write_map(dir.path().join("h2_cropped.mrc"), &cropped, "cropped", &[]).unwrap();
    let bad =
        run(dir.path(), &[&model, "half_map=h1.mrc", "half_map=h2_cropped.mrc", "resolution=3.2", "output=c.mrc"]);
    assert!(
        !bad.status.success() && text(&bad).contains("h2_cropped.mrc") && text(&bad).contains("h1.mrc"),
        "{}",
        text(&bad)
    );
    assert!(!dir.path().join("c.mrc").exists());
    let same = run(dir.path(), &[&model, "half_map=h1.mrc", "half_map=h1.mrc", "resolution=3.2", "output=c.mrc"]);
    assert!(!same.status.success() && text(&same).contains("identical"), "{}", text(&same));
    let one = run(dir.path(), &[&model, "half_map=h1.mrc", "resolution=3.2", "output=c.mrc"]);
    assert_eq!(one.status.code(), Some(2), "{}", text(&one));
    let fdr_alone = run(
        dir.path(),
        &[
            &model,
            &common::testdata("emd_21457_seg.mrc").display().to_string(),
            "resolution=3.2",
            "fdr=0.01",
            "output=c.mrc",
        ],
    );
    assert!(!fdr_alone.status.success() && text(&fdr_alone).contains("fdr= needs half maps"), "{}", text(&fdr_alone));
}

pub fn local_z_follows_noise_that_differs_between_two_halves_of_the_box() {
    // The model map itself is the signal, so the difference is noise alone; the noise is three
    // times stronger in the upper half of X. z must have sd 1 in both halves; the single-map
    // sigma, one number for the box, is off by the ratio between them.
    let model = read_model(common::testdata("6vyb_Ndom_noNAG.pdb")).unwrap();
    let input = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    let options = real_space_diff_map::density::model_map::ModelMapOptions::new(3.2);
    let signal =
        real_space_diff_map::density::model_map::compute_model_map(&model, &input.geometry, &options).unwrap().data;
    let map = input.with_data(signal);
    let nx = map.geometry.dims[0];
    let level = |x: usize| if x < nx / 2 { 0.3 } else { 0.9 };
    let (h1, h2) = common::halves(&map, level);
    // A noise window narrower than the default: the box is 50 Å wide, and a 20 Å tent reaches
    // across the step into the quiet half (z sd 0.90 there with it).
    let options = DifferenceOptions { noise_window: 10.0, ..DifferenceOptions::with_half_maps(3.2, &map.geometry) };
    let result = compute_half_map_difference(&model, h1.clone(), h2.clone(), None, &options).unwrap();
    assert_eq!(result.units, Units::HalfMapZ);
    let z = result.complex.unwrap();
    // The noise of the difference is the half-map noise; compare z with the noise alone,
    // processed the same way, away from the step (X within 8 voxels of the middle excluded).
    let average = h1.with_data(h1.data.iter().zip(&h2.data).map(|(a, b)| 0.5 * (a + b)).collect());
    let single = real_space_diff_map::difference::compute_difference_map(&model, average, &DifferenceOptions::new(3.2))
        .unwrap()
        .complex
        .unwrap();
    let sd_where = |values: &[f32], keep: &dyn Fn(usize) -> bool| {
        let picked: Vec<f64> =
            values.iter().enumerate().filter(|(i, _)| keep(i % nx)).map(|(_, v)| *v as f64).collect();
        let mean = picked.iter().sum::<f64>() / picked.len() as f64;
        (picked.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / picked.len() as f64).sqrt()
    };
    let low = |x: usize| x + 8 < nx / 2;
    let high = |x: usize| x > nx / 2 + 8;
    let (z_low, z_high) = (sd_where(&z.data, &low), sd_where(&z.data, &high));
    let (s_low, s_high) = (sd_where(&single.data, &low), sd_where(&single.data, &high));
    eprintln!("z sd {z_low:.3} / {z_high:.3}; single-map sigma units sd {s_low:.3} / {s_high:.3}");
    assert!((z_low - 1.0).abs() < 0.1 && (z_high - 1.0).abs() < 0.1, "z sd {z_low} / {z_high}");
    assert!(s_high / s_low > 2.0, "the single-map units should differ between the halves: {s_low} / {s_high}");
}

pub fn z_is_calibrated_far_from_the_model_and_the_removed_groups_stand_out() {
    let Some(shared) = common::shared_dir("z_is_calibrated_far_from_the_model_and_the_removed_groups_stand_out") else {
        return;
    };
    for case in ["4a7h", "1ahq_heme"] {
        let dir = shared.join("synthetic").join(case);
        let model = read_model(dir.join("model_trunc.pdb")).unwrap();
        let full_model = read_model(dir.join("model_full.pdb")).unwrap();
        let h1 = read_map(dir.join("half1.mrc")).unwrap().map;
        let h2 = read_map(dir.join("half2.mrc")).unwrap().map;
        let options = DifferenceOptions::with_half_maps(3.0, &h1.geometry);
        let result = compute_half_map_difference(&model, h1, h2, None, &options).unwrap();
        let z = result.complex.unwrap();
        let positions: Vec<[f64; 3]> = full_model.positions();
        let far = far_from_model_statistics(&z.data, &z.geometry, &positions, 8.0).unwrap();
        eprintln!("{case}: z far from the model: mean {:.3}, sd {:.3} over {} voxels", far.mean, far.sd, far.voxels);
        assert!(far.mean.abs() <= 0.05 && (far.sd - 1.0).abs() <= 0.05, "{case}: {far:?}");
        // Every removed atom's neighbourhood holds a strong positive blob.
        for atom in common::removed_atoms(&dir.join("removed_atoms.json")).iter().step_by(7) {
            let value = z.interpolate(*atom).unwrap();
            assert!(value > 5.0, "{case}: z {value} at removed atom {atom:?}");
        }
    }
}

pub fn batch_entries_with_half_map_columns_match_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let map = read_map(common::testdata("emd_21457_seg.mrc")).unwrap().map;
    let (h1, h2) = common::halves(&map, |_| 0.5);
    write_map(d.join("h1.mrc"), &h1, "half 1", &[]).unwrap();
    write_map(d.join("h2.mrc"), &h2, "half 2", &[]).unwrap();
    let model = common::testdata("6vyb_Ndom_noNAG.pdb").display().to_string();
    let full = common::testdata("emd_21457_seg.mrc").display().to_string();
    // Half maps alone (empty map), half maps with the full map, and a single map in one batch.
    let manifest = format!(
        "id\tmodel\tmap\thalf_map_1\thalf_map_2\tresolution\n\
         halves\t{model}\t\th1.mrc\th2.mrc\t3.2\n\
         with_full\t{model}\t{full}\th1.mrc\th2.mrc\t3.2\n\
         single\t{model}\t{full}\t\t\t3.2\n"
    );
    std::fs::write(d.join("m.tsv"), manifest).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "m.tsv", "--out-dir", "out", "--jobs", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for (id, maps) in [
        ("halves", vec!["half_map=h1.mrc", "half_map=h2.mrc"]),
        ("with_full", vec![full.as_str(), "half_map=h1.mrc", "half_map=h2.mrc"]),
        ("single", vec![full.as_str()]),
    ] {
        let mut args = vec![model.as_str()];
        args.extend(maps);
        let output = format!("output={id}.ccp4");
        args.extend(["resolution=3.2", output.as_str(), "quiet=true"]);
        let cli = run(d, &args);
        assert!(cli.status.success(), "{id}: {}", text(&cli));
        let batch_map = std::fs::read(d.join("out").join(id).join("difference.ccp4")).unwrap();
        let cli_map = std::fs::read(d.join(format!("{id}.ccp4"))).unwrap();
        // The header's labels name the inputs as given; the maps themselves must be identical.
        assert_eq!(batch_map[1024..], cli_map[1024..], "{id}: batch and command line differ");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("out").join(id).join("report.json")).unwrap())
                .unwrap();
        let expected = if id == "single" { "envelope_sigma" } else { "half_map_z" };
        assert_eq!(report["fit"]["units"], expected, "{id}");
    }
    // The stamps cover the half maps: a changed half map reruns its entries, not the single one.
    let stamp = |id: &str| std::fs::read_to_string(d.join("out").join(id).join("done.json")).unwrap();
    assert!(stamp("halves").contains("h2.mrc"), "{}", stamp("halves"));
    let (h1b, _) = common::halves(&map, |_| 0.6);
    write_map(d.join("h1.mrc"), &h1b, "half 1, again", &[]).unwrap();
    let before = std::fs::read(d.join("out/single/difference.ccp4")).unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "m.tsv", "--out-dir", "out", "--jobs", "2"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    let summary = std::fs::read_to_string(d.join("out/summary.tsv")).unwrap();
    let status = |id: &str| {
        let line = summary.lines().find(|l| l.starts_with(&format!("{id}\t"))).unwrap_or_default();
        line.split('\t').nth(1).unwrap_or_default().to_string()
    };
    assert_eq!([status("halves"), status("with_full"), status("single")], ["done", "done", "skipped"], "{summary}");
    assert_eq!(before, std::fs::read(d.join("out/single/difference.ccp4")).unwrap());

    // One half map only: the manifest error names the line.
    std::fs::write(d.join("bad.tsv"), format!("id\tmodel\tmap\thalf_map_1\nx\t{model}\t{full}\th1.mrc\n")).unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_real_space_diff_map"))
        .current_dir(d)
        .args(["batch", "bad.tsv", "--out-dir", "out2"])
        .output()
        .unwrap();
    assert!(!bad.status.success() && text(&bad).contains("half_map_2"), "{}", text(&bad));
}

/// Null half maps of the README's pocket entry for one noise seed: the model's own map (so the
/// model explains every bit of signal) scaled to the halves' average, plus independent noise in
/// each half with the spectrum of the entry's real half-map noise `(H1 - H2) / 2`.
struct NullPocket {
    template: real_space_diff_map::Map,
    signal: Vec<f32>,
    /// |F| of the real noise per Fourier term, scaled for one half's noise.
    amplitude: Vec<f32>,
    fft: real_space_diff_map::density::fourier::Fft3d,
}

impl NullPocket {
    fn new() -> Self {
        use real_space_diff_map::density::model_map::{ModelMapOptions, compute_model_map};
        let pocket = common::testdata("ligand_pocket");
        let h1 = read_map(pocket.join("half1.mrc")).unwrap().map;
        let h2 = read_map(pocket.join("half2.mrc")).unwrap().map;
        let model = read_model(pocket.join("model.pdb")).unwrap();
        let calc = compute_model_map(&model, &h1.geometry, &ModelMapOptions::new(3.2)).unwrap().data;
        let average: Vec<f64> = h1.data.iter().zip(&h2.data).map(|(a, b)| 0.5 * (*a as f64 + *b as f64)).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let calc64: Vec<f64> = calc.iter().map(|v| *v as f64).collect();
        let (ma, mc) = (mean(&average), mean(&calc64));
        let k = average.iter().zip(&calc64).map(|(a, c)| (a - ma) * (c - mc)).sum::<f64>()
            / calc64.iter().map(|c| (c - mc).powi(2)).sum::<f64>();
        let signal = calc64.iter().map(|c| (ma + k * (c - mc)) as f32).collect();
        let fft = real_space_diff_map::density::fourier::Fft3d::new(h1.geometry.dims);
        let n = h1.data.len() as f32;
        // One half's noise has twice the variance of (H1 - H2) / 2; white noise of unit variance
        // has E|W|^2 = n per term, and the inverse transform is unnormalised (a factor n).
        let mut difference: Vec<f32> = h1.data.iter().zip(&h2.data).map(|(a, b)| 0.5 * (a - b)).collect();
        let amplitude =
            fft.forward(&mut difference).iter().map(|f| f.norm() * std::f32::consts::SQRT_2 / (n * n.sqrt())).collect();
        NullPocket { template: h1, signal, amplitude, fft }
    }

    /// One half: the signal plus noise shaped from the white noise of `seed`.
    fn half(&self, seed: u64) -> real_space_diff_map::Map {
        let mut white = common::gaussian(seed, self.signal.len());
        let mut spectrum = self.fft.forward(&mut white);
        spectrum.iter_mut().zip(&self.amplitude).for_each(|(f, a)| *f *= *a);
        let mut noise = vec![0f32; self.signal.len()];
        self.fft.inverse(&mut spectrum, &mut noise);
        self.template.with_data(self.signal.iter().zip(&noise).map(|(s, e)| s + e).collect())
    }
}

/// The blob-level false discovery rate is calibrated where users read it: on null half maps of
/// the pocket entry (the model explains all the signal, so every listed blob is false), over
/// many noise seeds, `fdr=0.01` lists a blob in at most about 1% of the runs. Under the
/// complete null the false discovery rate is the share of runs with any call.
pub fn null_half_maps_list_a_significant_blob_in_about_one_percent_of_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let null = NullPocket::new();
    let model = common::testdata("ligand_pocket/model.pdb").display().to_string();
    // RSDM_NULL_RUNS=1000 measures the rate more closely (about 40 s).
    let runs: u64 = std::env::var("RSDM_NULL_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let (mut with_call, mut candidates) = (0, 0u64);
    for seed in 0..runs {
        write_map(d.join("h1.mrc"), &null.half(1000 + 2 * seed), "null half 1", &[]).unwrap();
        write_map(d.join("h2.mrc"), &null.half(1001 + 2 * seed), "null half 2", &[]).unwrap();
        let out = run(
            d,
            &[
                &model,
                "half_map=h1.mrc",
                "half_map=h2.mrc",
                "resolution=3.2",
                "output=null.ccp4",
                "json=null.json",
                "fdr=0.01",
                "pictures=0",
                "viewer=false",
                "quiet=true",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("null.json")).unwrap()).unwrap();
        let listed = report["peaks"].as_array().unwrap().len();
        candidates += report["peak_search"]["not_listed"]["not_significant"].as_u64().unwrap() + listed as u64;
        if listed > 0 {
            with_call += 1;
        }
    }
    eprintln!(
        "null half maps: {with_call} of {runs} runs listed a blob at q <= 0.01 ({candidates} noise blobs beyond 3 z tested)"
    );
    assert!(candidates >= runs, "the null maps have noise blobs to test: {candidates}");
    // At a true rate of 1%, 3 or more of 60 has a chance of 2.3%; over more runs, the share.
    let allowed = if runs == 60 { 2 } else { (0.015 * runs as f64).ceil() as u64 };
    assert!(with_call <= allowed, "{with_call} of {runs} null runs listed a blob at q <= 0.01");
}
