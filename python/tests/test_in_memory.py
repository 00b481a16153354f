"""Data already in memory give the same results as the files they came from, without temporary
files: a map as an array with its voxel size and origin, a model as per-atom arrays."""

import numpy as np
import pytest

import real_space_diff_map as rsdm
from conftest import SHARED


def columns_of(model):
    return dict(
        positions=model.positions,
        elements=model.elements,
        b_iso=model.b_iso,
        occupancy=model.occupancy,
        chains=model.chains,
        residue_names=model.residue_names,
        residue_numbers=model.residue_numbers,
        atom_names=model.atom_names,
    )


def test_arrays_and_paths_give_the_same_result(spike):
    from_files = rsdm.difference_map(spike["model"], spike["map"], resolution=3.2)
    on_disk = rsdm.read_map(spike["map"])
    array = np.array(on_disk.array, dtype=np.float64)  # a copy, and another dtype: converted
    model = rsdm.Model(**columns_of(rsdm.read_model(spike["model"])))
    in_memory = rsdm.difference_map(model, array, resolution=3.2, voxel_size=on_disk.voxel_size, origin=on_disk.origin)
    assert np.max(np.abs(in_memory.map - from_files.map)) <= 1e-6
    assert in_memory.origin == from_files.origin
    assert in_memory.peaks == from_files.peaks
    assert in_memory.residues == from_files.residues
    assert in_memory.report["inputs"][0]["path"] == "<in-memory model>"
    assert in_memory.report["inputs"][1]["path"] == "<in-memory map>"
    # A dict of columns works as well as a Model.
    from_dict = rsdm.difference_map(columns_of(model), rsdm.Map(array, on_disk.voxel_size, on_disk.origin), resolution=3.2)
    assert np.array_equal(from_dict.map, in_memory.map)


def test_the_input_array_is_not_modified_and_float32_input_is_shared(spike):
    on_disk = rsdm.read_map(spike["map"])
    array = on_disk.array.copy()
    before = array.copy()
    shared = rsdm.Map(array, on_disk.voxel_size, on_disk.origin)
    assert np.shares_memory(shared.array, array), "a C-contiguous float32 array is used without a copy"
    rsdm.difference_map(spike["model"], shared, resolution=3.2)
    assert np.array_equal(array, before)


def test_a_minimal_model_of_positions_elements_and_b(spike):
    full = rsdm.read_model(spike["model"])
    minimal = rsdm.Model(full.positions, full.elements, full.b_iso, occupancy=full.occupancy)
    assert len(minimal) == len(full) and minimal.chains[0] == "A" and minimal.residue_names[0] == "UNK"
    a = rsdm.difference_map(minimal, spike["map"], resolution=3.2)
    b = rsdm.difference_map(full, spike["map"], resolution=3.2)
    # The density does not depend on names; only the labels of peaks and residues do.
    assert np.max(np.abs(a.map - b.map)) <= 1e-6


def test_model_map_from_memory_and_from_files_agree(spike):
    on_disk = rsdm.read_map(spike["map"])
    from_files = rsdm.model_map(spike["model"], spike["map"], 3.2)
    from_memory = rsdm.model_map(
        rsdm.Model(**columns_of(rsdm.read_model(spike["model"]))), rsdm.Map(on_disk.array, on_disk.voxel_size, on_disk.origin), 3.2
    )
    assert from_files.shape == on_disk.shape and from_files.origin == on_disk.origin
    assert np.max(np.abs(from_files.array - from_memory.array)) <= 1e-6 * np.abs(from_files.array).max()
    # A model map that resembles the experimental map it was placed on (a raw 3.2 Å map: 0.48
    # over the box; a model map shifted by a few Å correlates near 0).
    correlation = np.corrcoef(from_files.array.ravel(), on_disk.array.ravel())[0, 1]
    assert correlation > 0.4, correlation


def near_model(model, like, radius):
    """Voxels within `radius` Å of an atom, as a [z, y, x] mask."""
    nz, ny, nx = like.shape
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    centres = np.stack([x, y, z], axis=-1) * np.array(like.voxel_size) + np.array(like.origin)
    near = np.zeros(like.shape, dtype=bool)
    for position in model.positions:
        near |= np.sum((centres - position) ** 2, axis=-1) <= radius * radius
    return near


@pytest.mark.shared
def test_model_map_matches_an_independent_implementation():
    """gemmi's electron density (../shared/reference, made by make_model_map.py: periodic box,
    sharp cut) against ours on the same grid, within 3 Å of the model."""
    data = SHARED / "data" / "spike_emd21457_seg"
    model = rsdm.read_model(data / "6vyb_Ndom_noNAG.pdb")
    like = rsdm.read_map(data / "emd_21457_seg.mrc")
    reference = rsdm.read_map(SHARED / "reference" / "spike_emd21457_seg" / "model_map_gemmi_seg.mrc")
    ours = rsdm.model_map(model, like, 3.2, edge="sharp")
    near = near_model(model, like, 3.0)
    correlation = np.corrcoef(ours.array[near], reference.array[near])[0, 1]
    assert correlation > 0.99, correlation
