#!/usr/bin/env bash
# Builds real_space_diff_map as one statically linked executable with no shared-library
# dependencies (glibc linked in with crt-static), so that it keeps working across the OS and
# library upgrades of a cluster, and so that a container needs nothing else (Containerfile).
#
#   scripts/build_static.sh            # -> target/x86_64-unknown-linux-gnu/release/real_space_diff_map
#
# RSDM_STATIC_PROFILE picks another Cargo profile (the tests use `static-check`, a quicker
# build of the same program; see Cargo.toml).
#
# `--target` keeps these flags away from the host build (build scripts and proc macros stay
# dynamic). The program needs nothing at run time that static glibc cannot give: no name
# lookups, no locale, no dlopen; the pictures' font is embedded.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${RSDM_STATIC_TARGET:-x86_64-unknown-linux-gnu}
profile=${RSDM_STATIC_PROFILE:-release}
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  CARGO_PROFILE_RELEASE_DEBUG=0 \
  cargo build --profile "$profile" --locked --target "$target" --bin real_space_diff_map "$@"
echo "target/$target/$profile/real_space_diff_map"
