"""The Python package runs the command line's pipeline: same maps, same report, same file."""

import json

import numpy as np
import pytest

import real_space_diff_map as rsdm
from conftest import SHARED, run_cli


def cli_outputs(binary, tmp_path, model, maps, resolution, *words):
    """Runs the command line; returns its difference map (as read back) and its JSON report."""
    output, report = tmp_path / "cli.ccp4", tmp_path / "cli.json"
    done = run_cli(binary, model, *maps, f"resolution={resolution}", f"output={output}", f"json={report}", *words)
    assert done.returncode == 0, done.stderr
    return output, json.loads(report.read_text())


def same_science(python_report, cli_report):
    """The parts of two reports that the computation decides (not timings, files or memory)."""
    for key in ["parameters", "map", "model", "placement", "fit", "peak_search", "peaks", "residues", "warnings"]:
        python_part, cli_part = python_report[key], cli_report[key]
        if key == "parameters":
            python_part, cli_part = dict(python_part), dict(cli_part)
            python_part.pop("outputs"), cli_part.pop("outputs")
        assert python_part == cli_part, key


def test_result_equals_the_command_lines_map_and_report(binary, spike, tmp_path):
    # No options on either side: the report's parameters show that Python's defaults (the
    # library's, through the serde form) are the command line's (clap's).
    cli_map, cli_report = cli_outputs(binary, tmp_path, spike["model"], [spike["map"]], spike["resolution"])
    result = rsdm.difference_map(spike["model"], spike["map"], resolution=spike["resolution"])
    expected = rsdm.read_map(cli_map)
    assert result.map.dtype == np.float32 and result.map.shape == expected.shape == (47, 40, 48)
    assert np.max(np.abs(result.map - expected.array)) <= 1e-6
    assert result.origin == expected.origin and result.voxel_size == expected.voxel_size
    assert result.cell == expected.cell
    assert result.units == "envelope_sigma" == cli_report["fit"]["units"]
    same_science(result.report, cli_report)
    assert result.peaks == cli_report["peaks"] and result.residues == cli_report["residues"]
    # The same writer, labels and frame: the file is the command line's, byte for byte.
    written = tmp_path / "python.ccp4"
    result.write(written)
    assert written.read_bytes() == cli_map.read_bytes()


def test_the_map_is_a_view_of_the_results_buffer_not_a_copy(spike):
    result = rsdm.difference_map(spike["model"], spike["map"], resolution=3.2)
    first, second = result.map, result.map
    assert np.shares_memory(first, second) and first.flags["C_CONTIGUOUS"]
    assert np.shares_memory(result.difference.array, first)


def test_options_are_the_command_lines_keys(binary, spike, tmp_path):
    words = ["window=15", "variant=both", "sigma_scope=box", "peak_sigma=3.5"]
    cli_map, cli_report = cli_outputs(binary, tmp_path, spike["model"], [spike["map"]], 3.2, *words)
    # NumPy scalars are numbers like Python's.
    result = rsdm.difference_map(
        spike["model"], spike["map"], resolution=3.2, window=np.float32(15), variant="both", sigma_scope="box",
        peak_sigma=3.5, max_peaks=np.int64(1000),
    )
    assert set(result.maps) == {"complex", "amplitude"}
    assert result.units == "box_sigma"
    assert np.max(np.abs(result.map - rsdm.read_map(cli_map).array)) <= 1e-6
    amplitude = rsdm.read_map(tmp_path / "cli_amplitude.ccp4")
    assert np.max(np.abs(result.maps["amplitude"].array - amplitude.array)) <= 1e-6
    same_science(result.report, cli_report)


def test_output_writes_what_the_command_line_writes(spike, tmp_path):
    output = tmp_path / "diff.mrc"
    result = rsdm.difference_map(
        spike["model"], spike["map"], resolution=3.2, output=output, json=tmp_path / "r.json", csv=tmp_path / "t"
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    # Beside the map, as on the command line: the viewer scripts and the peak pictures.
    assert names == [
        "diff.mrc", "diff_chimerax.cxc", "diff_coot.py", "diff_pictures", "r.json", "t_peaks.csv", "t_residues.csv"
    ]
    pictures = [f"diff_pictures/peak_{rank}.png" for rank in range(1, min(6, len(result.peaks)) + 1)]
    assert sorted(p.name for p in (tmp_path / "diff_pictures").iterdir()) == sorted(p.split("/")[1] for p in pictures)
    expected = ["diff.mrc", "t_peaks.csv", "t_residues.csv", "diff_chimerax.cxc", "diff_coot.py", *pictures, "r.json"]
    assert [str(p) for p in result.outputs] == [str(tmp_path / n) for n in expected]
    assert json.loads((tmp_path / "r.json").read_text())["outputs"][0]["path"] == str(output)


def test_threads_give_the_same_map(spike):
    default = rsdm.difference_map(spike["model"], spike["map"], resolution=3.2)
    one = rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, threads=1)
    assert np.array_equal(default.map, one.map)


@pytest.mark.shared
def test_half_maps_equal_the_command_line_on_a_synthetic_entry(binary, tmp_path):
    case = SHARED / "synthetic" / "4a7h"
    model, halves = case / "model_trunc.pdb", [case / "half1.mrc", case / "half2.mrc"]
    words = [f"half_map={h}" for h in halves]
    cli_map, cli_report = cli_outputs(binary, tmp_path, model, [], 3.2, *words)
    result = rsdm.difference_map(model, resolution=3.2, half_maps=tuple(halves))
    assert result.units == "half_map_z"
    assert np.max(np.abs(result.map - rsdm.read_map(cli_map).array)) <= 1e-6
    same_science(result.report, cli_report)
    assert all(p["q_value"] is not None for p in result.peaks)


@pytest.mark.shared
@pytest.mark.parametrize("entry", ["4a7h", "1ahq_heme"])
def test_single_map_equals_the_command_line_on_synthetic_entries_in_both_formats(binary, tmp_path, entry):
    case = SHARED / "synthetic" / entry
    for model in [case / "model_trunc.pdb", case / "model_trunc.cif"]:
        cli_map, cli_report = cli_outputs(binary, tmp_path, model, [case / "map.mrc"], 3.2)
        result = rsdm.difference_map(model, case / "map.mrc", resolution=3.2)
        assert np.max(np.abs(result.map - rsdm.read_map(cli_map).array)) <= 1e-6, model
        same_science(result.report, cli_report)


@pytest.mark.shared
def test_a_real_emdb_entry_with_header_quirks(binary, tmp_path):
    """A deposited map and model from ../shared/data (the first entry with both)."""
    entries = sorted(p for p in (SHARED / "data").iterdir() if p.is_dir())
    for entry in entries:
        maps = sorted(entry.glob("*.map")) + sorted(entry.glob("*.mrc")) + sorted(entry.glob("*.map.gz"))
        models = sorted(entry.glob("*.cif")) + sorted(entry.glob("*.pdb"))
        if maps and models:
            break
    else:
        pytest.fail("no entry in ../shared/data with a map and a model")
    model, map_path = models[0], maps[0]
    recorded = rsdm.read_model(model).resolution
    resolution = recorded if recorded else 3.5
    cli_map, cli_report = cli_outputs(binary, tmp_path, model, [map_path], resolution)
    result = rsdm.difference_map(model, map_path, resolution=resolution)
    assert np.max(np.abs(result.map - rsdm.read_map(cli_map).array)) <= 1e-6
    same_science(result.report, cli_report)
