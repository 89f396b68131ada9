#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build faxserver, and run the server on its
# embedded defaults (SQLite under ./data, API on 127.0.0.1:8080, SIP on 0.0.0.0:5060). The
# first start prints the generated admin API key once. Settings: README.md, "Configuration".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-$(nproc)}"
cargo build --release --locked --bin faxserver
exec target/release/faxserver serve "$@"
