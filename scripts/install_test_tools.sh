#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo into .venv-test, from PyPI: Snakemake (the
# workflow test), gemmi (the independent reader of the differential tests), and maturin, pytest
# and NumPy (tests/python_package.rs builds the Python package's wheel with maturin, installs it
# here and runs its pytest suite). The tests find them there; a failure here only means those
# tests say SKIPPED.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/python ]; then
  python3 -m venv .venv-test || echo "warning: could not create .venv-test; tests needing Python will be skipped" >&2
fi
if [ -x .venv-test/bin/python ]; then
  for package in snakemake gemmi maturin pytest numpy; do
    if ! .venv-test/bin/python -c "import $package" 2>/dev/null; then
      .venv-test/bin/pip install --quiet "$package" ||
        echo "warning: could not install $package from PyPI; the tests that need it will be skipped" >&2
    fi
  done
fi
exit 0
