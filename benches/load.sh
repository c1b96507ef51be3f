#!/usr/bin/env bash
# Load comparison: requests/second and p99 latency of these targets (TARGETS picks some):
#   direct         - an nginx upstream serving a ~100-byte static JSON file,
#   nginx-proxy    - nginx as a plain keep-alive reverse proxy in front of that upstream,
#   portico        - Portico's `http_proxy` route (`/{proxy+}` ANY) in front of the same upstream,
#   portico-authz  - the same route behind a Rust Wasm TOKEN authorizer (plugins/dist/
#                    authorizer-header.wasm, result caching off so every request calls it,
#                    a fresh instance per call: the default policy),
#   portico-authz-reuse - the same with `instances: reuse`,
#   portico-authz-cached - the fresh-instance authorizer with API Gateway's default result
#                    caching (authorizerResultTtlInSeconds: 300): one call per token,
#   portico-cache  - a GET route with the stage cache on, every request a hit (the upstream
#                    sees one request per run: the script checks its access log),
#   portico-apikey - the http_proxy route requiring an API key in a usage plan (throttle and
#                    quota far above the load, so every request is admitted and metered),
#   portico-apikey-cluster - the same on a second Portico process in cluster mode (Redis,
#                    batched sync every 100 ms); needs redis-server (installed if missing),
# measured back to back in one run with wrk, interleaved over ROUNDS rounds
# (direct, nginx, portico, ..., direct, nginx, portico, ...) and summarised by the median per
# target, then as ratios (each Portico scenario against plain Portico, Portico against nginx and
# against the upstream direct, the cache hit against the upstream direct and nginx).
# Also reported: the CPU time the server under test used per request (from /proc; for the
# proxies it excludes the upstream), which is less sensitive to a busy machine than rps.
#
# Usage:  bash benches/load.sh
# Environment (all optional):
#   DURATION=10s      wrk duration of each measurement
#   CONNECTIONS=32    wrk connections (-c)
#   THREADS=2         wrk threads (-t)
#   ROUNDS=3          measurements per target
#   WARMUP=2s         wrk warm-up before each measurement (output discarded)
#   SKIP_BUILD=1      use the existing release binary instead of running cargo build
#   KEEP_DIR=PATH     copy the raw wrk outputs, configs and server logs there at the end
#   TARGETS="direct nginx-proxy portico portico-authz portico-authz-reuse portico-authz-cached
#            portico-cache portico-apikey portico-apikey-cluster"
#                     (the default: all of them)
#
# Installs nginx and wrk (and curl, python3) with apt-get when they are missing (needs root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_DIR=${KEEP_DIR:-}

log() { printf '[load] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --- tools -------------------------------------------------------------------------------------

ensure_tools() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    if ((${#missing[@]} == 0)); then
        return
    fi
    log "installing: ${missing[*]}"
    # Keep the package scripts from starting a system nginx on port 80: a temporary
    # policy-rc.d that forbids service starts, unless one is already in place.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    if ((made_policy)); then
        rm -f "$policy"
    fi
}

ensure_tools
PATH=$PATH:/usr/sbin
NGINX=$(command -v nginx)

# --- scratch directory and cleanup -----------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portico-load.XXXXXX")
# nginx workers drop to `nobody` when the master runs as root: they must be able to read the
# static file and write the temp paths below.
chmod 755 "$WORK"
PIDS=()

cleanup() {
    local pid
    if [[ -n ${WRK_PID:-} ]]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $KEEP_DIR ]]; then
        mkdir -p "$KEEP_DIR" && cp -r "$WORK"/. "$KEEP_DIR"/ && log "raw outputs kept in $KEEP_DIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers -----------------------------------------------------------------------------------

# Prints N free TCP ports on 127.0.0.1 (bound and released by the kernel, so they are free now).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# Waits until URL $1 answers 200 (sent with header $3, if any), up to ~20 s; prints the body
# once.
wait_ok() {
    local url=$1 name=$2 i code hdr=()
    [[ -n ${3:-} ]] && hdr=(-H "$3")
    for ((i = 0; i < 200; i++)); do
        code=$(curl -s "${hdr[@]}" -o "$WORK/probe-$name.body" -w '%{http_code}' "$url" 2>/dev/null || true)
        if [[ $code == 200 ]]; then
            log "$name ready: $url -> 200 $(head -c 120 "$WORK/probe-$name.body")"
            return 0
        fi
        sleep 0.1
    done
    die "$name did not answer 200 at $url (last status: ${code:-none})"
}

# Starts nginx in the foreground (no daemon) with config file $1; records the master pid.
start_nginx() {
    local conf=$1 name=$2
    "$NGINX" -t -q -c "$conf" -p "$WORK/" -g 'daemon off;' -e "$WORK/$name-startup.log" ||
        die "nginx config $conf is invalid"
    "$NGINX" -c "$conf" -p "$WORK/" -g 'daemon off;' -e "$WORK/$name-startup.log" \
        >"$WORK/$name.stdout" 2>&1 &
    PIDS+=($!)
}

# Converts a wrk duration (e.g. 812.00us, 1.23ms, 2.01s, 1.00m) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        else if (u != "ms") { print "nan"; exit }
        printf "%.3f\n", n }'
}

# Median of the numbers on stdin (mean of the two middle values for an even count).
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]
        else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"

CLK_TCK=$(getconf CLK_TCK)

# Runs wrk in the background and waits for it, so that a signal runs the cleanup at once
# instead of after wrk finishes.
WRK_PID=
run_wrk() {
    wrk "$@" &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk $* failed"
    WRK_PID=
}

# CPU time (user + system, in clock ticks) used so far by process $1 and its children (the
# nginx workers of a master).
cpu_ticks() {
    local pid total=0 rest
    for pid in "$1" $(ps -o pid= --ppid "$1"); do
        # Fields after "pid (comm) ": state is 1, utime 12, stime 13.
        rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$((total + $(awk '{ print $12 + $13 }' <<<"$rest")))
    done
    echo "$total"
}

# Runs a warm-up and one measurement against target $1 in round $2, using URL[$1], the wrk
# header H[$1] (if any) and the server process PID[$1]; appends "target rps p99_ms non2xx
# socket_errors cpu_us_per_request" to $RESULTS. The CPU figure counts only the server under
# test (for the proxies, not the upstream behind them).
measure() {
    local target=$1 round=$2
    local url=${URL[$target]} server=${PID[$target]} hdr=()
    [[ -n ${H[$target]:-} ]] && hdr=(-H "${H[$target]}")
    local out="$WORK/wrk-$target-$round.txt"
    run_wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${hdr[@]}" "$url" >/dev/null
    local t0 t1
    t0=$(cpu_ticks "$server")
    run_wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${hdr[@]}" "$url" >"$out"
    t1=$(cpu_ticks "$server")
    local rps p99raw p99 non2xx sockerr requests cpu
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    # The 99% line of the --latency distribution, e.g. "     99%    1.23ms".
    p99raw=$(awk '/Latency Distribution/ { d = 1; next } d && $1 == "99%" { print $2; exit }' "$out")
    [[ -n $rps && -n $p99raw ]] || die "cannot parse wrk output for $target: $(cat "$out")"
    p99=$(to_ms "$p99raw")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    non2xx=${non2xx:-0}
    # "Socket errors: connect 0, read 0, write 0, timeout 0" (absent when all are zero).
    sockerr=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    sockerr=${sockerr:-0}
    requests=$(awk '/ requests in / { print $1; exit }' "$out")
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${requests:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "nan" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$rps" "$p99" "$non2xx" "$sockerr" "$cpu" >>"$RESULTS"
    printf '  round %d  %-12s rps %10.1f  p99 %8.3f ms  cpu %6s us/req  non2xx %s  socket_errors %s\n' \
        "$round" "$target" "$rps" "$p99" "$cpu" "$non2xx" "$sockerr" >&2
    if [[ $non2xx != 0 || $sockerr != 0 ]]; then
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/      wrk: /' >&2
    fi
}

# --- build Portico -----------------------------------------------------------------------------

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
PORTICO=$TARGET_DIR/release/portico
if [[ $SKIP_BUILD != 1 ]]; then
    log "building portico (release); the first build takes several minutes"
    (cd "$ROOT" && cargo build --release -p portico)
fi
[[ -x $PORTICO ]] || die "no binary at $PORTICO"
AUTHORIZER=$ROOT/plugins/dist/authorizer-header.wasm
if [[ ! -f $AUTHORIZER ]]; then
    log "building the plugins (plugins/build.sh)"
    bash "$ROOT/plugins/build.sh"
fi

# --- configuration -----------------------------------------------------------------------------

read -r UP_PORT PROXY_PORT < <(free_ports 2)

mkdir -p "$WORK/www"
# ~100 bytes of JSON.
printf '{"id":"item-0042","name":"benchmark item","price":19.99,"tags":["load","test"],"stock":1200}\n' \
    >"$WORK/www/item.json"
cp "$WORK/www/item.json" "$WORK/www/cached.json"
chmod 644 "$WORK/www/item.json" "$WORK/www/cached.json"

# Shared http{} settings. keepalive_requests is raised from nginx's default of 1000 so that
# neither wrk's connections nor the proxies' upstream connections are closed and reopened
# during a run (Portico has no such per-connection limit).
HTTP_COMMON="
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/tmp/client_body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;"
mkdir -p "$WORK/tmp"
chmod 777 "$WORK/tmp"

# Upstream: one worker. It serves every target, so its cost is the same in all three; a single
# worker keeps it from taking both cores away from the proxy being measured.
cat >"$WORK/upstream.conf" <<EOF
worker_processes 1;
error_log $WORK/upstream-error.log warn;
pid $WORK/upstream.pid;
events { worker_connections 4096; }
http {
    $HTTP_COMMON
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$UP_PORT;
        root $WORK/www;
        location / { default_type application/json; }
        # The cached route's requests are logged, to show a cache hit never reaches here.
        location = /cached.json { default_type application/json; access_log $WORK/upstream-cached.log; }
    }
}
EOF

# Proxy: two workers (= the machine's 2 cores, what `auto` gives here, fixed so the comparison
# does not change on bigger machines). Portico runs a multi-threaded tokio runtime with one
# worker thread per core, so two nginx workers is the like-for-like comparison.
cat >"$WORK/proxy.conf" <<EOF
worker_processes 2;
error_log $WORK/proxy-error.log warn;
pid $WORK/proxy.pid;
events { worker_connections 4096; }
http {
    $HTTP_COMMON
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$PROXY_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

# One API, every route to the same upstream: plain `/{proxy+}`; behind the Rust header
# authorizer with a fresh instance per call (the default) or with reused instances, both with
# result caching off (authorizerResultTtlInSeconds: 0) so every request calls the plugin, and
# with AWS's default result caching (300 s); requiring an API key; and a cached GET.
# proxy_route PREFIX [SCHEME]: `PREFIX/{proxy+}` ANY, guarded by security scheme SCHEME if given.
proxy_route() {
    echo "  $1/{proxy+}:"
    echo "    x-amazon-apigateway-any-method:"
    [[ -n ${2:-} ]] && echo "      security: [{$2: []}]"
    cat <<EOT
      parameters:
        - {name: proxy, in: path, required: true, schema: {type: string}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: 'http://127.0.0.1:$UP_PORT/{proxy}'
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
EOT
}
authorizer_scheme() {
    local ttl=${3:-0}
    cat <<EOT
    $1:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:$2/invocations
        identitySource: method.request.header.Authorization
        authorizerResultTtlInSeconds: $ttl
EOT
}

cat >"$WORK/api.yaml" <<EOF
openapi: 3.0.1
info: {title: bench, version: '1'}
components:
  securitySchemes:
$(authorizer_scheme fresh header-auth)
$(authorizer_scheme reuse header-auth-reuse)
$(authorizer_scheme cached header-auth 300)
    api_key: {type: apiKey, name: x-api-key, in: header}
paths:
$(proxy_route "")
$(proxy_route /authz fresh)
$(proxy_route /authz-reuse reuse)
$(proxy_route /authz-cached cached)
$(proxy_route /keyed api_key)
  /cached/item.json:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:$UP_PORT/cached.json'
EOF

read -r REDIS_PORT < <(free_ports 1)
BENCH_KEY=bench-key-0123456789abcdef
# $1: data directory; $2: extra `traffic:` lines (cluster mode).
gateway_file() {
    cat <<EOF
listeners:
  - address: 127.0.0.1:0
access_log: 'off'
reload:
  watch: false
traffic:
  # AWS's account default (10 000 rps) is below what this machine pushes: raise it, so every
  # target is measured unthrottled.
  account: {rate_limit: 10000000, burst_limit: 10000000}
  data_dir: $1
$2
api_keys:
  - {name: bench, value: $BENCH_KEY}
usage_plans:
  - name: bench-plan
    api_stages: [{api: bench, stage: bench}]
    throttle: {rate_limit: 10000000, burst_limit: 10000000}
    quota: {limit: 1000000000, period: DAY}
    keys: [bench]
plugins:
  - name: header-auth
    kind: authorizer
    file: $AUTHORIZER
    config: {header: authorization, tokens: {bench-token: bench-user}}
  - name: header-auth-reuse
    kind: authorizer
    file: $AUTHORIZER
    config: {header: authorization, tokens: {bench-token: bench-user}}
    instances: reuse
apis:
  - name: bench
    spec: api.yaml
    stages:
      bench:
        cache: {size: 64MiB}
        method_settings:
          '*/*': {caching_enabled: false}
          /cached/item.json/GET: {caching_enabled: true, cache_ttl_seconds: 3600}
EOF
}
gateway_file "$WORK/data" "" >"$WORK/gateway.yaml"
gateway_file "$WORK/data-cluster" "  redis: redis://127.0.0.1:$REDIS_PORT
  sync_interval_ms: 100" >"$WORK/gateway-cluster.yaml"

"$PORTICO" check --config "$WORK/gateway.yaml" >&2 || die "the generated gateway file is invalid"

# --- start the servers -------------------------------------------------------------------------

start_nginx "$WORK/upstream.conf" upstream
UPSTREAM_PID=$!
start_nginx "$WORK/proxy.conf" proxy
PROXY_PID=$!

"$PORTICO" serve --config "$WORK/gateway.yaml" --listen 127.0.0.1:0 \
    >"$WORK/portico.stdout" 2>"$WORK/portico.stderr" &
PORTICO_PID=$!
PIDS+=("$PORTICO_PID")
PORTICO_ADDR=
for ((i = 0; i < 300; i++)); do
    PORTICO_ADDR=$(sed -n 's|^listening on http://||p' "$WORK/portico.stdout" | head -n1)
    [[ -n $PORTICO_ADDR ]] && break
    kill -0 "$PORTICO_PID" 2>/dev/null || die "portico exited: $(cat "$WORK/portico.stderr")"
    sleep 0.1
done
[[ -n $PORTICO_ADDR ]] || die "portico printed no listen address"

# The cluster node: Redis, then a second Portico on the cluster gateway file.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
"$PORTICO" serve --config "$WORK/gateway-cluster.yaml" --listen 127.0.0.1:0 \
    >"$WORK/portico-cluster.stdout" 2>"$WORK/portico-cluster.stderr" &
CLUSTER_PID=$!
PIDS+=("$CLUSTER_PID")
CLUSTER_ADDR=
for ((i = 0; i < 300; i++)); do
    CLUSTER_ADDR=$(sed -n 's|^listening on http://||p' "$WORK/portico-cluster.stdout" | head -n1)
    [[ -n $CLUSTER_ADDR ]] && break
    kill -0 "$CLUSTER_PID" 2>/dev/null || die "cluster portico exited: $(cat "$WORK/portico-cluster.stderr")"
    sleep 0.1
done
[[ -n $CLUSTER_ADDR ]] || die "cluster portico printed no listen address"

# Per target: URL, server process (for the CPU figure) and wrk header.
declare -A URL PID H
URL[direct]=http://127.0.0.1:$UP_PORT/item.json
PID[direct]=$UPSTREAM_PID
URL[nginx-proxy]=http://127.0.0.1:$PROXY_PORT/item.json
PID[nginx-proxy]=$PROXY_PID
URL[portico]=http://$PORTICO_ADDR/bench/item.json
URL[portico-authz]=http://$PORTICO_ADDR/bench/authz/item.json
URL[portico-authz-reuse]=http://$PORTICO_ADDR/bench/authz-reuse/item.json
URL[portico-authz-cached]=http://$PORTICO_ADDR/bench/authz-cached/item.json
URL[portico-cache]=http://$PORTICO_ADDR/bench/cached/item.json
URL[portico-apikey]=http://$PORTICO_ADDR/bench/keyed/item.json
URL[portico-apikey-cluster]=http://$CLUSTER_ADDR/bench/keyed/item.json
PID[portico-apikey-cluster]=$CLUSTER_PID
H[portico-apikey]="x-api-key: $BENCH_KEY"
H[portico-apikey-cluster]="x-api-key: $BENCH_KEY"
for t in portico portico-authz portico-authz-reuse portico-authz-cached portico-cache portico-apikey; do
    PID[$t]=$PORTICO_PID
done
H[portico-authz]="Authorization: bench-token"
H[portico-authz-reuse]="Authorization: bench-token"
H[portico-authz-cached]="Authorization: bench-token"

TARGETS=${TARGETS:-direct nginx-proxy portico portico-authz portico-authz-reuse portico-authz-cached portico-cache portico-apikey portico-apikey-cluster}
read -r -a TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
    [[ -n ${URL[$t]:-} ]] || die "unknown target $t (known: ${!URL[*]})"
    wait_ok "${URL[$t]}" "$t" "${H[$t]:-}"
done

# --- measure -----------------------------------------------------------------------------------

log "$(nproc) CPUs, $("$NGINX" -v 2>&1), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), $("$PORTICO" --version)"
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP), $ROUNDS rounds"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= ROUNDS; round++)); do
    for t in "${TARGET_LIST[@]}"; do
        measure "$t" "$round"
    done
done

log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$PORTICO_PID" 2>/dev/null || die "portico died during the run: $(tail -n 20 "$WORK/portico.stderr")"
if grep -qiE 'error|warn' "$WORK/portico.stderr"; then
    log "portico stderr has warnings/errors:"
    grep -iE 'error|warn' "$WORK/portico.stderr" | tail -n 20 >&2
fi

# --- summary -----------------------------------------------------------------------------------

col() { awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c }' "$RESULTS"; }
sum() { col "$1" "$2" | awk '{ s += $1 } END { print s + 0 }'; }

declare -A RPS P99 CPU
printf '\n%-20s %12s %15s %16s %14s %15s\n' target 'rps(median)' 'p99_ms(median)' \
    'cpu_us/req(med)' 'non2xx(total)' 'sock_err(total)'
for t in "${TARGET_LIST[@]}"; do
    RPS[$t]=$(col "$t" 2 | median)
    P99[$t]=$(col "$t" 3 | median)
    CPU[$t]=$(col "$t" 6 | median)
    printf '%-20s %12.1f %15.3f %16.1f %14s %15s\n' "$t" "${RPS[$t]}" "${P99[$t]}" \
        "${CPU[$t]}" "$(sum "$t" 4)" "$(sum "$t" 5)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f", a / b }'; }
# Prints the ratio line of target $1 against baseline $2 when both were measured; for the
# Portico scenarios also the CPU each request added over the baseline.
compare() {
    [[ -n ${RPS[$1]:-} && -n ${RPS[$2]:-} ]] || return 0
    local extra=
    [[ $2 == portico ]] && extra=$(awk -v a="${CPU[$1]}" -v b="${CPU[$2]}" \
        'BEGIN { printf "  added cpu %+.1f us/req", a - b }')
    printf 'ratio %s/%s: rps %s  p99 %s  cpu/req %s%s\n' "$1" "$2" \
        "$(ratio "${RPS[$1]}" "${RPS[$2]}")" "$(ratio "${P99[$1]}" "${P99[$2]}")" \
        "$(ratio "${CPU[$1]}" "${CPU[$2]}")" "$extra"
}
compare portico nginx-proxy
compare portico direct
compare portico-authz portico
compare portico-authz-reuse portico
compare portico-authz-cached portico
compare portico-apikey portico
compare portico-apikey-cluster portico
compare portico-cache direct
compare portico-cache nginx-proxy
if [[ -n ${RPS[portico-cache]:-} ]]; then
    # One miss fills the entry (TTL 3600 s); every later request must be a hit.
    printf 'upstream requests for the cached route: %s (over %s rounds)\n' \
        "$(wc -l <"$WORK/upstream-cached.log" 2>/dev/null || echo 0)" "$ROUNDS"
fi
printf '(wrk -t%s -c%s -d%s, %s rounds, medians)\n' "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS"
