#!/usr/bin/env bash
# Builds the container image `real_space_diff_map:VERSION` from Containerfile with podman:
#
#   scripts/build_container.sh                  # the image, in podman's vfs storage
#   scripts/build_container.sh --save FILE.tar  # also a docker-archive for Apptainer:
#   apptainer build real_space_diff_map.sif docker-archive:FILE.tar
#
# The image holds only the static program, the workflow and a static busybox (for `bash -c`),
# from a context folder staged under target/, so that podman never reads the repository's build
# trees. `--isolation chroot --storage-driver vfs` build without user namespaces or overlay
# mounts, which these machines (and many CI runners) do not give. busybox comes from Debian's
# busybox-static, installed here when missing only with RSDM_TEST_SYSTEM=1 (as root with
# apt-get). RSDM_PODMAN_ROOT=DIR keeps podman's image storage in DIR instead of the system's
# (the tests use a folder of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
save=""
if [ "${1:-}" = "--save" ]; then
  save=${2:?--save needs a file}
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image=real_space_diff_map:$version
command -v podman >/dev/null || { echo "build_container: podman is not installed (apt-get install podman)" >&2; exit 3; }
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  if [ "${RSDM_TEST_SYSTEM:-0}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null 2>&1 || true
  fi
  busybox=/bin/busybox
fi
[ -x "$busybox" ] || { echo "build_container: no static busybox (apt-get install busybox-static)" >&2; exit 3; }
storage=(--storage-driver vfs)
if [ -n "${RSDM_PODMAN_ROOT:-}" ]; then
  storage+=(--root "$RSDM_PODMAN_ROOT/storage" --runroot "$RSDM_PODMAN_ROOT/run")
fi
binary=$(scripts/build_static.sh | tail -1)
context=target/container-context
rm -rf "$context"
mkdir -p "$context/bin-links"
cp "$binary" "$context/real_space_diff_map"
cp -r workflow "$context/workflow"
cp "$busybox" "$context/busybox"
for tool in sh env cat ls mkdir rm mv cp test; do
  ln -s busybox "$context/bin-links/$tool"
done
# busybox has no "bash" applet; its sh (ash) takes the `bash -c 'set -euo pipefail; ...'` that
# Snakemake runs.
printf '#!/bin/sh\nexec /bin/busybox sh "$@"\n' >"$context/bin-links/bash"
chmod 755 "$context/bin-links/bash"
podman "${storage[@]}" build --isolation chroot -f "$PWD/Containerfile" -t "$image" "$context" >&2
if [ -n "$save" ]; then
  rm -f "$save"
  podman "${storage[@]}" save --format docker-archive -o "$save" "$image" >&2
fi
echo "$image"
