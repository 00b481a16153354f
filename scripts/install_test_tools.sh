#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo: Snakemake from PyPI into .venv-test (for the
# workflow test, which finds it there). A failure only means that test is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/snakemake ]; then
  if ! { python3 -m venv .venv-test && .venv-test/bin/pip install --quiet snakemake; }; then
    echo "warning: could not install snakemake from PyPI; the workflow test will be skipped" >&2
  fi
fi
exit 0
