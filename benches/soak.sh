#!/usr/bin/env bash
# Soak test of a running gateway's memory and of hot swaps under load. Three phases (PHASES
# picks some), each on its own `portico serve` process, all on 127.0.0.1 with ports picked free:
#
#   soak   REQUESTS (10^6) proxied requests through the plain `http_proxy` route (`/{proxy+}` ANY
#          to an nginx upstream, as load.sh sets up), driven with `h2load --h1 -n` in chunks of
#          SAMPLE_EVERY (10^5); the gateway's RSS is read from /proc before the load and after
#          every chunk. Prints a table and the growth from the first to the last sample.
#   idle   The RSS of a gateway with ROUTES (100) routes and PLUGINS (10) plugin declarations
#          (copies of the Rust plugins in plugins/dist under their own names: TOKEN authorizers,
#          allow-all authorizers, mappers and functions, each used by some routes), once it is
#          ready: with an empty compile cache (a first start) and again with the cache filled
#          (a restart); also after one request to every route. Reported against IDLE_TARGET_MB
#          (64).
#   swaps  SWAPS (1 000) hot swaps while h2load runs, alternated: a configuration reload (the
#          gateway file and the OpenAPI document are rewritten: a stage variable and a route
#          change, then `POST /reload` on the admin listener; the new route is checked live)
#          and a plugin redeploy (`PUT /plugins/header-auth` with the component bytes,
#          alternating two valid builds of authorizer-header whose digests differ; the reply's
#          digest is checked). The load goes round robin to the plain route and to a route
#          behind that authorizer (fresh instances, result caching off: every request calls
#          the plugin being swapped). Reports swaps done, swap failures, requests, non-2xx and
#          socket errors (the target is 0 failed requests), and the RSS before, every
#          SWAP_SAMPLE_EVERY (100) swaps and after.
#
# It relies only on the CLI (`portico serve --config F --listen A --admin B`), the gateway
# file format and the admin API.
#
# Usage:  bash benches/soak.sh
# Environment (all optional):
#   PHASES="soak idle swaps"   which phases, in order
#   REQUESTS=1000000           soak: proxied requests
#   SAMPLE_EVERY=100000        soak: requests between RSS samples (one h2load run each)
#   ROUTES=100 PLUGINS=10      idle: routes and plugin declarations (PLUGINS >= 4)
#   IDLE_TARGET_MB=64          idle: the RSS target, MiB
#   SWAPS=1000                 swaps: hot swaps (odd: reload, even: redeploy)
#   SWAP_SAMPLE_EVERY=100      swaps: swaps between RSS samples
#   SWAP_CHUNK=20000           swaps: requests per h2load run while the swaps go on
#   CONNECTIONS=32 THREADS=2   h2load clients (-c) and threads (-t)
#   SKIP_BUILD=1               use the existing release binary instead of running cargo build
#   KEEP_DIR=PATH              copy configs, server logs and raw h2load outputs there at the end
#
# Installs nginx, nghttp2-client (h2load), curl and python3 with apt-get when they are missing
# (needs root). Honours CARGO_TARGET_DIR. Every process it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PHASES=${PHASES:-soak idle swaps}
REQUESTS=${REQUESTS:-1000000}
SAMPLE_EVERY=${SAMPLE_EVERY:-100000}
ROUTES=${ROUTES:-100}
PLUGINS=${PLUGINS:-10}
IDLE_TARGET_MB=${IDLE_TARGET_MB:-64}
SWAPS=${SWAPS:-1000}
SWAP_SAMPLE_EVERY=${SWAP_SAMPLE_EVERY:-100}
SWAP_CHUNK=${SWAP_CHUNK:-20000}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_DIR=${KEEP_DIR:-}

LOG_TAG=soak
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

((SAMPLE_EVERY >= CONNECTIONS && SWAP_CHUNK >= CONNECTIONS)) ||
    die "SAMPLE_EVERY and SWAP_CHUNK must be at least CONNECTIONS (h2load -n >= -c)"
((PLUGINS >= 4)) || die "PLUGINS must be at least 4 (one of each kind)"
for phase in $PHASES; do
    [[ $phase == soak || $phase == idle || $phase == swaps ]] ||
        die "unknown phase $phase (known: soak idle swaps)"
done

ensure_tools nginx h2load python3 curl
NGINX=$(command -v nginx)
bench_workdir
portico_binary
DIST=$ROOT/plugins/dist

# --- helpers -----------------------------------------------------------------------------------

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# Signed difference of two kB figures, in MiB, with the percentage of the first.
growth() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        printf "%+.1f MiB (%+.1f%%)", (b - a) / 1024, (a > 0 ? (b - a) * 100 / a : 0) }'
}
# RssAnon and RssFile of process $1, "ANON FILE" in kB.
rss_parts() {
    awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print a + 0, f + 0 }' "/proc/$1/status"
}

# Runs `h2load --h1 -n $1` over the URLs $3... with the headers $2 (one per line), writing its
# output to $OUT; sets H2_TOTAL H2_OK (2xx) H2_NON2XX (3xx-5xx) H2_ERRORS (errored + timeout +
# requests never done) and H2_RPS.
h2load_chunk() {
    local n=$1 headers=$2 hdr=()
    shift 2
    header_args "$headers" hdr
    run_loadgen h2load --h1 -n "$n" -c "$CONNECTIONS" -t "$THREADS" "${hdr[@]}" "$@" >"$OUT" 2>&1 ||
        die "h2load failed: $(tail -n 5 "$OUT")"
    # requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout
    # status codes: 100000 2xx, 0 3xx, 0 4xx, 0 5xx
    read -r H2_TOTAL H2_ERRORS < <(awk '/^requests:/ {
        gsub(",", ""); print $2, $12 + $14 + ($2 - $6) }' "$OUT")
    read -r H2_OK H2_NON2XX < <(awk '/^status codes:/ {
        gsub(",", ""); print $3, $5 + $7 + $9 }' "$OUT")
    H2_RPS=$(awk '/^finished in/ { gsub(",", ""); print $4 }' "$OUT")
    [[ -n ${H2_TOTAL:-} && -n ${H2_OK:-} && -n ${H2_RPS:-} ]] ||
        die "cannot parse h2load output: $(cat "$OUT")"
}

# The OpenAPI document of the soak and swap gateways: plain `/{proxy+}` and, if $1 is given,
# `/authz/{proxy+}` behind the header-auth TOKEN authorizer (result caching off), plus the
# route `/$2/{proxy+}` if $2 is given (the route a reload adds).
proxy_api() {
    local route
    cat <<EOF
openapi: 3.0.1
info: {title: soak, version: '1'}
EOF
    if [[ -n ${1:-} ]]; then
        cat <<EOF
components:
  securitySchemes:
    fresh:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:header-auth/invocations
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
EOF
    fi
    echo "paths:"
    for route in "" ${1:+/authz} ${2:+/$2}; do
        if [[ $route == /authz ]]; then
            proxy_route "$route" fresh
        else
            proxy_route "$route"
        fi
    done
}

# A gateway file for API spec $1 in WORK/$2 (data and compile cache under it); $3 is the
# `plugins:` block (YAML lines, may be empty) and $4 the stage's lines (default: a stage
# variable naming the phase).
gateway_file() {
    local plugins=${3:-'  []'} stage=${4:-}
    [[ -n $stage ]] || stage="        variables: {phase: $2}"
    cat <<EOF
listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
  token_env: SOAK_ADMIN_TOKEN
data_dir: $WORK/$2/data
access_log: 'off'
reload:
  watch: false
cache_dir: $WORK/$2/compiled
$(bench_traffic)
plugins:
$plugins
apis:
  - name: soak
    spec: $1
    stages:
      soak:
$stage
EOF
}

# Every gateway of the run takes this admin token (`admin.token_env`); admin calls send it.
SOAK_ADMIN_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SOAK_ADMIN_TOKEN
ADMIN_AUTH="Authorization: Bearer $SOAK_ADMIN_TOKEN"

read -r UP_PORT < <(free_ports 1)
upstream_conf "$UP_PORT" >"$WORK/upstream.conf"
start_nginx "$WORK/upstream.conf" upstream
wait_ok "http://127.0.0.1:$UP_PORT/item.json" upstream

log "$(nproc) CPUs, $("$NGINX" -v 2>&1), $(h2load --version | head -n1), $("$PORTICO" --version)"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
SUMMARY=$WORK/summary.txt
: >"$SUMMARY"
# Also kept for the end: each phase's verdict lines.
verdict() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# Stops the Portico started last (SIGTERM, then waits for it).
stop_portico() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Warnings, errors and panics in a gateway's stderr, if any.
stderr_report() {
    local f=$WORK/$1.stderr
    if grep -qiE 'panic|error|warn' "$f"; then
        log "$1 stderr has warnings/errors ($(grep -ciE 'panic|error|warn' "$f") lines), last ones:"
        grep -iE 'panic|error|warn' "$f" | tail -n 10 >&2
    fi
}

# --- phase: soak -------------------------------------------------------------------------------

phase_soak() {
    local dir=soak port admin pid chunks i done_req=0 rss prev first= last= non2xx=0 errors=0 ok=0
    mkdir -p "$WORK/$dir"
    proxy_api >"$WORK/$dir/api.yaml"
    gateway_file api.yaml "$dir" >"$WORK/$dir/gateway.yaml"
    read -r port admin < <(free_ports 2)
    start_portico portico-soak "$WORK/$dir/gateway.yaml" "127.0.0.1:$port" "127.0.0.1:$admin"
    pid=$PORTICO_STARTED
    local url=http://127.0.0.1:$port/soak/item.json
    wait_ok "$url" portico-soak
    chunks=$(((REQUESTS + SAMPLE_EVERY - 1) / SAMPLE_EVERY))
    log "soak: $REQUESTS requests to $url, h2load --h1 -c$CONNECTIONS -t$THREADS in $chunks chunks"

    printf '\nsoak: %s proxied requests (h2load --h1 -c%s -t%s), RSS of portico (pid %s)\n' \
        "$REQUESTS" "$CONNECTIONS" "$THREADS" "$pid"
    printf '%12s %10s %10s %10s %10s %8s %8s\n' requests rss_MiB delta_MiB anon_MiB rps non2xx errors
    rss=$(rss_kb "$pid")
    read -r anon _ < <(rss_parts "$pid")
    printf '%12s %10s %10s %10s %10s %8s %8s\n' 0 "$(mib "$rss")" - "$(mib "$anon")" - - -
    local before=$rss
    prev=$rss
    for ((i = 1; i <= chunks; i++)); do
        local n=$SAMPLE_EVERY
        ((done_req + n > REQUESTS)) && n=$((REQUESTS - done_req))
        ((n < CONNECTIONS)) && n=$CONNECTIONS
        OUT=$WORK/$dir/h2load-$i.txt
        h2load_chunk "$n" "" "$url"
        kill -0 "$pid" 2>/dev/null || die "portico died during the soak: $(tail -n 20 "$WORK/portico-soak.stderr")"
        done_req=$((done_req + H2_TOTAL))
        ok=$((ok + H2_OK))
        non2xx=$((non2xx + H2_NON2XX))
        errors=$((errors + H2_ERRORS))
        rss=$(rss_kb "$pid")
        read -r anon _ < <(rss_parts "$pid")
        [[ -z $first ]] && first=$rss
        last=$rss
        printf '%12s %10s %10s %10s %10.0f %8s %8s\n' "$done_req" "$(mib "$rss")" \
            "$(awk -v a="$prev" -v b="$rss" 'BEGIN { printf "%+.1f", (b - a) / 1024 }')" \
            "$(mib "$anon")" "$H2_RPS" "$H2_NON2XX" "$H2_ERRORS"
        prev=$rss
    done
    verdict "soak: $done_req requests, $ok 2xx, $non2xx non-2xx, $errors socket errors;" \
        "RSS growth first to last sample (after $SAMPLE_EVERY -> $done_req requests):" \
        "$(growth "$first" "$last"); from before the load: $(growth "$before" "$last")"
    stderr_report portico-soak
    stop_portico "$pid"
}

# --- phase: idle -------------------------------------------------------------------------------

# Plugin number $1 (1-based) of the idle gateway: "NAME KIND FILE INSTANCES". Kinds cycle
# through the four first-party kinds, so any PLUGINS >= 4 has each; instances are fresh for
# plugins 1-4, reused for 5-8, fresh for 9-12 and so on.
idle_plugin() {
    local j=$1 inst=fresh
    (((j - 1) / 4 % 2 == 1)) && inst=reuse
    case $((j % 4)) in
        1) echo "auth-$j authorizer $DIST/authorizer-header.wasm $inst" ;;
        2) echo "allow-$j authorizer $DIST/authorizer-allow.wasm $inst" ;;
        3) echo "enrich-$j mapper $DIST/mapper-enrich.wasm $inst" ;;
        0) echo "echo-$j function $DIST/function-echo.wasm $inst" ;;
    esac
}

# The idle gateway's OpenAPI document: ROUTES routes /r{i}/items/{id} spread over the plugins:
# plain http_proxy, behind each authorizer, through each mapper, and each function as an
# aws_proxy integration. Prints one "PATH HEADER" line per route to WORK/idle/routes.txt.
idle_api() {
    local i j name kind file inst plugin
    cat <<EOF
openapi: 3.0.1
info: {title: idle, version: '1'}
components:
  securitySchemes:
EOF
    for ((j = 1; j <= PLUGINS; j++)); do
        read -r name kind file inst < <(idle_plugin "$j")
        [[ $kind == authorizer ]] || continue
        cat <<EOF
    $name:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:$name/invocations
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: 0
EOF
    done
    echo "paths:"
    : >"$WORK/idle/routes.txt"
    for ((i = 0; i < ROUTES; i++)); do
        # Every other route is plain; the rest go round the plugins.
        plugin=
        ((i % 2 == 1)) && plugin=$(idle_plugin $(((i / 2) % PLUGINS + 1)))
        read -r name kind file inst <<<"${plugin:-- plain - -}"
        cat <<EOF
  /r$i/items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
EOF
        [[ $kind == authorizer ]] && echo "      security: [{$name: []}]"
        [[ $kind == mapper ]] && echo "      x-portico-mapper: $name"
        if [[ $kind == function ]]; then
            cat <<EOF
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: '1.0'
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:$name/invocations
EOF
        else
            cat <<EOF
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:$UP_PORT/item.json'
EOF
        fi
        printf '/soak/r%d/items/%d %s\n' "$i" "$i" "$([[ $kind == authorizer ]] && echo bench-token)" \
            >>"$WORK/idle/routes.txt"
    done
}

idle_plugins_yaml() {
    local j name kind file inst
    for ((j = 1; j <= PLUGINS; j++)); do
        read -r name kind file inst < <(idle_plugin "$j")
        echo "  - name: $name"
        echo "    kind: $kind"
        echo "    file: $file"
        echo "    instances: $inst"
        [[ $name == auth-* ]] && echo "    config: {header: authorization, tokens: {bench-token: bench-user}}"
    done
    return 0
}

# Starts the idle gateway as portico-idle-$1 (cold or warm; $2 is the table's label), reads its
# RSS once it is ready, then after one request to every route; prints a table row and stops it.
idle_run() {
    local name=portico-idle-$1 label=$2 port admin pid rss anon file path token code bad=0 warm_rss
    read -r port admin < <(free_ports 2)
    start_portico "$name" "$WORK/idle/gateway.yaml" "127.0.0.1:$port" "127.0.0.1:$admin"
    pid=$PORTICO_STARTED
    wait_ok "http://127.0.0.1:$port/soak/r0/items/0" "$name"
    sleep 1
    rss=$(rss_kb "$pid")
    read -r anon file < <(rss_parts "$pid")
    while read -r path token; do
        code=$(curl -s -o /dev/null -w '%{http_code}' ${token:+-H "Authorization: $token"} \
            "http://127.0.0.1:$port$path" || true)
        if [[ $code != 200 ]]; then
            bad=$((bad + 1))
            log "idle: $path answered $code"
        fi
    done <"$WORK/idle/routes.txt"
    warm_rss=$(rss_kb "$pid")
    local verdict_word=MISSED
    awk -v k="$rss" -v t="$IDLE_TARGET_MB" 'BEGIN { exit !(k / 1024 < t) }' && verdict_word=met
    printf '%-28s %10s %10s %10s %18s %8s  %s\n' "$label" "$(mib "$rss")" "$(mib "$anon")" \
        "$(mib "$file")" "$(mib "$warm_rss")" "$bad" "$verdict_word"
    IDLE_LINE+="$label $(mib "$rss") MiB ($verdict_word); "
    stderr_report "$name"
    stop_portico "$pid"
}

phase_idle() {
    mkdir -p "$WORK/idle"
    idle_api >"$WORK/idle/api.yaml"
    gateway_file api.yaml idle "$(idle_plugins_yaml)" >"$WORK/idle/gateway.yaml"
    "$PORTICO" check --config "$WORK/idle/gateway.yaml" >&2 || die "the idle gateway file is invalid"
    printf '\nidle: %s routes, %s plugins, RSS once ready (target < %s MiB)\n' "$ROUTES" "$PLUGINS" "$IDLE_TARGET_MB"
    printf '%-28s %10s %10s %10s %18s %8s  %s\n' start rss_MiB anon_MiB file_MiB after_1_req/route non200 target
    IDLE_LINE=
    idle_run cold "cold (empty compile cache)"
    idle_run warm "warm (compile cache filled)"
    verdict "idle ($ROUTES routes, $PLUGINS plugins, target < $IDLE_TARGET_MB MiB): $IDLE_LINE"
}

# --- phase: swaps ------------------------------------------------------------------------------

# Writes the swap gateway's files for swap $1 (0 = the start): the OpenAPI document with the
# route /swap$1 and the gateway file with stage variable swap=$1, each by rename.
swap_config() {
    local dir=$WORK/swaps
    proxy_api authz "swap$1" >"$dir/api.yaml.new"
    gateway_file api.yaml swaps "  - name: header-auth
    kind: authorizer
    file: $AUTHZ_A
    config: {header: authorization, tokens: {bench-token: bench-user}}" \
        "        variables: {phase: swaps, swap: '$1'}" >"$dir/gateway.yaml.new"
    mv "$dir/api.yaml.new" "$dir/api.yaml"
    mv "$dir/gateway.yaml.new" "$dir/gateway.yaml"
}

# Runs in the background: SWAPS swaps against admin $1 and data plane $2, gateway pid $3.
# Writes one line per swap to WORK/swaps/swaps.tsv ("i kind http_status ok seconds detail
# unix_time_at_start", the time to line swaps up with the gateway's log),
# the RSS every SWAP_SAMPLE_EVERY swaps to WORK/swaps/rss.tsv, and touches WORK/swaps/done.
swapper() {
    local admin=$1 data=$2 pid=$3 i kind code ok secs detail comp want reply deploys=0
    local dir=$WORK/swaps
    reply=$dir/reply.json
    trap - EXIT INT TERM # the main shell cleans up, not this one
    sleep 0.5            # let the load start first
    for ((i = 1; i <= SWAPS; i++)); do
        ok=1
        detail=
        local started
        started=$(date +%s.%N)
        if ((i % 2 == 1)); then
            kind=reload
            swap_config "$i"
            read -r code secs < <(curl -s -o "$reply" -w '%{http_code} %{time_total}\n' \
                -H "$ADMIN_AUTH" -X POST "http://$admin/reload" || echo "000 0")
            grep -q '"status":"reloaded"' "$reply" 2>/dev/null || ok=0
            # The change is live: the route this reload added answers.
            local live
            live=$(curl -s -o /dev/null -w '%{http_code}' "http://$data/soak/swap$i/item.json" || true)
            [[ $live == 200 ]] || {
                ok=0
                detail="new route answered $live"
            }
        else
            kind=deploy
            deploys=$((deploys + 1))
            if ((deploys % 2 == 1)); then comp=$AUTHZ_B want=$DIGEST_B; else comp=$AUTHZ_A want=$DIGEST_A; fi
            read -r code secs < <(curl -s -o "$reply" -w '%{http_code} %{time_total}\n' \
                -H "$ADMIN_AUTH" -X PUT --data-binary "@$comp" "http://$admin/plugins/header-auth" || echo "000 0")
            grep -q "\"digest\":\"$want\"" "$reply" 2>/dev/null || ok=0
        fi
        [[ $code == 200 ]] || ok=0
        if ((ok == 0)) && [[ -z $detail ]]; then
            detail=$(head -c 300 "$reply" 2>/dev/null | tr '\n\t' '  ')
        fi
        printf '%d\t%s\t%s\t%d\t%s\t%s\t%s\n' "$i" "$kind" "$code" "$ok" "$secs" "$detail" "$started" \
            >>"$dir/swaps.tsv"
        if ((i % SWAP_SAMPLE_EVERY == 0)); then
            printf '%d\t%s\n' "$i" "$(rss_kb "$pid" 2>/dev/null || echo 0)" >>"$dir/rss.tsv"
        fi
        kill -0 "$pid" 2>/dev/null || break
    done
    touch "$dir/done"
}

phase_swaps() {
    local dir=$WORK/swaps port admin pid i=0 total=0 ok2xx=0 non2xx=0 errors=0
    mkdir -p "$dir"
    # Two valid builds of the same authorizer with different digests: B is A with a custom
    # section appended (ignored by the runtime, so both behave the same).
    AUTHZ_A=$dir/authorizer-header-a.wasm
    AUTHZ_B=$dir/authorizer-header-b.wasm
    cp "$DIST/authorizer-header.wasm" "$AUTHZ_A"
    python3 - "$AUTHZ_A" "$AUTHZ_B" <<'EOF'
import sys

def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

data = open(sys.argv[1], "rb").read()
name, payload = b"portico-soak", b"build b"
body = leb(len(name)) + name + payload
open(sys.argv[2], "wb").write(data + b"\x00" + leb(len(body)) + body)
EOF
    DIGEST_A=$(sha256sum "$AUTHZ_A" | cut -d' ' -f1)
    DIGEST_B=$(sha256sum "$AUTHZ_B" | cut -d' ' -f1)
    swap_config 0
    read -r port admin < <(free_ports 2)
    start_portico portico-swaps "$dir/gateway.yaml" "127.0.0.1:$port" "127.0.0.1:$admin"
    pid=$PORTICO_STARTED
    local plain=http://127.0.0.1:$port/soak/item.json authz=http://127.0.0.1:$port/soak/authz/item.json
    wait_ok "$plain" portico-swaps
    wait_ok "$authz" portico-swaps-authz "Authorization: bench-token"
    # Build B is accepted (and compiled into the cache) before the load starts.
    curl -sf -o /dev/null -X PUT --data-binary "@$AUTHZ_B" -H "$ADMIN_AUTH" "http://127.0.0.1:$admin/plugins/header-auth" ||
        die "component B was rejected: $(curl -s -X PUT --data-binary "@$AUTHZ_B" -H "$ADMIN_AUTH" "http://127.0.0.1:$admin/plugins/header-auth")"
    curl -sf -o /dev/null -X PUT --data-binary "@$AUTHZ_A" -H "$ADMIN_AUTH" "http://127.0.0.1:$admin/plugins/header-auth" ||
        die "component A was rejected"
    local before
    before=$(rss_kb "$pid")
    curl -s -H "$ADMIN_AUTH" "http://127.0.0.1:$admin/metrics" >"$dir/metrics-before.txt" || true
    log "swaps: $SWAPS swaps (reload / redeploy alternated) under h2load --h1 -c$CONNECTIONS -t$THREADS, chunks of $SWAP_CHUNK requests to $plain and $authz"
    : >"$dir/swaps.tsv"
    : >"$dir/rss.tsv"
    local t0=$SECONDS
    swapper "127.0.0.1:$admin" "127.0.0.1:$port" "$pid" &
    PIDS+=($!)
    while [[ ! -e $dir/done ]]; do
        i=$((i + 1))
        OUT=$dir/h2load-$i.txt
        h2load_chunk "$SWAP_CHUNK" "Authorization: bench-token" "$plain" "$authz"
        total=$((total + H2_TOTAL))
        ok2xx=$((ok2xx + H2_OK))
        non2xx=$((non2xx + H2_NON2XX))
        errors=$((errors + H2_ERRORS))
        if ((H2_NON2XX + H2_ERRORS > 0)); then
            log "swaps: chunk $i: $H2_NON2XX non-2xx, $H2_ERRORS errors: $(grep -E '^(requests|status codes):' "$OUT" | tr '\n' ' ')"
        fi
        kill -0 "$pid" 2>/dev/null || die "portico died during the swaps: $(tail -n 20 "$WORK/portico-swaps.stderr")"
    done
    local secs=$((SECONDS - t0))
    local after
    after=$(rss_kb "$pid")

    local done_n fails reloads deploys
    done_n=$(wc -l <"$dir/swaps.tsv")
    fails=$(awk -F'\t' '$4 == 0' "$dir/swaps.tsv" | wc -l)
    reloads=$(awk -F'\t' '$2 == "reload"' "$dir/swaps.tsv" | wc -l)
    deploys=$(awk -F'\t' '$2 == "deploy"' "$dir/swaps.tsv" | wc -l)
    printf '\nswaps: %s hot swaps (reload / plugin redeploy alternated) under load, %s s\n' "$done_n" "$secs"
    printf '%-14s %10s %10s\n' at rss_MiB delta_MiB
    printf '%-14s %10s %10s\n' before "$(mib "$before")" -
    local prev=$before n rss
    while IFS=$'\t' read -r n rss; do
        printf '%-14s %10s %10s\n' "$n swaps" "$(mib "$rss")" \
            "$(awk -v a="$prev" -v b="$rss" 'BEGIN { printf "%+.1f", (b - a) / 1024 }')"
        prev=$rss
    done <"$dir/rss.tsv"
    printf '%-14s %10s %10s\n' after "$(mib "$after")" \
        "$(awk -v a="$prev" -v b="$after" 'BEGIN { printf "%+.1f", (b - a) / 1024 }')"
    awk -F'\t' '{ n[$2]++; s[$2] += $5; if ($5 > m[$2]) m[$2] = $5 }
        END { for (k in n) printf "%s: %d, mean %.1f ms, max %.1f ms\n", k, n[k], s[k] / n[k] * 1000, m[k] * 1000 }' \
        "$dir/swaps.tsv" | sort
    if ((fails > 0)); then
        log "failed swaps (first 10):"
        awk -F'\t' '$4 == 0' "$dir/swaps.tsv" | head -n 10 >&2
    fi
    local failed=$((total - ok2xx)) target=MISSED
    ((failed == 0)) && target=met
    verdict "swaps: $done_n done ($reloads reloads, $deploys redeploys), $fails swap failures;" \
        "$total requests, $non2xx non-2xx, $errors socket errors: $failed failed requests" \
        "(target 0: $target); RSS before $(mib "$before") MiB, after $(mib "$after") MiB," \
        "growth $(growth "$before" "$after")"
    # The gateway's own counters, for the record: reloads, plugin faults, the routes that
    # answered 5xx, and how many series /metrics holds (a route a reload removed should not
    # keep its series).
    curl -s -H "$ADMIN_AUTH" "http://127.0.0.1:$admin/metrics" >"$dir/metrics-after.txt" || true
    grep -E '^portico_(reloads_(ok|failed)_total|plugin_faults_total)' "$dir/metrics-after.txt" |
        sed 's/^/  metrics: /' || true
    grep -E '^portico_5xx_error_total' "$dir/metrics-after.txt" | awk '$NF != 0' |
        sed 's/^/  metrics: /' || true
    printf '  metrics: %s series (%s bytes) before the swaps, %s series (%s bytes) after\n' \
        "$(grep -c '^portico_' "$dir/metrics-before.txt" || true)" "$(wc -c <"$dir/metrics-before.txt")" \
        "$(grep -c '^portico_' "$dir/metrics-after.txt" || true)" "$(wc -c <"$dir/metrics-after.txt")"
    stderr_report portico-swaps
    stop_portico "$pid"
}

# --- run ---------------------------------------------------------------------------------------

for phase in $PHASES; do
    "phase_$phase"
done
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\nsummary (load average at end %s):\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
sed 's/^/  /' "$SUMMARY"
