"""Random in-memory inputs (arrays of odd shapes, values and types; model columns with garbage)
give a result or a ValueError/TypeError, never a crash or an internal error."""

import warnings

import numpy as np

import real_space_diff_map as rsdm

ALLOWED = (ValueError, TypeError)


def random_array(rng):
    dims = 3 if rng.random() < 0.85 else int(rng.choice([1, 2, 4]))
    shape = tuple(int(n) for n in rng.integers(1, 24, size=dims))
    kind = rng.integers(0, 6)
    if kind == 0:
        return rng.normal(size=shape)
    if kind == 1:
        return rng.integers(-5, 5, size=shape).astype(np.int16)
    if kind == 2:
        return rng.normal(size=shape) * float(rng.choice([1e-30, 1e30]))
    if kind == 3:
        values = rng.normal(size=shape).astype(np.float32)
        if rng.random() < 0.5:
            values.flat[rng.integers(0, values.size)] = rng.choice([np.nan, np.inf, -np.inf])
        return values
    if kind == 4:
        return np.asfortranarray(rng.normal(size=shape))[..., ::-1]
    return np.zeros(shape, dtype=bool)


def random_model(rng, origin, extent):
    """Columns of a random model, its atoms mostly in the box (`extent`: x, y, z in Å)."""
    atoms = int(rng.integers(0, 12))
    width = 3 if rng.random() < 0.9 else 2
    spread = rng.uniform(-2, 1, size=(atoms, 3)) + rng.uniform(0, 1, size=(atoms, 3)) * (np.asarray(extent) + 3)
    positions = (np.asarray(origin) + spread)[:, :width]
    symbols = ["C", "N", "O", "S", "H", "Fe", "D", "c", "Xx", ""]
    weights = np.array([20, 10, 10, 3, 10, 1, 1, 1, 1, 1], dtype=float)
    elements = list(rng.choice(symbols, size=atoms, p=weights / weights.sum()))
    b_iso = [rng.uniform(-50, 200, size=atoms), np.zeros(atoms), np.full(atoms, 1e6)][int(rng.integers(0, 3))]
    if rng.random() < 0.05:
        b_iso = np.full(atoms, np.nan)
    occupancy = None if rng.random() < 0.5 else rng.uniform(-1, 2, size=atoms + int(rng.random() < 0.05))
    return positions, elements, b_iso, occupancy


def test_random_in_memory_inputs_never_crash():
    rng = np.random.default_rng(20261122)
    computed = 0
    warnings.simplefilter("ignore", rsdm.RealSpaceDiffMapWarning)
    for _ in range(400):
        voxel = float(rng.choice([1.0, 0.7, 2.5, -1.0, 0.0, np.nan], p=[0.4, 0.25, 0.2, 0.05, 0.05, 0.05]))
        origin = tuple(rng.uniform(-1e4, 1e4, size=3)) if rng.random() < 0.3 else (0.0, 0.0, 0.0)
        try:
            map_ = rsdm.Map(random_array(rng), voxel, origin)
        except ALLOWED:
            continue
        extent = np.array(map_.shape[::-1]) * np.array(map_.voxel_size)
        try:
            model = rsdm.Model(*random_model(rng, origin, extent))
        except ALLOWED:
            continue
        options = {}
        if rng.random() < 0.3:
            options["window"] = float(rng.choice([0.5, 5.0, 1e6]))
        if rng.random() < 0.3:
            options["variant"] = str(rng.choice(["complex", "amplitude", "both"]))
        if rng.random() < 0.2:
            options["solvent_noise"] = True
        resolution = float(rng.choice([0.1, 2.0, 3.5, 50.0, 1e9]))
        try:
            result = rsdm.difference_map(model, map_, resolution=resolution, **options)
        except ALLOWED:
            continue
        computed += 1
        assert result.map.shape == map_.shape
        assert np.all(np.isfinite(result.map)), (map_, model, resolution, options)
    # Many cases must reach the computation, or this checks only the argument parsing.
    assert computed >= 50, computed
