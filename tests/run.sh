#!/usr/bin/env bash
# Runs every check and test Portico has, on a fresh machine or a warm one.
#
#   bash tests/run.sh
#
# It installs what the tests need first (the wasm32-wasip2 target, curl for the HTTP/2 upgrade
# tests, redis-server for the cluster tests), builds the WebAssembly plugins and the JavaScript and Python SDK templates
# (plugins/build.sh --all: npm and pip fetch componentize-js and componentize-py), then runs
# rustfmt, clippy with warnings as errors, and the whole test suite: unit tests, and the
# black-box tests in tests/ that start the real gateway on 127.0.0.1:0.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

log "prerequisites"
rustup target add wasm32-wasip2
rustup component add rustfmt clippy >/dev/null 2>&1 || true
missing=()
command -v curl >/dev/null || missing+=(curl)
# The cluster tests (tests/traffic_cluster.rs) start their own redis-server.
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "missing: ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

log "plugins and SDK templates (wasm32-wasip2)"
bash plugins/build.sh --all

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked

log "all tests passed"
