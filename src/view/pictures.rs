//! Pictures of the strongest peaks: for each, a PNG of three orthogonal slices through the
//! peak (X-Y, X-Z, Y-Z planes, [`PICTURE_SPAN`] Å square), the experimental map in grey, the
//! difference map's contours at plus and minus the peak threshold in green and red, the atoms
//! within [`ATOM_SLAB`] Å of each plane as dots with the residue nearest the peak labelled, and
//! a 5 Å scale bar. Drawn in memory with `plotters` and an embedded font (no display, no
//! system fonts), then written atomically.

use crate::analysis::peaks::Peak;
use crate::difference::Units;
use crate::error::{Error, Result};
use crate::grid::Map;
use crate::io::atomic_file::Transaction;
use crate::io::model::Model;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Edge of each slice, Å.
pub const PICTURE_SPAN: f64 = 20.0;
/// Atoms closer than this to a slice's plane are drawn on it, Å.
pub const ATOM_SLAB: f64 = 2.0;
/// Length of the scale bar, Å.
const SCALE_BAR: f64 = 5.0;
/// Pixels per panel edge.
const PANEL: i32 = 300;
const GAP: i32 = 12;
const TITLE_HEIGHT: i32 = 34;
const CAPTION_HEIGHT: i32 = 22;
const LEGEND_HEIGHT: i32 = 30;
/// Width of a picture, pixels.
pub const PICTURE_WIDTH: u32 = (3 * PANEL + 4 * GAP) as u32;
/// Height of a picture, pixels.
pub const PICTURE_HEIGHT: u32 = (TITLE_HEIGHT + CAPTION_HEIGHT + PANEL + LEGEND_HEIGHT + GAP) as u32;
/// Difference contours are traced on a grid of this many pixels.
const CONTOUR_STEP: i32 = 2;
const FONT: &str = "sans-serif";

const GREEN: RGBColor = RGBColor(0, 160, 0);
const RED_CONTOUR: RGBColor = RGBColor(220, 0, 0);
const ATOM_DOT: RGBColor = RGBColor(30, 60, 170);
const OUTSIDE_MAP: [u8; 3] = [226, 232, 242];

/// What the pictures show.
#[derive(Debug, Clone, Copy)]
pub struct PictureScene<'a> {
    /// The experimental map, drawn in grey (none when it is not at hand: an in-memory input).
    pub experimental: Option<&'a Map>,
    /// The difference map whose peaks are drawn.
    pub difference: &'a Map,
    /// The model.
    pub model: &'a Model,
    /// The contour level: the peak threshold, drawn at plus (green) and minus (red).
    pub contour: f64,
    /// The difference map's units.
    pub units: Units,
}

/// One slice plane: its name and the axes across (right), up, and through it.
struct Plane {
    across: usize,
    up: usize,
    normal: usize,
}

const PLANES: [Plane; 3] = [
    Plane { across: 0, up: 1, normal: 2 },
    Plane { across: 0, up: 2, normal: 1 },
    Plane { across: 1, up: 2, normal: 0 },
];
const AXIS_NAMES: [&str; 3] = ["X", "Y", "Z"];

/// Draws the `count` strongest peaks (`peaks` is strongest first) into `folder` (where the
/// run's [`crate::outputs::OutputLayout`] puts it) as `peak_N.png`; returns the files written,
/// by rank.
pub fn write_peak_pictures(
    out: &Transaction,
    scene: &PictureScene,
    peaks: &[Peak],
    count: usize,
    folder: &Path,
    protected: &[&Path],
) -> Result<Vec<PathBuf>> {
    let chosen = &peaks[..count.min(peaks.len())];
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    out.create_dir(folder)?;
    // Each picture is independent and small: drawn side by side.
    chosen
        .par_iter()
        .enumerate()
        .map(|(index, peak)| {
            let png = render_peak_picture(scene, peak, index + 1)?;
            let path = crate::outputs::picture_in(folder, index + 1);
            out.write(&path, protected, |w| w.write_all(&png))?;
            Ok(path)
        })
        .collect()
}

/// The PNG of one peak, as bytes.
pub fn render_peak_picture(scene: &PictureScene, peak: &Peak, rank: usize) -> Result<Vec<u8>> {
    let drawing_error = |e: String| Error::Invalid(format!("drawing the picture of peak {rank}: {e}"));
    ensure_font().map_err(drawing_error)?;
    let (width, height) = (PICTURE_WIDTH as usize, PICTURE_HEIGHT as usize);
    let mut pixels = vec![255u8; width * height * 3];
    let shading = GreyShading::around(scene.experimental, peak.position);
    for (index, plane) in PLANES.iter().enumerate() {
        paint_slice(&mut pixels, width, panel_origin(index), plane, scene.experimental, &shading, peak.position);
    }
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (PICTURE_WIDTH, PICTURE_HEIGHT)).into_drawing_area();
        draw_overlays(&root, scene, peak, rank).map_err(|e| drawing_error(e.to_string()))?;
        root.present().map_err(|e| drawing_error(e.to_string()))?;
    }
    encode_png(&pixels, PICTURE_WIDTH, PICTURE_HEIGHT).map_err(drawing_error)
}

fn ensure_font() -> std::result::Result<(), String> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if ok { Ok(()) } else { Err("the embedded font could not be loaded".into()) }
}

/// Top-left pixel of panel `index`.
fn panel_origin(index: usize) -> (i32, i32) {
    (GAP + index as i32 * (PANEL + GAP), TITLE_HEIGHT + CAPTION_HEIGHT)
}

/// The Cartesian point under pixel (`px`, `py`) of a panel (pixel centres; up is up).
fn point_at(plane: &Plane, centre: [f64; 3], px: f64, py: f64) -> [f64; 3] {
    let scale = PICTURE_SPAN / PANEL as f64;
    let mut point = centre;
    point[plane.across] += (px - PANEL as f64 / 2.0) * scale;
    point[plane.up] += (PANEL as f64 / 2.0 - py) * scale;
    point
}

/// The pixel of a panel over which a point lies.
fn pixel_of(plane: &Plane, centre: [f64; 3], point: [f64; 3]) -> (f64, f64) {
    let scale = PANEL as f64 / PICTURE_SPAN;
    (
        PANEL as f64 / 2.0 + (point[plane.across] - centre[plane.across]) * scale,
        PANEL as f64 / 2.0 - (point[plane.up] - centre[plane.up]) * scale,
    )
}

/// How experimental values become grey levels: dark is dense, white is empty. The range is
/// taken from the neighbourhood of the peak, so a picture has contrast whatever the map's
/// overall scale.
struct GreyShading {
    low: f64,
    high: f64,
}

impl GreyShading {
    fn around(map: Option<&Map>, centre: [f64; 3]) -> GreyShading {
        let Some(map) = map else { return GreyShading { low: 0.0, high: 1.0 } };
        let mut values = Vec::new();
        for plane in &PLANES {
            for py in (0..PANEL).step_by(4) {
                for px in (0..PANEL).step_by(4) {
                    if let Some(v) = map.interpolate(point_at(plane, centre, px as f64 + 0.5, py as f64 + 0.5)) {
                        values.push(v);
                    }
                }
            }
        }
        if values.is_empty() {
            return GreyShading { low: 0.0, high: 1.0 };
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        let (low, high) = (at(0.05), at(0.995));
        GreyShading { low, high: if high > low { high } else { low + 1.0 } }
    }

    fn grey(&self, value: f64) -> u8 {
        let t = ((value - self.low) / (self.high - self.low)).clamp(0.0, 1.0);
        (250.0 - 190.0 * t).round() as u8
    }
}

/// Paints the grey of one panel. The map is sampled once per 2 x 2 pixels (0.13 Å, far below
/// any map's voxel): the same picture for a quarter of the interpolations.
fn paint_slice(
    pixels: &mut [u8],
    width: usize,
    (left, top): (i32, i32),
    plane: &Plane,
    map: Option<&Map>,
    shading: &GreyShading,
    centre: [f64; 3],
) {
    const BLOCK: i32 = 2;
    for by in (0..PANEL).step_by(BLOCK as usize) {
        for bx in (0..PANEL).step_by(BLOCK as usize) {
            let middle = |p: i32| p as f64 + BLOCK as f64 / 2.0;
            let colour = match map {
                Some(map) => match map.interpolate(point_at(plane, centre, middle(bx), middle(by))) {
                    Some(v) => [shading.grey(v); 3],
                    None => OUTSIDE_MAP,
                },
                None => [255; 3],
            };
            for py in by..(by + BLOCK).min(PANEL) {
                let row = (top + py) as usize * width;
                for px in bx..(bx + BLOCK).min(PANEL) {
                    let offset = (row + (left + px) as usize) * 3;
                    pixels[offset..offset + 3].copy_from_slice(&colour);
                }
            }
        }
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type DrawResult = std::result::Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw_overlays(root: &Area, scene: &PictureScene, peak: &Peak, rank: usize) -> DrawResult {
    let unit = scene.units.symbol();
    let near = match &peak.nearest_atom {
        Some(a) => format!("nearest atom {} {} at {:.1} Å", a.residue_label(), a.atom_name, a.distance),
        None => "away from the model".to_string(),
    };
    let p = peak.position;
    // The blob's volume is counted at the contour drawn, so the outline shows what the table's
    // volume measures.
    let q = peak.q_value.map_or(String::new(), |q| format!(" (q {})", crate::report::format_q(q)));
    let title = format!(
        "Peak {rank}: {:+.1} {unit}{q} at ({:.1}, {:.1}, {:.1}) Å, blob {} Å³ at ±{:.1} {unit}; {near}",
        peak.height,
        p[0],
        p[1],
        p[2],
        peak.volume.round() as i64,
        scene.contour
    );
    root.draw(&Text::new(title, (GAP, 9), (FONT, 17).into_font().color(&BLACK)))?;
    for (index, plane) in PLANES.iter().enumerate() {
        let (left, top) = panel_origin(index);
        let caption = format!(
            "{} across, {} up; {} = {:.1} Å",
            AXIS_NAMES[plane.across], AXIS_NAMES[plane.up], AXIS_NAMES[plane.normal], p[plane.normal]
        );
        root.draw(&Text::new(caption, (left, top - CAPTION_HEIGHT + 3), (FONT, 14).into_font().color(&BLACK)))?;
        let panel = root.clone().shrink((left, top), (PANEL as u32, PANEL as u32));
        draw_contours(&panel, scene.difference, plane, p, scene.contour, &GREEN)?;
        draw_contours(&panel, scene.difference, plane, p, -scene.contour, &RED_CONTOUR)?;
        draw_atoms(&panel, scene.model, plane, p)?;
        let (cx, cy) = (PANEL / 2, PANEL / 2);
        panel.draw(&PathElement::new(vec![(cx - 6, cy), (cx + 6, cy)], MAGENTA.stroke_width(2)))?;
        panel.draw(&PathElement::new(vec![(cx, cy - 6), (cx, cy + 6)], MAGENTA.stroke_width(2)))?;
        let bar = (SCALE_BAR * PANEL as f64 / PICTURE_SPAN).round() as i32;
        panel.draw(&Rectangle::new([(10, PANEL - 14), (10 + bar, PANEL - 10)], BLACK.filled()))?;
        panel.draw(&Text::new(format!("{SCALE_BAR} Å"), (10, PANEL - 32), (FONT, 14).into_font().color(&BLACK)))?;
        panel.draw(&Rectangle::new([(0, 0), (PANEL - 1, PANEL - 1)], BLACK.stroke_width(1)))?;
    }
    let grey = if scene.experimental.is_some() { "grey: experimental map" } else { "(no experimental map at hand)" };
    let legend = format!(
        "{grey};  green / red: difference map at {:+.1} / {:+.1} {unit};  dots: atoms within {ATOM_SLAB} Å of the plane (larger = closer);  +: the peak",
        scene.contour, -scene.contour
    );
    let legend_top = TITLE_HEIGHT + CAPTION_HEIGHT + PANEL + 8;
    root.draw(&Text::new(legend, (GAP, legend_top), (FONT, 14).into_font().color(&BLACK)))?;
    Ok(())
}

/// Traces the contour of the difference map at `level` across a panel (marching squares on a
/// grid of [`CONTOUR_STEP`] pixels; a saddle is split by the cell's mean).
fn draw_contours(
    panel: &Area,
    map: &Map,
    plane: &Plane,
    centre: [f64; 3],
    level: f64,
    colour: &RGBColor,
) -> DrawResult {
    let nodes = (PANEL / CONTOUR_STEP + 1) as usize;
    let mut values = vec![None; nodes * nodes];
    for b in 0..nodes {
        for a in 0..nodes {
            let (px, py) = ((a as i32 * CONTOUR_STEP) as f64, (b as i32 * CONTOUR_STEP) as f64);
            values[b * nodes + a] = map.interpolate(point_at(plane, centre, px, py)).map(|v| v - level);
        }
    }
    let mut segments = Vec::new();
    for b in 0..nodes - 1 {
        for a in 0..nodes - 1 {
            let corners = [(a, b), (a + 1, b), (a + 1, b + 1), (a, b + 1)];
            let mut v = [0.0; 4];
            let mut inside_map = true;
            for (k, &(x, y)) in corners.iter().enumerate() {
                match values[y * nodes + x] {
                    Some(value) => v[k] = value,
                    None => inside_map = false,
                }
            }
            if inside_map {
                cell_segments(&corners, &v, &mut segments);
            }
        }
    }
    let style = colour.stroke_width(2);
    for (from, to) in segments {
        let pixel =
            |(x, y): (f64, f64)| ((x * CONTOUR_STEP as f64).round() as i32, (y * CONTOUR_STEP as f64).round() as i32);
        panel.draw(&PathElement::new(vec![pixel(from), pixel(to)], style))?;
    }
    Ok(())
}

/// The contour segments in one cell (corners clockwise from top-left, values minus the level),
/// in node units.
/// A contour segment between two points, in node units.
type Segment = ((f64, f64), (f64, f64));

fn cell_segments(corners: &[(usize, usize); 4], v: &[f64; 4], segments: &mut Vec<Segment>) {
    let inside = v.map(|x| x >= 0.0);
    if inside.iter().all(|&i| i == inside[0]) {
        return;
    }
    let crossing = |edge: usize| -> Option<(f64, f64)> {
        let (i, j) = (edge, (edge + 1) % 4);
        if inside[i] == inside[j] {
            return None;
        }
        let t = v[i] / (v[i] - v[j]);
        let (a, b) = (corners[i], corners[j]);
        Some((a.0 as f64 + t * (b.0 as f64 - a.0 as f64), a.1 as f64 + t * (b.1 as f64 - a.1 as f64)))
    };
    let edges: [Option<(f64, f64)>; 4] = std::array::from_fn(crossing);
    let mut found = edges.iter().flatten();
    match edges.iter().flatten().count() {
        2 => {
            if let (Some(&from), Some(&to)) = (found.next(), found.next()) {
                segments.push((from, to));
            }
        }
        4 => {
            let centre_inside = v.iter().sum::<f64>() >= 0.0;
            let e = |k: usize| edges[k].unwrap_or_default();
            if centre_inside == inside[0] {
                // Corners 0 and 2 join through the centre: cut off corners 1 and 3.
                segments.push((e(0), e(1)));
                segments.push((e(2), e(3)));
            } else {
                segments.push((e(3), e(0)));
                segments.push((e(1), e(2)));
            }
        }
        _ => {}
    }
}

/// Dots for the atoms near the plane, larger when closer; the residue of the atom nearest the
/// peak is labelled.
fn draw_atoms(panel: &Area, model: &Model, plane: &Plane, centre: [f64; 3]) -> DrawResult {
    let half = PICTURE_SPAN / 2.0;
    let mut nearest: Option<(f64, usize, (i32, i32))> = None;
    for (index, atom) in model.atoms.iter().enumerate() {
        let d: [f64; 3] = std::array::from_fn(|a| atom.position[a] - centre[a]);
        let off_plane = d[plane.normal].abs();
        if off_plane > ATOM_SLAB || d[plane.across].abs() > half || d[plane.up].abs() > half {
            continue;
        }
        let (x, y) = pixel_of(plane, centre, atom.position);
        let pixel = (x.round() as i32, y.round() as i32);
        let radius = (2.0 + 2.5 * (1.0 - off_plane / ATOM_SLAB)).round() as i32;
        panel.draw(&Circle::new(pixel, radius + 1, WHITE.filled()))?;
        panel.draw(&Circle::new(pixel, radius, ATOM_DOT.filled()))?;
        let distance = d.iter().map(|c| c * c).sum::<f64>();
        if nearest.is_none_or(|(best, _, _)| distance < best) {
            nearest = Some((distance, index, pixel));
        }
    }
    if let Some((_, index, (x, y))) = nearest {
        let atom = &model.atoms[index];
        let label = format!("{} {}", model.residues[atom.residue], atom.name);
        let font = (FONT, 13).into_font().color(&ATOM_DOT);
        let (w, h) = panel.estimate_text_size(&label, &font)?;
        let (w, h) = (w as i32, h as i32);
        let tx = (x + 7).min(PANEL - w - 3).max(2);
        let ty = (y - h - 6).max(2);
        panel.draw(&Rectangle::new([(tx - 2, ty - 1), (tx + w + 2, ty + h + 1)], WHITE.mix(0.85).filled()))?;
        panel.draw(&Text::new(label, (tx, ty), font))?;
    }
    Ok(())
}

fn encode_png(pixels: &[u8], width: u32, height: u32) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Deflate is a third of a picture's time at this (the default) level, but the faster one
    // makes the files 60% larger, and a batch keeps six per entry.
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_is_traced_where_the_field_crosses_the_level() {
        // f = r² - 25 on a 11 x 11 grid: the zero contour is the circle of radius 5 around (5, 5).
        let mut segments = Vec::new();
        for b in 0..10 {
            for a in 0..10 {
                let corners = [(a, b), (a + 1, b), (a + 1, b + 1), (a, b + 1)];
                let v = corners.map(|(x, y)| (x as f64 - 5.0).powi(2) + (y as f64 - 5.0).powi(2) - 25.0);
                cell_segments(&corners, &v, &mut segments);
            }
        }
        assert!(segments.len() > 20);
        for (from, to) in segments {
            for (x, y) in [from, to] {
                let r = ((x - 5.0).powi(2) + (y - 5.0).powi(2)).sqrt();
                assert!((r - 5.0).abs() < 0.3, "point ({x}, {y}) at radius {r}");
            }
        }
    }
}
