#!/usr/bin/env bash
# Builds app.py into plugins/dist/authorizer-py.wasm with componentize-py 0.25.1, installed in a
# venv at sdk/python/.venv. Works from any directory; needs python3 with venv.
#
#   bash sdk/python/build.sh
#
# Warm runs are quick: the venv is reused while it has the pinned componentize-py, and the
# component is rebuilt only when an input is newer than it (FORCE=1 rebuilds anyway).
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/plugins/dist/authorizer-py.wasm"
VENV="$HERE/.venv"
cd "$HERE"

# timed, up_to_date
source "$ROOT/sdk/lib.sh"

install() {
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
}

if [ "$("$VENV/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        else
            echo "sdk/python/build.sh: python3 with venv is required (apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
    rm -rf "$VENV"
    timed "pip install componentize-py" install
else
    echo "==> pip: componentize-py $COMPONENTIZE_PY_VERSION is installed"
fi

inputs=(app.py build.sh "$ROOT/sdk/lib.sh" "$ROOT"/wit/*.wit)
if up_to_date "$OUT" "${inputs[@]}"; then
    echo "==> componentize-py: $(basename "$OUT") is up to date"
    exit 0
fi

mkdir -p "$(dirname "$OUT")"
timed "componentize-py" "$VENV/bin/componentize-py" --wit-path "$ROOT/wit" --world authorizer-core \
    componentize app --python-path "$HERE" --output "$OUT"
