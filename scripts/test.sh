#!/usr/bin/env bash
# Quick start, command 2: install what is missing, then run every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-$(nproc)}"
# Incremental state doubles the target directory and buys nothing on a one-shot run.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# PostgreSQL for the store's tests: Debian's postgresql package creates cluster 15/main. Each
# test creates and drops its own database; without a cluster the URL stays unset and those
# tests print SKIPPED.
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    # Exit code 2 means "already running"; anything else is a real failure.
    $sudo pg_ctlcluster 15 main start 2>/dev/null || [ $? -eq 2 ] || {
        echo "PostgreSQL would not start" >&2
        exit 1
    }
    for _ in $(seq 1 30); do
        if $sudo runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p 5432; then break; fi
        sleep 0.5
    done
    # CREATE ROLE has no IF NOT EXISTS; ask first so that reruns are quiet and idempotent.
    if [ "$($sudo runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'faxtest'")" != "1" ]; then
        $sudo runuser -u postgres -- psql -qc "CREATE ROLE faxtest LOGIN PASSWORD 'faxtest' SUPERUSER"
    fi
    export FAXSERVER_TEST_DATABASE_URL="${FAXSERVER_TEST_DATABASE_URL:-postgres://faxtest:faxtest@127.0.0.1:5432/postgres}"
else
    echo "no PostgreSQL 15 cluster: the store's PostgreSQL tests will be SKIPPED" >&2
fi
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --no-fail-fast
