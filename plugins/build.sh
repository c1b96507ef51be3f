#!/usr/bin/env bash
# Builds Portico's plugins into plugins/dist/<name>.wasm, one WebAssembly component each.
#
#   bash plugins/build.sh          # the Rust plugins and fixtures (plugins/*/)
#   bash plugins/build.sh --all    # also the JavaScript and Python SDK templates
#                                  #   (dist/authorizer-js.wasm, dist/authorizer-py.wasm)
#
# Works from any directory, installs what it needs (the wasm32-wasip2 target; npm packages and a
# Python venv for --all), and is quick when nothing changed.
#
# Target directory: the plugins build for wasm32-wasip2 with their own profile and lockfile, so
# they never share a target directory with the host. It is, in order:
#   $PLUGINS_TARGET_DIR                  if set;
#   $CARGO_TARGET_DIR/plugins            if CARGO_TARGET_DIR is set (CI keeps it between runs);
#   plugins/target                       otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLUGINS="$ROOT/plugins"
DIST="$PLUGINS/dist"
if [ -n "${PLUGINS_TARGET_DIR:-}" ]; then
    TARGET_DIR="$PLUGINS_TARGET_DIR"
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
    TARGET_DIR="$CARGO_TARGET_DIR/plugins"
else
    TARGET_DIR="$PLUGINS/target"
fi
# Absolute, since cargo runs from plugins/ below.
TARGET_DIR="$(realpath -m "$TARGET_DIR")"

all=false
for arg in "$@"; do
    case "$arg" in
        --all) all=true ;;
        -h | --help)
            sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "build.sh: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

log() { printf '==> %s\n' "$*"; }

# timed
source "$ROOT/sdk/lib.sh"

mkdir -p "$DIST"

log "rust: wasm32-wasip2 target"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2

log "rust: cargo build --release (target dir $TARGET_DIR)"
# Cargo reads config from the current directory, not from the manifest's: build from plugins/ so
# that plugins/.cargo/config.toml (the wasm target and the lean-guest link flags) applies.
# `--target` is explicit all the same.
#
# Two builds, so that cargo does not unify features across them: the first-party engines
# (portico-vtl and portico-schema turn on serde_json's preserve_order and float_roundtrip), and
# every other plugin, built as a plugin outside this repository would be. Built together, the SDK
# plugins got the engines' serde_json: a fresh authorizer-header call ran 6 500 more instructions
# and its memory image was 4.7 KB larger (benches/instructions.sh, SCENARIO=authz).
ENGINES=(mapper-vtl validator-jsonschema)
cd "$PLUGINS"
cargo_build() {
    cargo build --release --locked --target wasm32-wasip2 \
        --manifest-path "$PLUGINS/Cargo.toml" --target-dir "$TARGET_DIR" "$@"
}
timed "cargo build (engines)" cargo_build "${ENGINES[@]/#/--package=}"
timed "cargo build (plugins)" cargo_build --workspace "${ENGINES[@]/#/--exclude=}"

# Every plugin is a directory of plugins/ with a Cargo.toml, named like its crate; its component
# is <crate_name>.wasm.
built=()
for manifest in "$PLUGINS"/*/Cargo.toml; do
    name="$(basename "$(dirname "$manifest")")"
    artifact="$TARGET_DIR/wasm32-wasip2/release/${name//-/_}.wasm"
    if [ ! -f "$artifact" ]; then
        echo "build.sh: $name built no component at $artifact" >&2
        exit 1
    fi
    cp "$artifact" "$DIST/$name.wasm"
    built+=("$name")
done

if $all; then
    log "javascript: sdk/js"
    timed "javascript total" bash "$ROOT/sdk/js/build.sh"
    built+=(authorizer-js)
    log "python: sdk/python"
    timed "python total" bash "$ROOT/sdk/python/build.sh"
    built+=(authorizer-py)
fi

log "components in ${DIST#"$ROOT"/}"
for name in "${built[@]}"; do
    printf '%10d  %s.wasm\n' "$(stat -c %s "$DIST/$name.wasm")" "$name"
done
