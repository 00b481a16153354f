"""A map read by gemmi and handed over as an array: the result sits where gemmi expects it,
and a written result reads back in gemmi on the same grid."""

import numpy as np
import pytest

import real_space_diff_map as rsdm
from conftest import SHARED

gemmi = pytest.importorskip("gemmi", reason="gemmi is installed into .venv-test by scripts/install_test_tools.sh")


def gemmi_map(path):
    """A map as a gemmi user holds it: the grid's array [x, y, z], the voxel size from the
    header (cell over MX, MY, MZ: gemmi leaves `grid.spacing` at zero for a box smaller than
    its cell until `setup`, which would pad it to the whole cell) and the position of grid
    point (0, 0, 0) (ORIGIN words plus NSTART voxels; axis order X, Y, Z)."""
    ccp4 = gemmi.read_ccp4_map(str(path))
    assert [ccp4.header_i32(i) for i in (17, 18, 19)] == [1, 2, 3]
    cell = ccp4.grid.unit_cell
    spacing = np.array([cell.a, cell.b, cell.c]) / np.array([ccp4.header_i32(i) for i in (8, 9, 10)])
    nstart = np.array([ccp4.header_i32(i) for i in (5, 6, 7)])
    origin = np.array([ccp4.header_float(i) for i in (50, 51, 52)]) + nstart * spacing
    return ccp4, np.asarray(ccp4.grid), spacing, origin


def check_round_trip(model_path, map_path, resolution, tmp_path):
    ccp4, xyz, spacing, origin = gemmi_map(map_path)
    zyx = xyz.T
    assert zyx.flags["C_CONTIGUOUS"], "gemmi's array transposed is [z, y, x] without a copy"
    result = rsdm.difference_map(model_path, rsdm.Map(zyx, tuple(spacing), tuple(origin)), resolution=resolution)
    from_file = rsdm.difference_map(model_path, map_path, resolution=resolution)
    assert np.allclose(result.origin, from_file.origin, atol=1e-4)
    assert np.allclose(result.voxel_size, from_file.voxel_size, rtol=1e-6)
    # gemmi's cell (f64) over MX differs from ours in the 7th digit, which moves the frame by
    # ~1e-5 Å and the map by up to ~3e-4 sigma; a frame off by one voxel changes it by ~1 sigma.
    assert np.max(np.abs(result.map - from_file.map)) <= 1e-3

    # The strongest peak: its position, in the model's frame, falls on gemmi's grid point next
    # to the voxel the peak reports, and gemmi's own neighbour search finds the same atom.
    peak = result.peaks[0]
    back = gemmi.FloatGrid(np.ascontiguousarray(result.map.T), gemmi.UnitCell(*(spacing * xyz.shape), 90, 90, 90))
    point = back.get_nearest_point(gemmi.Position(*(np.array(peak["position"]) - origin)))
    assert max(abs(a - b) for a, b in zip((point.u, point.v, point.w), peak["voxel"])) <= 1
    assert abs(point.value) >= result.report["peak_search"]["threshold"] * 0.5
    structure = gemmi.read_structure(str(model_path))
    structure.setup_entities()
    search = gemmi.NeighborSearch(structure[0], structure.cell, 6).populate()
    marks = search.find_atoms(gemmi.Position(*peak["position"]), "\0", radius=6)
    nearest = min(
        (m.to_cra(structure[0]) for m in marks),
        key=lambda cra: cra.atom.pos.dist(gemmi.Position(*peak["position"])),
    )
    assert (nearest.chain.name, nearest.residue.seqid.num, nearest.atom.name) == (
        peak["nearest_atom"]["chain"],
        peak["nearest_atom"]["residue_number"],
        peak["nearest_atom"]["atom_name"],
    )
    assert abs(nearest.atom.pos.dist(gemmi.Position(*peak["position"])) - peak["nearest_atom"]["distance"]) < 1e-3

    # Written by us, read by gemmi: the same values on a grid placed at the same origin.
    written = tmp_path / "difference.mrc"
    result.write(written)
    reread, values, reread_spacing, reread_origin = gemmi_map(written)
    assert np.allclose(reread_origin, origin, atol=1e-3) and np.allclose(reread_spacing, spacing, atol=1e-6)
    assert np.array_equal(values, np.asarray(back))


def test_testdata_map_with_its_origin_in_the_origin_words(spike, tmp_path):
    check_round_trip(spike["model"], spike["map"], 3.2, tmp_path)


@pytest.mark.shared
def test_synthetic_map_with_its_origin_in_nstart(tmp_path):
    case = SHARED / "synthetic" / "4a7h" / "nzorigin"
    check_round_trip(case / "model_trunc.pdb", case / "map.mrc", 3.2, tmp_path)


def check_gemmi_model(model_path, map_path, resolution):
    """The model as gemmi reads it, handed over in memory, gives the map our reader's gives."""
    structure = gemmi.read_structure(str(model_path))
    from_gemmi = rsdm.model_from_gemmi(structure)
    from_file = rsdm.read_model(model_path)
    assert len(from_gemmi) == len(from_file)
    assert np.allclose(from_gemmi.positions, from_file.positions, atol=1e-6)
    assert from_gemmi.elements == from_file.elements and from_gemmi.chains == from_file.chains
    a = rsdm.difference_map(from_gemmi, map_path, resolution=resolution)
    b = rsdm.difference_map(model_path, map_path, resolution=resolution)
    # gemmi keeps B and occupancy in single precision (30.23 becomes 30.2299995): the maps
    # differ by a few 1e-6 sigma; a wrong atom or element would differ by tenths.
    assert np.max(np.abs(a.map - b.map)) <= 1e-4
    assert len(a.peaks) == len(b.peaks)
    # (Peaks of equal |height| may swap places: compare them in order of signed height.)
    by_height = lambda peaks: sorted(peaks, key=lambda p: p["height"])  # noqa: E731
    for p, q in zip(by_height(a.peaks), by_height(b.peaks)):
        assert abs(p["height"] - q["height"]) < 1e-4 and np.allclose(p["position"], q["position"], atol=1e-3)
        assert (p["nearest_atom"] or {}).get("atom_name") == (q["nearest_atom"] or {}).get("atom_name")


def test_a_model_read_by_gemmi_gives_the_same_map(spike):
    check_gemmi_model(spike["model"], spike["map"], 3.2)


@pytest.mark.shared
def test_an_mmcif_model_read_by_gemmi_gives_the_same_map():
    case = SHARED / "synthetic" / "4a7h"
    check_gemmi_model(case / "model_trunc.cif", case / "map.mrc", 3.2)
