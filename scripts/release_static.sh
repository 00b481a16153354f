#!/usr/bin/env bash
# Builds the static Linux binary for a release and packs it with its checksum:
#
#   scripts/release_static.sh [OUT_DIR]     # default OUT_DIR: target/release-artefacts
#
# writes OUT_DIR/real_space_diff_map-VERSION-x86_64-linux.tar.gz (the program, README.md,
# CONTRIBUTING.md, the testdata example) and the same name + .sha256, to attach to the release.
# Before packing, it checks what a user relies on: no program interpreter (PT_INTERP) and no
# shared library needed, and the README's first example finding the removed heme as peak 1.
# RSDM_STATIC_PROFILE picks a quicker Cargo profile for a trial run (the tests use
# `static-check`); a release uses the default, `release`.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=$(realpath -m "${1:-target/release-artefacts}")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
binary=$(bash scripts/build_static.sh | tail -n 1)

if readelf --program-headers "$binary" | grep -q INTERP; then
  echo "error: $binary asks for a program interpreter: it is not static" >&2
  exit 1
fi
if readelf --dynamic "$binary" | grep -q NEEDED; then
  echo "error: $binary needs shared libraries:" >&2
  readelf --dynamic "$binary" | grep NEEDED >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name="real_space_diff_map-$version-x86_64-linux"
mkdir -p "$work/$name/testdata"
cp "$binary" "$work/$name/real_space_diff_map"
cp README.md CONTRIBUTING.md "$work/$name/"
cp -r testdata/ligand_pocket "$work/$name/testdata/"
# The README's first example, run by the packed program from the packed folder.
( cd "$work/$name" && ./real_space_diff_map testdata/ligand_pocket/model.pdb testdata/ligand_pocket/map.mrc \
    resolution=3.2 output="$work/check.ccp4" pictures=0 viewer=false ) > "$work/check.log"
grep -Eq '^ +1 +[0-9.]+ ' "$work/check.log" || { echo "error: the packed program found no peak:" >&2; cat "$work/check.log" >&2; exit 1; }

mkdir -p "$out_dir"
tar -C "$work" -czf "$out_dir/$name.tar.gz" "$name"
( cd "$out_dir" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256" )
echo "$out_dir/$name.tar.gz"
