#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build faxserver, and run its self-test
# (a test chart through every fax mode, back to back, in process).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-$(nproc)}"
cargo build --release --locked --bin faxserver
exec target/release/faxserver selftest "$@"
