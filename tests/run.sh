#!/usr/bin/env bash
# Runs every check and test Portico has, on a fresh machine or a warm one.
#
#   bash tests/run.sh
#
# It installs what the tests need first (the wasm32-wasip2 target, curl for the HTTP/2 upgrade
# and TLS tests, openssl's s_client for the TLS policy tests, redis-server for the cluster tests, which start their own on a free loopback port),
# builds the WebAssembly plugins and the JavaScript and Python SDK templates
# (plugins/build.sh --all: npm and pip fetch componentize-js and componentize-py), botocore
# for the SigV4 tests and the AWS CLI for the control-plane test (tests/.venv), then runs
# rustfmt, clippy with warnings as errors, and the whole test suite: unit tests, and the
# black-box tests in tests/ that start the real gateway on 127.0.0.1:0.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

log "prerequisites"
# A full run writes several GB of build output; say where and how much room there is, so that a
# "No space left on device" from the linker is recognised at once.
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
df -h "$target" | awk -v t="$target" 'NR == 2 { print "build output in " t ": " $4 " free on " $6 }'
rustup target add wasm32-wasip2
rustup component add rustfmt clippy >/dev/null 2>&1 || true
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || missing+=(redis-server)
# python3 with venv: componentize-py (sdk/python) and botocore (the SigV4 tests) live in venvs.
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # --no-install-recommends: no redis-tools, and no service started by the package.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "missing: ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

log "plugins and SDK templates (wasm32-wasip2)"
bash plugins/build.sh --all

# The SigV4 tests sign requests with botocore, as the AWS CLI does (tests/sigv4_client.py);
# the control-plane test drives the admin API with the AWS CLI itself (tests/aws_cli.rs).
# awscli 1.x pins its botocore: these two versions go together.
BOTOCORE_VERSION=1.44.8
AWSCLI_VERSION=1.46.3
log "botocore $BOTOCORE_VERSION and awscli $AWSCLI_VERSION (tests/.venv)"
if ! tests/.venv/bin/python -c "import botocore, awscli, sys; sys.exit(botocore.__version__ != '$BOTOCORE_VERSION' or awscli.__version__ != '$AWSCLI_VERSION')" 2>/dev/null; then
    rm -rf tests/.venv
    python3 -m venv tests/.venv
    tests/.venv/bin/pip install --quiet --disable-pip-version-check \
        "botocore==$BOTOCORE_VERSION" "awscli==$AWSCLI_VERSION"
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked

log "all tests passed"
