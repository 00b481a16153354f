"""The ``real_space_diff_map`` command from the Python package: ``pip install`` puts it on the
PATH as a console script, and ``python -m real_space_diff_map`` runs it too. It is the same
program as the standalone binary (the compiled core parses the arguments and runs the job);
only the way a batch starts its entries differs: through this interpreter."""

import sys


def main() -> None:
    from . import _core

    argv = ["real_space_diff_map", *sys.argv[1:]]
    sys.exit(_core.main(argv, [sys.executable, "-m", "real_space_diff_map"]))


if __name__ == "__main__":
    main()
