"""Type stubs of the compiled core (``real_space_diff_map._core``); use the package's API."""

import os
import pathlib
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]
_Triple = Tuple[float, float, float]

__version__: str

class Map:
    """A density map: float32 values indexed ``[z, y, x]``, voxel size and the centre of voxel
    ``[0, 0, 0]`` in Å (x, y, z)."""

    def __init__(
        self,
        array: npt.ArrayLike,
        voxel_size: Union[float, Sequence[float]],
        origin: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> None: ...
    @property
    def array(self) -> npt.NDArray[np.float32]:
        """The values, indexed ``[z, y, x]`` (the map's own buffer: no copy)."""
    @property
    def voxel_size(self) -> _Triple:
        """Voxel edge lengths (x, y, z) in Å."""
    @property
    def origin(self) -> _Triple:
        """Centre of voxel ``[0, 0, 0]`` (x, y, z) in Å."""
    @property
    def cell(self) -> _Triple:
        """Unit-cell lengths (a, b, c) in Å from the header (the box for an in-memory map)."""
    @property
    def shape(self) -> Tuple[int, int, int]:
        """``(nz, ny, nx)``."""
    @property
    def path(self) -> Optional[pathlib.Path]:
        """The file the map was read from."""
    @property
    def warnings(self) -> List[str]:
        """What the reader noticed."""
    def write(self, path: _Path, label: Optional[str] = None) -> None:
        """Writes a mode-2 MRC2014 file in the map's frame, atomically."""

class Model:
    """An atomic model, read from a file or made from per-atom arrays."""

    def __init__(
        self,
        positions: npt.ArrayLike,
        elements: Sequence[str],
        b_iso: npt.ArrayLike,
        occupancy: Optional[npt.ArrayLike] = None,
        chains: Optional[Sequence[str]] = None,
        residue_names: Optional[Sequence[str]] = None,
        residue_numbers: Optional[npt.ArrayLike] = None,
        atom_names: Optional[Sequence[str]] = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    @property
    def positions(self) -> npt.NDArray[np.float64]:
        """n x 3 positions in Å."""
    @property
    def elements(self) -> List[str]: ...
    @property
    def b_iso(self) -> npt.NDArray[np.float64]: ...
    @property
    def occupancy(self) -> npt.NDArray[np.float64]: ...
    @property
    def chains(self) -> List[str]: ...
    @property
    def residue_names(self) -> List[str]: ...
    @property
    def residue_numbers(self) -> npt.NDArray[np.int64]: ...
    @property
    def atom_names(self) -> List[str]: ...
    @property
    def resolution(self) -> Optional[float]:
        """The resolution the file records, Å."""
    @property
    def path(self) -> Optional[pathlib.Path]: ...
    @property
    def warnings(self) -> List[str]: ...

class DifferenceResult:
    """The maps, peaks, residues and report of one difference-map job."""

    @property
    def map(self) -> npt.NDArray[np.float32]:
        """The difference map, indexed ``[z, y, x]``, in ``units`` (no copy)."""
    @property
    def difference(self) -> Map:
        """The difference map as a :class:`Map`."""
    @property
    def maps(self) -> Dict[str, Map]:
        """Every map by kind: "complex", "amplitude", "local_scale", "noise_sd"."""
    @property
    def origin(self) -> _Triple: ...
    @property
    def voxel_size(self) -> _Triple: ...
    @property
    def cell(self) -> _Triple: ...
    @property
    def units(self) -> str:
        """"envelope_sigma", "box_sigma" or "half_map_z"."""
    @property
    def peaks(self) -> List[Dict[str, Any]]:
        """Blobs beyond the threshold, strongest first (the report's list)."""
    @property
    def residues(self) -> List[Dict[str, Any]]:
        """Per-residue scores in model order (the report's list)."""
    @property
    def report(self) -> Dict[str, Any]:
        """The same dict as the JSON report."""
    @property
    def outputs(self) -> List[pathlib.Path]:
        """Files written (when ``output=`` was given)."""
    def write(self, path: _Path) -> None:
        """Writes the difference map as the command line does, atomically."""

def read_map(path: _Path) -> Map: ...
def read_model(path: _Path) -> Model: ...
def option_names() -> List[str]: ...
def model_map(
    model: Union[_Path, Model],
    like_map: Union[_Path, Map],
    resolution: float,
    options: Optional[Dict[str, Any]] = None,
    threads: Optional[int] = None,
) -> Map: ...
def difference_map(
    model: Union[_Path, Model],
    map: Optional[Union[_Path, Map]] = None,
    half_maps: Optional[Tuple[Union[_Path, Map], Union[_Path, Map]]] = None,
    options: Optional[Dict[str, Any]] = None,
    threads: Optional[int] = None,
    verbose: bool = False,
    max_memory: Optional[str] = None,
) -> DifferenceResult: ...
def main(argv: List[str], program: List[str]) -> int: ...
