#!/usr/bin/env bash
# Instructions per proxied request: the gateway under valgrind's callgrind, one worker, counted
# over N requests of the plain `http_proxy` route to an nginx upstream (or of the mapping
# scenario, SCENARIO below). Unlike requests per second, the count is the same from run to run
# (within ~0.1 %) whatever else the machine is doing, so it shows a change of a few percent that
# load.sh's noise hides. It counts user-space
# instructions of the gateway process only: not the kernel, not cache misses, not contention
# between cores (load.sh measures those).
#
# Usage:  bash benches/instructions.sh
# Environment (all optional):
#   REQUESTS=4000     requests counted (after 500 of warm-up)
#   CONNECTIONS=4     h2load connections
#   PORTICO_BIN=PATH  the binary to count (default: the release build; SKIP_BUILD=1 to not build)
#   KEEP_DIR=PATH     keep the configs, logs and the callgrind profile
#   SCENARIO=plain    plain: GET through `http_proxy`; post: lib.sh's ~1 KB order POSTed through
#                     `http_proxy`; mapped: the same POST validated, mapped by VTL templates both
#                     ways, through an `http` integration (load.sh's portico-post and -mapped);
#                     authz, authz-reuse: the plain GET behind the Rust TOKEN authorizer
#                     (plugins/dist/authorizer-header.wasm), result TTL 0, fresh or reused
#                     instances (load.sh's portico-authz and -authz-reuse)
#
# The pooling allocator reserves address space for every instance slot, more than valgrind can
# map; the gateway file here asks for one (`plugin_instances: 1`), which the authz scenarios'
# one authorizer call at a time fits.
# Installs nginx, h2load (nghttp2-client), valgrind, curl and python3 when missing (root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-4000}
CONNECTIONS=${CONNECTIONS:-4}
KEEP_DIR=${KEEP_DIR:-}
SCENARIO=${SCENARIO:-plain}

LOG_TAG=instructions
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

ensure_tools nginx h2load valgrind python3 curl
NGINX=$(command -v nginx)
bench_workdir
portico_binary

read -r UP_PORT PT_PORT ADMIN_PORT < <(free_ports 3)
start_upstream

LOAD=(--h1)
case $SCENARIO in
plain)
    plain_api >"$WORK/api.yaml"
    URL=http://127.0.0.1:$PT_PORT/bench/item.json
    ;;
post | mapped)
    mapped_api >"$WORK/api.yaml"
    order_body "$WORK/order.lua" "$WORK/order.json"
    [[ $SCENARIO == post ]] && URL=http://127.0.0.1:$PT_PORT/bench/plain/o-1234?dryRun=true
    [[ $SCENARIO == mapped ]] && URL=http://127.0.0.1:$PT_PORT/bench/mapped/o-1234?dryRun=true
    LOAD+=(-d "$WORK/order.json" -H 'content-type: application/json')
    ;;
authz | authz-reuse)
    # load.sh's portico-authz and -reuse: the plain route behind the Rust header authorizer,
    # result caching off, so that every request calls it.
    instances=fresh
    [[ $SCENARIO == authz-reuse ]] && instances=reuse
    PLUGINS=$(header_authorizer "$instances")
    plain_api auth >"$WORK/api.yaml"
    URL=http://127.0.0.1:$PT_PORT/bench/item.json
    LOAD+=(-H 'authorization: bench-token')
    ;;
*) die "SCENARIO must be plain, post, mapped, authz or authz-reuse, not \"$SCENARIO\"" ;;
esac
{
    printf 'workers: 1\nplugin_instances: 1\nlisteners:\n  - address: 127.0.0.1:%s\n' "$PT_PORT"
    bench_gateway "$WORK/data" "${PLUGINS:-}"
} >"$WORK/gateway.yaml"

PROFILE=$WORK/callgrind.out
valgrind --tool=callgrind --callgrind-out-file="$PROFILE" \
    "$PORTICO" serve --config "$WORK/gateway.yaml" --admin "127.0.0.1:$ADMIN_PORT" \
    >"$WORK/portico.stdout" 2>"$WORK/portico.stderr" &
VG_PID=$!
PIDS+=("$VG_PID")
for ((i = 0; i < 1200; i++)); do
    ok=$(h2load "${LOAD[@]}" -n 1 "$URL" 2>/dev/null | grep -c '^status codes: 1 2xx' || true)
    ((ok)) && break
    kill -0 "$VG_PID" 2>/dev/null || die "portico exited: $(tail -n 20 "$WORK/portico.stderr")"
    sleep 0.1
done
((ok)) || die "portico under valgrind did not answer 2xx at $URL"

h2load "${LOAD[@]}" -n 500 -c "$CONNECTIONS" -t 1 "$URL" >/dev/null
callgrind_control -z "$VG_PID" >/dev/null 2>&1
out=$(h2load "${LOAD[@]}" -n "$REQUESTS" -c "$CONNECTIONS" -t 1 "$URL")
callgrind_control -d "$VG_PID" >/dev/null 2>&1
ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
[[ $ok == "$REQUESTS" ]] || die "only ${ok:-0} of $REQUESTS requests answered 2xx: $out"

dump=$(ls "$PROFILE".* 2>/dev/null | sort | head -n 1)
[[ -n $dump ]] || die "callgrind wrote no dump"
total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
printf 'instructions per request: %s (%s instructions over %s requests, h2load --h1 -c %s, one worker, %s)\n' \
    "$(awk -v t="$total" -v n="$REQUESTS" 'BEGIN { printf "%.0f", t / n }')" "$total" "$REQUESTS" "$CONNECTIONS" "$SCENARIO"
