"""Real-space difference maps for cryo-EM: the experimental map minus a model map computed from
electron form factors and scaled to it locally, in a sliding window around every voxel.

The same computation as the command line ``real_space_diff_map``, with the same options,
from Python: paths or data in memory in, NumPy arrays out. The interpreter is released while
the compiled core computes, so other Python threads keep running.

Example::

    import real_space_diff_map as rsdm

    result = rsdm.difference_map("model.pdb", "map.mrc", resolution=3.2)
    result.map          # float32 NumPy array [z, y, x], in result.units
    result.origin       # centre of voxel [0, 0, 0] (x, y, z), Å
    result.peaks[0]     # the strongest blob: height, position, nearest atom
    result.write("diff.mrc")

Maps are indexed ``[z, y, x]`` (as ``mrcfile`` does); a gemmi grid converts with
``numpy.asarray(grid).T``. Positions, voxel sizes and origins are (x, y, z) in Å.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._core import DifferenceResult, Map, Model, read_map, read_model
from .errors import (
    FileError,
    FilePermissionError,
    LimitError,
    MapFileError,
    MissingFileError,
    ModelFileError,
    RealSpaceDiffMapWarning,
)

__version__: str = _core.__version__

__all__ = [
    "DifferenceResult",
    "FileError",
    "FilePermissionError",
    "LimitError",
    "Map",
    "MapFileError",
    "MissingFileError",
    "Model",
    "ModelFileError",
    "RealSpaceDiffMapWarning",
    "difference_map",
    "model_from_gemmi",
    "model_map",
    "option_names",
    "read_map",
    "read_model",
    "write_map",
]

PathLike = Union[str, "os.PathLike[str]"]
MapInput = Union[PathLike, Map, np.ndarray]
ModelInput = Union[PathLike, Model, Mapping[str, Any]]
Vector = Union[float, Sequence[float]]


def option_names() -> list:
    """The options ``difference_map`` and ``model_map`` take as keywords: the command line's
    keys (``window``, ``variant``, ``peak_sigma``, ``json``, ...)."""
    return _core.option_names()


def _as_model(model: ModelInput) -> Union[PathLike, Model]:
    if isinstance(model, Mapping):
        return Model(**model)
    return model


def _as_map(value: Optional[MapInput], voxel_size: Optional[Vector], origin: Optional[Vector], what: str):
    if isinstance(value, np.ndarray):
        if voxel_size is None:
            raise ValueError(f"{what} is an array: give voxel_size= (Å) and origin= (centre of voxel [0, 0, 0], Å)")
        return Map(value, voxel_size, tuple(origin) if origin is not None else (0.0, 0.0, 0.0))
    return value


def _warn(messages: Sequence[str]) -> None:
    for message in messages:
        warnings.warn(message, RealSpaceDiffMapWarning, stacklevel=3)


def difference_map(
    model: ModelInput,
    map: Optional[MapInput] = None,
    resolution: Optional[float] = None,
    half_maps: Optional[Tuple[MapInput, MapInput]] = None,
    *,
    voxel_size: Optional[Vector] = None,
    origin: Optional[Vector] = None,
    threads: Optional[int] = None,
    verbose: bool = False,
    max_memory: Optional[Union[int, str]] = None,
    **options: Any,
) -> DifferenceResult:
    """The difference map of ``model`` against ``map`` and/or two ``half_maps``.

    ``model`` is a path (PDB or mmCIF, plain or .gz), a :class:`Model`, or a dict of its
    columns (``positions``, ``elements``, ``b_iso``, ...). Each map is a path (CCP4/MRC, plain
    or .gz), a :class:`Map`, or a float array indexed ``[z, y, x]`` with ``voxel_size`` and
    ``origin`` (the centre of voxel ``[0, 0, 0]``, Å) given here. ``resolution`` (Å) is
    required unless the model file records one.

    ``options`` are the command line's keys (see :func:`option_names`): ``window=20``,
    ``variant="both"``, ``peak_sigma=3.5``, ``spectral_weight="servalcat"``... Files are
    written only when ``output=`` is given (then ``json=``, ``csv=``, ``scale_map=``,
    ``noise_map=``, ``html=``, ``viewer=`` and ``pictures=`` work as on the command line: the
    viewer scripts and peak pictures are written beside the map by default); otherwise use
    ``result.write(path)``.
    ``threads`` sets the worker threads for this call (default: all cores); ``verbose=True``
    prints the command line's account of the run. ``max_memory`` (bytes, or ``"8G"``) is the
    most memory a run may ask for, for this process from then on (default: 90% of the memory
    available); a map or model that would need more raises :class:`LimitError`.

    Raises ``TypeError`` for an unknown option or a value of the wrong type (``window="big"``),
    ``ValueError`` for a value out of range, :class:`FileError` (an ``OSError``) for files that
    cannot be read or written. Warnings about the inputs or the fit are issued as
    :class:`RealSpaceDiffMapWarning` and kept in ``result.report["warnings"]``.
    """
    if resolution is not None:
        options["resolution"] = resolution
    full = _as_map(map, voxel_size, origin, "map")
    halves = None
    if half_maps is not None:
        if isinstance(half_maps, (str, os.PathLike)) or len(half_maps) != 2:
            raise ValueError("half_maps must be a pair: (half1, half2)")
        halves = tuple(_as_map(h, voxel_size, origin, f"half map {i + 1}") for i, h in enumerate(half_maps))
    limit = None if max_memory is None else str(max_memory)
    result = _core.difference_map(_as_model(model), full, halves, options, threads, verbose, limit)
    _warn(result.report["warnings"])
    return result


def model_map(
    model: ModelInput,
    like_map: MapInput,
    resolution: float,
    *,
    voxel_size: Optional[Vector] = None,
    origin: Optional[Vector] = None,
    threads: Optional[int] = None,
    **options: Any,
) -> Map:
    """The model's density from electron form factors on ``like_map``'s grid (same shape,
    voxel size and placement), limited to ``resolution`` (Å) as the difference map's model map
    is (options ``edge``, ``edge_width``, ``hydrogens``). Units: the form factors' (Å⁻²)."""
    like = _as_map(like_map, voxel_size, origin, "like_map")
    result = _core.model_map(_as_model(model), like, float(resolution), options, threads)
    _warn(result.warnings)
    return result


def model_from_gemmi(structure: Any, model_index: int = 0) -> Model:
    """A :class:`Model` from a ``gemmi.Structure`` already in memory (one of its models, the
    first by default): positions, elements, isotropic B, occupancy, chain, residue and atom
    names. (gemmi is not needed otherwise; B is ``atom.b_iso`` even where ANISOU is given.)"""
    atoms = [(chain, residue, atom) for chain in structure[model_index] for residue in chain for atom in residue]
    return Model(
        positions=np.array([[a.pos.x, a.pos.y, a.pos.z] for _, _, a in atoms], dtype=np.float64).reshape(-1, 3),
        elements=[a.element.name for _, _, a in atoms],
        b_iso=np.array([a.b_iso for _, _, a in atoms], dtype=np.float64),
        occupancy=np.array([a.occ for _, _, a in atoms], dtype=np.float64),
        chains=[c.name for c, _, _ in atoms],
        residue_names=[r.name for _, r, _ in atoms],
        residue_numbers=np.array([r.seqid.num for _, r, _ in atoms], dtype=np.int64),
        atom_names=[a.name for _, _, a in atoms],
    )


def write_map(path: PathLike, map: Map, label: Optional[str] = None) -> None:
    """Writes ``map`` as a mode-2 MRC2014 file in its own frame, through a temporary file
    renamed into place (``map.write(path)``)."""
    map.write(path, label)
