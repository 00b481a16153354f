"""Fixtures for the Python package's tests: the repository's test data, the command-line binary
(to compare against), and ../shared when it sits beside the checkout.

Run from the repository root after installing the package (``cargo test --test python_package``
builds the wheel, installs it into .venv-test and runs this suite).
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
SHARED = Path(os.environ.get("RSDM_SHARED", ROOT.parent / "shared"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``shared`` skip, saying why, where ../shared is absent; where the harness
    says it is present (RSDM_REQUIRE_SHARED=1), a missing folder is an error instead."""
    if (SHARED / "data").is_dir():
        return
    if os.environ.get("RSDM_REQUIRE_SHARED") == "1":
        raise pytest.UsageError(f"RSDM_REQUIRE_SHARED=1 but {SHARED} has no data/")
    skip = pytest.mark.skip(reason=f"needs ../shared (not found at {SHARED})")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def binary():
    """The command-line program built from this checkout."""
    path = Path(os.environ.get("RSDM_BINARY", ROOT / "target" / "release" / "real_space_diff_map"))
    if not path.exists():
        pytest.fail(f"the command-line binary {path} is missing: build it (cargo build --release) or set RSDM_BINARY")
    return path


@pytest.fixture(scope="session")
def spike():
    """The small real example: EMD-21457 segment and the 6VYB N-terminal domain without its NAGs."""
    return {"model": TESTDATA / "6vyb_Ndom_noNAG.pdb", "map": TESTDATA / "emd_21457_seg.mrc", "resolution": 3.2}


def run_cli(binary, *words, cwd=None):
    """Runs the command line; returns the completed process (check its returncode)."""
    return subprocess.run([str(binary), *map(str, words), "quiet=true"], capture_output=True, text=True, cwd=cwd)
