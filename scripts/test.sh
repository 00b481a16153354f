#!/usr/bin/env bash
# The test suite, with everything it needs on a fresh machine: Snakemake from PyPI (into
# .venv-test, for the workflow test), then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/snakemake ]; then
  if ! { python3 -m venv .venv-test && .venv-test/bin/pip install --quiet snakemake; }; then
    echo "warning: could not install snakemake from PyPI; the workflow test will be skipped" >&2
  fi
fi
if [ -x .venv-test/bin/snakemake ]; then
  export SNAKEMAKE="$PWD/.venv-test/bin/snakemake"
fi
cargo test
