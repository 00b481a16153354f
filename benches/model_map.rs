#![allow(clippy::needless_range_loop)]
//! Model-map speed as a ratio to one forward plus one inverse real FFT of the same grid, on a
//! generated case of about 384^3 voxels and 80,000 atoms (the testdata model tiled 4 x 4 x 3).
//!
//! Run: `cargo bench --bench model_map` (set RAYON_NUM_THREADS to pin the thread count).

use real_space_diff_map::GridGeometry;
use real_space_diff_map::density::fourier::Fft3d;
use real_space_diff_map::density::model_map::{ModelMapOptions, compute_model_map};
use std::time::Instant;

mod common;

fn main() {
    let n = std::env::var("BENCH_GRID").ok().and_then(|v| v.parse().ok()).unwrap_or(384usize);
    let voxel = 1.05;
    let model = common::tiled_model(n, voxel);
    let geometry = GridGeometry { dims: [n; 3], voxel_size: [voxel; 3], first_voxel_centre: [0.0; 3] };
    println!(
        "grid {n}^3 ({:.0} MB as f32), {} atoms, {} threads",
        geometry.len() as f64 * 4.0 / 1e6,
        model.atoms.len(),
        rayon::current_num_threads()
    );

    let fft = Fft3d::new([n; 3]);
    let mut data = vec![0.5f32; geometry.len()];
    let mut fft_best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let mut spectrum = fft.forward(&mut data);
        fft.inverse(&mut spectrum, &mut data);
        fft_best = fft_best.min(start.elapsed().as_secs_f64());
    }
    let options = ModelMapOptions::new(3.2);
    let mut model_best = f64::INFINITY;
    let mut info = None;
    for _ in 0..3 {
        let start = Instant::now();
        let result = compute_model_map(&model, &geometry, &options).expect("model map");
        model_best = model_best.min(start.elapsed().as_secs_f64());
        info = Some((result.blur, result.fft_dims));
    }
    let (blur, fft_dims) = info.unwrap();
    println!("FFT pair (forward + inverse, {n}^3): {fft_best:.3} s (best of 3)");
    println!("model map (d_min 3.2, blur {blur:.1}, FFT grid {fft_dims:?}): {model_best:.3} s (best of 3)");
    println!("ratio model map / FFT pair: {:.2}", model_best / fft_best);
}
