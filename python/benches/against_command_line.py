"""Times the Python package against the command-line binary on the same entry, alternating
runs in one session, and reports ratios (never absolute targets):

    .venv-test/bin/python python/benches/against_command_line.py MODEL MAP RESOLUTION [RUNS]

Three ways are timed: the command line (read, compute, write), ``difference_map`` on paths
followed by ``result.write`` (the same work), and ``difference_map`` on a map and model already
in memory (no reading; the map is copied once into the computation). Peak memory is the
children's maximum RSS for the command line and this process's for Python.
"""

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import real_space_diff_map as rsdm

ROOT = Path(__file__).resolve().parents[2]


def main():
    model, map_path, resolution = sys.argv[1], sys.argv[2], float(sys.argv[3])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    binary = ROOT / "target" / "release" / "real_space_diff_map"
    out = Path(tempfile.mkdtemp())
    in_memory_map, in_memory_model = rsdm.read_map(map_path), rsdm.read_model(model)
    times = {"command line": [], "python, paths + write": [], "python, in memory": []}
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [str(binary), model, map_path, f"resolution={resolution}", f"output={out / 'cli.ccp4'}", "quiet=true"],
            check=True,
        )
        times["command line"].append(time.perf_counter() - start)
        start = time.perf_counter()
        rsdm.difference_map(model, map_path, resolution=resolution).write(out / "python.ccp4")
        times["python, paths + write"].append(time.perf_counter() - start)
        start = time.perf_counter()
        rsdm.difference_map(in_memory_model, in_memory_map, resolution=resolution)
        times["python, in memory"].append(time.perf_counter() - start)
    same = (out / "cli.ccp4").read_bytes() == (out / "python.ccp4").read_bytes()
    baseline = statistics.median(times["command line"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:24s} median {median:7.2f} s  ratio to the command line {median / baseline:5.2f}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: command line {children:.0f} MiB, python process {own:.0f} MiB")
    print(f"output files byte-identical: {same}")


if __name__ == "__main__":
    main()
