#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo into .venv-test, from PyPI: Snakemake (the
# workflow test), gemmi (the independent reader of the differential tests), maturin, pytest
# and NumPy (tests/python_package.rs builds the Python package's wheel with maturin, installs it
# here and runs its pytest suite) and Playwright's Python driver (tests/pages_in_browser.rs
# opens the HTML pages in headless Chromium). Chromium itself comes from Debian's package,
# installed here when this runs as root with apt-get (it is never downloaded by Playwright).
# The tests find all of this there; a failure here only means those tests say SKIPPED.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/python ]; then
  python3 -m venv .venv-test || echo "warning: could not create .venv-test; tests needing Python will be skipped" >&2
fi
if [ -x .venv-test/bin/python ]; then
  for package in snakemake gemmi maturin pytest numpy playwright; do
    if ! .venv-test/bin/python -c "import $package" 2>/dev/null; then
      .venv-test/bin/pip install --quiet "$package" ||
        echo "warning: could not install $package from PyPI; the tests that need it will be skipped" >&2
    fi
  done
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } ||
    echo "warning: could not install chromium; the browser tests will be skipped" >&2
fi
exit 0
