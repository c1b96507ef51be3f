#!/usr/bin/env bash
# Builds authorizer.js into plugins/dist/authorizer-js.wasm with componentize-js (pinned in
# package.json / package-lock.json). Works from any directory; needs node and npm.
#
#   bash sdk/js/build.sh
#
# Warm runs are quick: `npm install` runs only when package.json or package-lock.json changed since
# the last install, and the component is rebuilt only when an input is newer than it
# (FORCE=1 rebuilds anyway). No --aot: it downloads a binary at build time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/plugins/dist/authorizer-js.wasm"
cd "$HERE"

# timed, up_to_date
source "$ROOT/sdk/lib.sh"

command -v npm >/dev/null || {
    echo "sdk/js/build.sh: npm is required (apt-get install nodejs npm)" >&2
    exit 1
}

# The stamp records which package.json + package-lock.json node_modules was installed from.
stamp="node_modules/.portico-install-stamp"
inputs_hash() { { cat package.json; cat package-lock.json 2>/dev/null || true; } | sha256sum | cut -d' ' -f1; }
want="$(inputs_hash)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # Not `npm ci`: the lockfile lacks the optional platform packages (other OSes' native
    # bindings) that the registry reachable here does not serve, and `npm ci` refuses a lockfile
    # with missing entries. `npm install` installs the locked versions all the same; --no-save
    # keeps it from rewriting package-lock.json.
    if [ -f package-lock.json ]; then
        timed "npm install" npm install --no-save --no-audit --no-fund --loglevel=error
    else
        timed "npm install" npm install --no-audit --no-fund --loglevel=error
        want="$(inputs_hash)"
    fi
    echo "$want" >"$stamp"
else
    echo "==> npm: node_modules is up to date"
fi

inputs=(authorizer.js package.json package-lock.json build.sh "$ROOT/sdk/lib.sh" "$ROOT"/wit/*.wit)
if up_to_date "$OUT" "${inputs[@]}"; then
    echo "==> componentize-js: $(basename "$OUT") is up to date"
    exit 0
fi

mkdir -p "$(dirname "$OUT")"
# --disable http fetch-event: no `fetch` and no incoming-handler, so the component does not import
# wasi:http (outbound HTTP goes through the portico:plugin/http-client capability instead).
timed "componentize-js" ./node_modules/.bin/componentize-js \
    --wit "$ROOT/wit" --world-name authorizer-core --disable http --disable fetch-event \
    --out "$OUT" authorizer.js
