"""Bad inputs raise the right Python exceptions with the command line's messages, and leave no
file behind."""

import numpy as np
import pytest

import real_space_diff_map as rsdm


def test_a_missing_file_is_a_file_not_found_error_naming_it(spike, tmp_path):
    missing = tmp_path / "nowhere.pdb"
    with pytest.raises(FileNotFoundError) as caught:
        rsdm.difference_map(missing, spike["map"], resolution=3.2)
    assert isinstance(caught.value, rsdm.FileError) and isinstance(caught.value, OSError)
    assert caught.value.filename == str(missing)
    assert str(caught.value).startswith(f"{missing}: ")
    with pytest.raises(FileNotFoundError):
        rsdm.read_map(tmp_path / "nowhere.mrc")


def test_a_broken_map_is_a_map_file_error_and_no_output_is_written(spike, tmp_path):
    broken = tmp_path / "broken.mrc"
    broken.write_bytes(spike["map"].read_bytes()[:2000])
    output = tmp_path / "out.ccp4"
    with pytest.raises(rsdm.MapFileError) as caught:
        rsdm.difference_map(spike["model"], broken, resolution=3.2, output=output)
    assert caught.value.filename == str(broken) and isinstance(caught.value, OSError)
    assert str(broken) in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mrc"]


def test_a_model_without_atoms_is_a_model_file_error(spike, tmp_path):
    empty = tmp_path / "empty.pdb"
    empty.write_text("HEADER    NOTHING HERE\nEND\n")
    with pytest.raises(rsdm.ModelFileError) as caught:
        rsdm.read_model(empty)
    assert caught.value.filename == str(empty)


def test_bad_parameters_are_value_errors_with_the_command_lines_words(spike):
    with pytest.raises(ValueError, match="resolution must be a positive number"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'windw'.*window"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, windw=20)
    with pytest.raises(ValueError, match="variant='sideways': unknown variant `sideways`, expected one of"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, variant="sideways")
    # Errors name the Python argument and its type, not a command-line flag.
    with pytest.raises(TypeError, match="window='big': string \"big\", expected a number") as caught:
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, window="big")
    assert "--" not in str(caught.value)
    with pytest.raises(ValueError, match="pictures=-1: integer `-1`, expected a whole number"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, pictures=-1)
    with pytest.raises(TypeError, match="offset=3.5: float `3.5`, expected True or False"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, offset=3.5)
    with pytest.raises(ValueError, match="window must be a positive number of Ångström, got -5"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, window=-5)
    with pytest.raises(ValueError, match="window must be a finite number"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, window=float("nan"))
    with pytest.raises(ValueError, match="fdr= needs half maps"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, fdr=0.01)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, threads=0)
    with pytest.raises(ValueError, match="give output= too"):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, json="r.json")
    with pytest.raises(ValueError, match="half_maps must be a pair"):
        rsdm.difference_map(spike["model"], half_maps=(spike["map"],), resolution=3.2)
    with pytest.raises(TypeError, match="model must be a path"):
        rsdm.difference_map(42, spike["map"], resolution=3.2)


def test_the_resolution_recorded_in_the_model_is_used_and_its_absence_named(spike):
    result = rsdm.difference_map(spike["model"], spike["map"])
    assert result.report["parameters"]["resolution"] == 3.2
    positions = rsdm.read_model(spike["model"]).positions
    model = rsdm.Model(positions, ["C"] * len(positions), np.full(len(positions), 30.0))
    with pytest.raises(ValueError, match="resolution is required.*in-memory model"):
        rsdm.difference_map(model, spike["map"])


def test_bad_arrays_are_value_errors(spike):
    with pytest.raises(ValueError, match="three dimensions"):
        rsdm.Map(np.zeros((4, 4)), 1.0)
    with pytest.raises(ValueError, match="not a finite number at \\[1, 2, 3\\]"):
        values = np.zeros((4, 5, 6), dtype=np.float32)
        values[1, 2, 3] = np.nan
        rsdm.Map(values, 1.0)
    with pytest.raises(ValueError, match="voxel_size must be positive"):
        rsdm.Map(np.zeros((4, 4, 4)), (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="voxel_size="):
        rsdm.difference_map(spike["model"], np.zeros((4, 4, 4)), resolution=3.2)
    with pytest.raises(ValueError, match="n x 3"):
        rsdm.Model(np.zeros((5, 2)), ["C"] * 5, np.ones(5))
    with pytest.raises(ValueError, match="elements has 4 entries for 5 positions"):
        rsdm.Model(np.zeros((5, 3)), ["C"] * 4, np.ones(5))
    with pytest.raises(ValueError, match="elements\\[1\\] = \"Qq\" is not an element"):
        rsdm.Model(np.zeros((2, 3)), ["C", "Qq"], np.ones(2))
    with pytest.raises(ValueError, match="atom 1 has a position"):
        rsdm.Model(np.array([[0, 0, 0], [np.inf, 0, 0]]), ["C", "N"], np.ones(2))


def test_half_maps_on_different_grids_are_refused(spike, tmp_path):
    on_disk = rsdm.read_map(spike["map"])
    other = rsdm.Map(on_disk.array[:, :, :40], on_disk.voxel_size, on_disk.origin)
    with pytest.raises(ValueError, match="does not share a frame"):
        rsdm.difference_map(spike["model"], half_maps=(on_disk, other), resolution=3.2)


def test_writing_over_an_input_is_refused(spike, tmp_path):
    copy = tmp_path / "map.mrc"
    copy.write_bytes(spike["map"].read_bytes())
    result = rsdm.difference_map(spike["model"], copy, resolution=3.2)
    with pytest.raises(ValueError, match="refusing to write"):
        result.write(copy)
    assert copy.read_bytes() == spike["map"].read_bytes()
    # A missing folder is created; one that cannot be (a file is in the way) is named.
    result.write(tmp_path / "new" / "folder" / "diff.mrc")
    assert (tmp_path / "new" / "folder" / "diff.mrc").stat().st_size > 1024
    (tmp_path / "a_file").write_text("in the way")
    with pytest.raises(OSError, match="a_file.*cannot create this folder"):
        result.write(tmp_path / "a_file" / "diff.mrc")


def test_the_readme_example_runs(tmp_path, monkeypatch):
    """The Python example in docs/python.md, run as written (from the repository root, writing into
    a temporary folder)."""
    from conftest import ROOT

    text = (ROOT / "docs" / "python.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    example = example.replace('"difference.mrc"', repr(str(tmp_path / "difference.mrc")))
    example = example.replace('"model_map.mrc"', repr(str(tmp_path / "model_map.mrc")))
    exec(compile(example, "docs/python.md", "exec"), {})
    assert (tmp_path / "difference.mrc").exists() and (tmp_path / "model_map.mrc").exists()


def test_a_map_too_big_for_the_memory_limit_is_a_limit_error(spike, tmp_path):
    # The spike segment's header with a 1000^3 grid of mode-0 voxels, compressed zeros behind it:
    # refused from the header, before anything of that size is read or allocated.
    import gzip
    import struct

    header = bytearray(spike["map"].read_bytes()[:1024])
    struct.pack_into("<3i", header, 0, 1000, 1000, 1000)
    struct.pack_into("<i", header, 12, 0)
    struct.pack_into("<3i", header, 28, 1000, 1000, 1000)
    struct.pack_into("<3f", header, 40, 1000.0, 1000.0, 1000.0)
    bomb = tmp_path / "bomb.mrc.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as handle:
        handle.write(bytes(header))
        handle.write(b"\0" * (1 << 20))
    with pytest.raises(rsdm.LimitError) as caught:
        rsdm.difference_map(spike["model"], bomb, resolution=3.2, max_memory="1G")
    assert caught.value.filename == str(bomb) and isinstance(caught.value, OSError)
    assert "limit" in str(caught.value)
