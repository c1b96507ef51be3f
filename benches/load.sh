#!/usr/bin/env bash
# Load comparison: requests/second and p99 latency of these targets (TARGETS picks some):
#   direct         - an nginx upstream serving a ~100-byte static JSON file,
#   nginx-proxy    - nginx as a plain keep-alive reverse proxy in front of that upstream,
#   nginx-proxy-pinned - the same with `worker_cpu_affinity auto` (each worker bound to a CPU,
#                    as Portico binds its workers by default; nginx's default leaves them free),
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
#   portico-full   - the full pipeline: API key required (usage plan far above the load) and
#                    the Rust TOKEN authorizer with result caching off, fresh instances, then
#                    the http_proxy integration,
#   portico-full-reuse - the same with `instances: reuse`,
#   portico-jwt    - the http_proxy route behind a JWT authorizer: an RS256 token verified on
#                    every request (key set from the upstream nginx, fetched once),
#   portico-jwt-cached - the same with authorizerResultTtlInSeconds: 300 (one verification),
#   portico-authz-policy - behind the Rust Wasm authorizer-policy, which returns a Lambda
#                    authorizer output (an IAM policy for the method ARN) on every request
#                    (TTL 0, fresh instances): the host parses and evaluates it each time,
#   portico-sigv4  - an AWS_IAM route: every request's SigV4 signature (by botocore, re-signed
#                    before each measurement) verified against the gateway file's credentials,
#   portico-post   - a POST of a ~1 KB JSON order through a plain `http_proxy` route (the
#                    baseline of the mapping scenario),
#   portico-mapped - "VTL request + response mapping + validation": the same POST checked
#                    (required path and query parameters, the body against a draft-4 model),
#                    a ~30-line request template, the `http` integration, a response template,
#   portico-mapped-wasm - the same with the API's templates and models in the mapper-vtl and
#                    validator-jsonschema components (`template_mapper`, `model_validator`,
#                    reused instances),
# measured back to back in one run with wrk, interleaved over ROUNDS rounds
# (direct, nginx, portico, ..., direct, nginx, portico, ...) and summarised by the median per
# target, then as ratios (each Portico scenario against plain Portico, Portico against nginx and
# against the upstream direct, the cache hit against the upstream direct and nginx).
# Also reported: the CPU time the server under test used per request (from /proc; for the
# proxies it excludes the upstream), which is less sensitive to a busy machine than rps.
# Last, a "targets" block checks the medians of this run against Portico's performance
# targets (each line `met` or `MISSED` with the figure; only those whose scenarios ran).
#
# Usage:  bash benches/load.sh
# Environment (all optional):
#   DURATION=10s      wrk duration of each measurement
#   CONNECTIONS=32    wrk connections (-c)
#   THREADS=2         wrk threads (-t)
#   ROUNDS=3          measurements per target
#   WARMUP=2s         wrk warm-up before each measurement (output discarded)
#   SKIP_BUILD=1      use the existing release binary instead of running cargo build
#   TLS=0|1           run benches/tls.sh (TLS HTTP/1.1 and HTTP/2 vs nginx with TLS, the
#                     handshake rate, HTTP/3 vs HTTP/2) after these scenarios; default 1,
#                     or 0 when TARGETS is set
#   KEEP_DIR=PATH     copy the raw wrk outputs, configs and server logs there at the end
#   TARGETS="direct nginx-proxy nginx-proxy-pinned portico portico-authz portico-authz-reuse portico-authz-cached
#            portico-cache portico-apikey portico-apikey-cluster portico-full portico-full-reuse
#            portico-jwt portico-jwt-cached portico-authz-policy portico-sigv4 portico-post
#            portico-mapped portico-mapped-wasm"
#                     (the default: all of them)
#
# Installs nginx, wrk, redis-server, curl and python3 with apt-get when they are missing (needs
# root). The shared helpers (processes, ports, nginx, starting Portico) are in benches/lib.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_DIR=${KEEP_DIR:-}

LOG_TAG=load
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

ensure_tools nginx wrk python3 curl redis-server openssl
NGINX=$(command -v nginx)
bench_workdir

# --- helpers -----------------------------------------------------------------------------------

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

run_wrk() {
    run_loadgen wrk "$@" || die "wrk $* failed"
}

# Runs a warm-up and one measurement against target $1 in round $2, using URL[$1], the wrk
# headers H[$1] (one per line, if any) and the server process PID[$1]; appends "target rps
# p99_ms non2xx socket_errors cpu_us_per_request" to $RESULTS. The CPU figure counts only the
# server under test (for the proxies, not the upstream behind them).
measure() {
    local target=$1 round=$2
    local url=${URL[$target]} server=${PID[$target]} hdr=()
    if [[ -n ${REFRESH[$target]:-} ]]; then
        H[$target]=$(${REFRESH[$target]})
    fi
    header_args "${H[$target]:-}" hdr
    if [[ -n ${SCRIPT[$target]:-} ]]; then
        hdr+=(-s "${SCRIPT[$target]}")
    fi
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
    printf '  round %d  %-22s rps %10.1f  cpu %6s us/req  p99 %8.3f ms  non2xx %s  socket_errors %s\n' \
        "$round" "$target" "$rps" "$cpu" "$p99" "$non2xx" "$sockerr" >&2
    if [[ $non2xx != 0 || $sockerr != 0 ]]; then
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/      wrk: /' >&2
    fi
}

# --- build Portico -----------------------------------------------------------------------------

portico_binary
AUTHORIZER=$ROOT/plugins/dist/authorizer-header.wasm

# --- configuration -----------------------------------------------------------------------------

read -r UP_PORT PROXY_PORT PINNED_PORT PORTICO_PORT CLUSTER_PORT REDIS_PORT < <(free_ports 6)

# The upstream (benches/lib.sh: one worker, WORK/www/item.json, ~100 bytes of JSON) serves
# every target, so its cost is the same in all. cached.json is the cached route's: its requests
# are logged, to show a cache hit never reaches the upstream.
upstream_conf "$UP_PORT" "        location = /cached.json { default_type application/json; access_log $WORK/upstream-cached.log; }" \
    >"$WORK/upstream.conf"
cp "$WORK/www/item.json" "$WORK/www/cached.json"
chmod 644 "$WORK/www/cached.json"

# The JWT scenarios: an RSA key made here, its JWKS served by the upstream, and one RS256
# token (signed by openssl; valid for a day).
openssl genrsa -out "$WORK/jwt.pem" 2048 2>/dev/null
JWT_MODULUS=$(openssl rsa -in "$WORK/jwt.pem" -noout -modulus | cut -d= -f2)
read -r JWKS JWT_SIGNING_INPUT < <(python3 - "$JWT_MODULUS" <<'PY'
import base64, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
n = bytes.fromhex(sys.argv[1])
jwks = {"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig", "n": b64(n), "e": "AQAB"}]}
header = {"alg": "RS256", "typ": "JWT", "kid": "bench"}
claims = {"iss": "https://issuer.bench", "aud": "bench", "sub": "bench-user", "scope": "read",
          "iat": int(time.time()) - 10, "exp": int(time.time()) + 86400}
print(json.dumps(jwks, separators=(",", ":")),
      b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode()))
PY
)
printf '%s' "$JWKS" >"$WORK/www/jwks.json"
chmod 644 "$WORK/www/jwks.json"
JWT_SIGNATURE=$(printf '%s' "$JWT_SIGNING_INPUT" | openssl dgst -sha256 -sign "$WORK/jwt.pem" -binary |
    python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())')
JWT_TOKEN="$JWT_SIGNING_INPUT.$JWT_SIGNATURE"

# The SigV4 scenario signs with botocore (as the AWS CLI does), in a venv of its own; a
# signature is good for 5 minutes, so each measurement signs afresh (REFRESH below).
SIGV4_PYTHON=$ROOT/tests/.venv/bin/python
if ! "$SIGV4_PYTHON" -c 'import botocore' 2>/dev/null; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check botocore==1.44.8
    SIGV4_PYTHON=$WORK/venv/bin/python
fi
sigv4_headers() {
    "$SIGV4_PYTHON" "$ROOT/tests/sigv4_client.py" GET "${URL[portico-sigv4]}" \
        --key "$SIGV4_KEY" --secret "$SIGV4_SECRET" --print-headers
}
proxy_conf "$PROXY_PORT" "" proxy >"$WORK/proxy.conf"
proxy_conf "$PINNED_PORT" "worker_cpu_affinity auto;" proxy-pinned >"$WORK/proxy-pinned.conf"

# A JWT authorizer whose key set the upstream nginx serves ($1: scheme name, $2: result TTL).
jwt_scheme() {
    cat <<EOT
    $1:
      type: oauth2
      flows: {}
      x-amazon-apigateway-authorizer:
        type: jwt
        authorizerResultTtlInSeconds: $2
        identitySource: \$request.header.Authorization
        x-portico-jwks-uri: http://127.0.0.1:$UP_PORT/jwks.json
        jwtConfiguration: {issuer: "https://issuer.bench", audience: [bench]}
EOT
}

# One API, every route to the same upstream: plain `/{proxy+}`; behind the Rust header
# authorizer with a fresh instance per call (the default) or with reused instances, both with
# result caching off (authorizerResultTtlInSeconds: 0) so every request calls the plugin, and
# with AWS's default result caching (300 s); requiring an API key; the full pipeline (API key
# and the uncached authorizer, fresh or reused instances); and a cached GET (authorizer_scheme is in lib.sh).
cat >"$WORK/api.yaml" <<EOF
openapi: 3.0.1
info: {title: bench, version: '1'}
components:
  securitySchemes:
$(jwt_scheme jwt 0)
$(jwt_scheme jwt_cached 300)
$(authorizer_scheme policy policy-auth)
    sigv4: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}
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
$(proxy_route /full "api_key fresh")
$(proxy_route /full-reuse "api_key reuse")
$(proxy_route /jwt jwt)
$(proxy_route /jwt-cached jwt_cached)
$(proxy_route /authz-policy policy)
$(proxy_route /sigv4 sigv4)
  /cached/item.json:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:$UP_PORT/cached.json'
EOF

# The mapping scenario (lib.sh's mapped_api): `/plain` is its baseline, `/mapped` validates and
# renders. The API is served twice: `mapped.bench` renders and validates with the built-in
# engines, `mapped-wasm.bench` through the mapper-vtl and validator-jsonschema components (reused
# instances).
mapped_api >"$WORK/mapped.yaml"
order_body "$WORK/order.lua" "$WORK/order.json"

BENCH_KEY=bench-key-0123456789abcdef
SIGV4_KEY=AKIDBENCH00000000000
SIGV4_SECRET=bench-secret-0123456789abcdef
# $1: data directory; $2: extra `traffic:` lines (cluster mode).
gateway_file() {
    cat <<EOF
listeners:
  - address: 127.0.0.1:0
access_log: 'off'
reload:
  watch: false
$(bench_traffic "$1")
$2
api_keys:
  - {name: bench, value: $BENCH_KEY}
usage_plans:
  - name: bench-plan
    api_stages: [{api: bench, stage: bench}]
    throttle: {rate_limit: 10000000, burst_limit: 10000000}
    quota: {limit: 1000000000, period: DAY}
    keys: [bench]
aws: {region: us-east-1, account_id: "000000000000"}
iam:
  credentials:
    - access_key_id: $SIGV4_KEY
      secret_access_key: $SIGV4_SECRET
      user: bench
      policy: {Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "*"}]}
plugins:
  - name: policy-auth
    kind: authorizer
    file: $ROOT/plugins/dist/authorizer-policy.wasm
    config: {outputs: {bench-token: {principalId: bench-user, policyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: \$methodArn}]}, context: {tier: gold}}}}
  - name: header-auth
    kind: authorizer
    file: $AUTHORIZER
    config: {header: authorization, tokens: {bench-token: bench-user}}
  - name: header-auth-reuse
    kind: authorizer
    file: $AUTHORIZER
    config: {header: authorization, tokens: {bench-token: bench-user}}
    instances: reuse
  - {name: vtl, kind: template-mapper, file: $ROOT/plugins/dist/mapper-vtl.wasm, instances: reuse}
  - {name: schema, kind: model-validator, file: $ROOT/plugins/dist/validator-jsonschema.wasm, instances: reuse}
apis:
  - name: mapped
    spec: mapped.yaml
    hosts: [mapped.bench]
    stages: {bench: {}}
  - name: mapped-wasm
    spec: mapped.yaml
    hosts: [mapped-wasm.bench]
    stages: {bench: {}}
    template_mapper: vtl
    model_validator: schema
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
start_nginx "$WORK/proxy-pinned.conf" proxy-pinned
PINNED_PID=$!

start_portico portico "$WORK/gateway.yaml" "127.0.0.1:$PORTICO_PORT"
PORTICO_PID=$PORTICO_STARTED
PORTICO_ADDR=127.0.0.1:$PORTICO_PORT

# The cluster node: Redis, then a second Portico on the cluster gateway file.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
start_portico portico-cluster "$WORK/gateway-cluster.yaml" "127.0.0.1:$CLUSTER_PORT"
CLUSTER_PID=$PORTICO_STARTED
CLUSTER_ADDR=127.0.0.1:$CLUSTER_PORT

# Per target: URL, server process (for the CPU figure) and wrk header.
declare -A URL PID H
URL[direct]=http://127.0.0.1:$UP_PORT/item.json
PID[direct]=$UPSTREAM_PID
URL[nginx-proxy]=http://127.0.0.1:$PROXY_PORT/item.json
PID[nginx-proxy]=$PROXY_PID
URL[nginx-proxy-pinned]=http://127.0.0.1:$PINNED_PORT/item.json
PID[nginx-proxy-pinned]=$PINNED_PID
URL[portico]=http://$PORTICO_ADDR/bench/item.json
URL[portico-authz]=http://$PORTICO_ADDR/bench/authz/item.json
URL[portico-authz-reuse]=http://$PORTICO_ADDR/bench/authz-reuse/item.json
URL[portico-authz-cached]=http://$PORTICO_ADDR/bench/authz-cached/item.json
URL[portico-cache]=http://$PORTICO_ADDR/bench/cached/item.json
URL[portico-apikey]=http://$PORTICO_ADDR/bench/keyed/item.json
URL[portico-apikey-cluster]=http://$CLUSTER_ADDR/bench/keyed/item.json
URL[portico-full]=http://$PORTICO_ADDR/bench/full/item.json
URL[portico-full-reuse]=http://$PORTICO_ADDR/bench/full-reuse/item.json
URL[portico-jwt]=http://$PORTICO_ADDR/bench/jwt/item.json
URL[portico-jwt-cached]=http://$PORTICO_ADDR/bench/jwt-cached/item.json
URL[portico-authz-policy]=http://$PORTICO_ADDR/bench/authz-policy/item.json
URL[portico-sigv4]=http://$PORTICO_ADDR/bench/sigv4/item.json
URL[portico-post]=http://$PORTICO_ADDR/bench/plain/o-1234?dryRun=true
URL[portico-mapped]=http://$PORTICO_ADDR/bench/mapped/o-1234?dryRun=true
URL[portico-mapped-wasm]=http://$PORTICO_ADDR/bench/mapped/o-1234?dryRun=true
H[portico-post]="Host: mapped.bench"
H[portico-mapped]="Host: mapped.bench"
H[portico-mapped-wasm]="Host: mapped-wasm.bench"
# Targets measured with a wrk script (a POST with a body).
declare -A SCRIPT
SCRIPT[portico-post]=$WORK/order.lua
SCRIPT[portico-mapped]=$WORK/order.lua
SCRIPT[portico-mapped-wasm]=$WORK/order.lua
PID[portico-apikey-cluster]=$CLUSTER_PID
H[portico-apikey]="x-api-key: $BENCH_KEY"
H[portico-apikey-cluster]="x-api-key: $BENCH_KEY"
for t in portico portico-authz portico-authz-reuse portico-authz-cached portico-cache portico-apikey \
    portico-full portico-full-reuse portico-jwt portico-jwt-cached portico-authz-policy portico-sigv4 \
    portico-post portico-mapped portico-mapped-wasm; do
    PID[$t]=$PORTICO_PID
done
H[portico-authz]="Authorization: bench-token"
H[portico-authz-reuse]="Authorization: bench-token"
H[portico-authz-cached]="Authorization: bench-token"
H[portico-full]="x-api-key: $BENCH_KEY
Authorization: bench-token"
H[portico-full-reuse]=${H[portico-full]}
H[portico-jwt]="Authorization: Bearer $JWT_TOKEN"
H[portico-jwt-cached]=${H[portico-jwt]}
H[portico-authz-policy]="Authorization: bench-token"
H[portico-sigv4]=$(sigv4_headers)
# Targets whose headers must be made again before each measurement.
declare -A REFRESH
REFRESH[portico-sigv4]=sigv4_headers

TARGETS_GIVEN=${TARGETS:+1}
TARGETS=${TARGETS:-direct nginx-proxy nginx-proxy-pinned portico portico-authz portico-authz-reuse portico-authz-cached portico-cache portico-apikey portico-apikey-cluster portico-full portico-full-reuse portico-jwt portico-jwt-cached portico-authz-policy portico-sigv4 portico-post portico-mapped portico-mapped-wasm}
read -r -a TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
    [[ -n ${URL[$t]:-} ]] || die "unknown target $t (known: ${!URL[*]})"
    wait_ok "${URL[$t]}" "$t" "${H[$t]:-}" "${SCRIPT[$t]:+$WORK/order.json}"
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
printf '\n%-22s %12s %16s %15s %14s %15s\n' target 'rps(median)' 'cpu_us/req(med)' \
    'p99_ms(median)' 'non2xx(total)' 'sock_err(total)'
for t in "${TARGET_LIST[@]}"; do
    RPS[$t]=$(col "$t" 2 | median)
    P99[$t]=$(col "$t" 3 | median)
    CPU[$t]=$(col "$t" 6 | median)
    printf '%-22s %12.1f %16.1f %15.3f %14s %15s\n' "$t" "${RPS[$t]}" "${CPU[$t]}" \
        "${P99[$t]}" "$(sum "$t" 4)" "$(sum "$t" 5)"
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
compare portico nginx-proxy-pinned
compare portico direct
compare portico-authz portico
compare portico-authz-reuse portico
compare portico-authz-cached portico
compare portico-apikey portico
compare portico-apikey-cluster portico
compare portico-full portico
compare portico-full-reuse portico
compare portico-jwt portico
compare portico-jwt-cached portico
compare portico-authz-policy portico
compare portico-sigv4 portico
compare portico-full nginx-proxy
compare portico-full-reuse nginx-proxy
compare portico-cache direct
compare portico-cache nginx-proxy
if [[ -n ${RPS[portico-cache]:-} ]]; then
    # One miss fills the entry (TTL 3600 s); every later request must be a hit.
    printf 'upstream requests for the cached route: %s (over %s rounds)\n' \
        "$(wc -l <"$WORK/upstream-cached.log" 2>/dev/null || echo 0)" "$ROUNDS"
fi
printf '(wrk -t%s -c%s -d%s, %s rounds, medians)\n' "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS"

# --- targets -----------------------------------------------------------------------------------

# Portico's performance targets, checked against the medians of this run. A target is printed
# only when every target it names was measured. Each line: what is asked, met or MISSED, and
# the figure.
TARGETS_MET=0
TARGETS_MISSED=0
# target_line TEXT OK FIGURE: OK is 1 (met) or 0 (MISSED).
target_line() {
    local verdict=MISSED
    if [[ $2 == 1 ]]; then
        verdict=met
        TARGETS_MET=$((TARGETS_MET + 1))
    else
        TARGETS_MISSED=$((TARGETS_MISSED + 1))
    fi
    printf '  %-58s %-6s  %s\n' "$1" "$verdict" "$3"
}
measured() {
    local t
    for t in "$@"; do
        [[ -n ${RPS[$t]:-} ]] || return 1
    done
}
# rps_target A B FACTOR: A's median rps at least FACTOR times B's.
rps_target() {
    local r ok
    r=$(ratio "${RPS[$1]}" "${RPS[$2]}")
    ok=$(awk -v r="$r" -v f="$3" 'BEGIN { print (r != "nan" && r + 0 >= f) ? 1 : 0 }')
    target_line "$1 rps >= ${3}x $2" "$ok" \
        "$(printf '%sx (%.0f vs %.0f rps)' "$r" "${RPS[$1]}" "${RPS[$2]}")"
}
# cpu_target A LIMIT: A's median CPU per request at most LIMIT us above plain portico's.
cpu_target() {
    local added ok
    added=$(awk -v a="${CPU[$1]}" -v b="${CPU[portico]}" 'BEGIN { printf "%.1f", a - b }')
    ok=$(awk -v d="$added" -v l="$2" 'BEGIN { print (d + 0 < l) ? 1 : 0 }')
    target_line "$1 adds < $2 us CPU/request over portico" "$ok" \
        "$(printf '%+.1f us/req (%.1f vs %.1f)' "$added" "${CPU[$1]}" "${CPU[portico]}")"
}

printf '\ntargets (medians of this run):\n'
if measured portico nginx-proxy; then
    rr=$(ratio "${RPS[portico]}" "${RPS[nginx-proxy]}")
    pr=$(ratio "${P99[portico]}" "${P99[nginx-proxy]}")
    ok=$(awk -v r="$rr" -v a="${P99[portico]}" -v b="${P99[nginx-proxy]}" \
        'BEGIN { print (r != "nan" && r + 0 >= 1.2 && a + 0 <= b + 0) ? 1 : 0 }')
    target_line "portico rps >= 1.2x nginx-proxy, p99 no worse" "$ok" \
        "$(printf 'rps %sx (%.0f vs %.0f), p99 %sx (%.2f vs %.2f ms)' "$rr" "${RPS[portico]}" \
            "${RPS[nginx-proxy]}" "$pr" "${P99[portico]}" "${P99[nginx-proxy]}")"
fi
measured portico-full-reuse nginx-proxy && rps_target portico-full-reuse nginx-proxy 1.0
measured portico-full nginx-proxy && rps_target portico-full nginx-proxy 0.8
measured portico-authz portico && cpu_target portico-authz 10
measured portico-authz-reuse portico && cpu_target portico-authz-reuse 3
measured portico-cache direct && rps_target portico-cache direct 1.5
measured portico-jwt-cached portico && rps_target portico-jwt-cached portico 0.97
measured portico-jwt portico && cpu_target portico-jwt 15
measured portico-mapped portico-post && rps_target portico-mapped portico-post 0.85
measured portico-mapped-wasm portico-post && rps_target portico-mapped-wasm portico-post 0.85
if ((TARGETS_MET + TARGETS_MISSED == 0)); then
    printf '  (none measured: the targets compare portico, portico-full*, portico-authz*, portico-cache\n'
    printf '   against nginx-proxy, portico or direct; add those to TARGETS)\n'
else
    printf 'targets: %d met, %d MISSED\n' "$TARGETS_MET" "$TARGETS_MISSED"
fi

# The edge transport in the same run (TLS=0 skips it; a run with TARGETS set skips it unless
# TLS=1): TLS HTTP/1.1 keep-alive and HTTP/2 over TLS against nginx with TLS on the same
# certificate, the TLS handshake rate against nginx, and HTTP/3 against HTTP/2. benches/tls.sh
# measures them, interleaved over the same ROUNDS, after the cleartext scenarios above.
if [[ ${TLS:-$([[ -n ${TARGETS_GIVEN:-} ]] && echo 0 || echo 1)} == 1 ]]; then
    printf '\nedge transport (benches/tls.sh):\n'
    # This run's servers stop first, so that only tls.sh's own serve.
    bench_cleanup
    trap - EXIT
    DURATION=${DURATION%s} KEEP_DIR=${KEEP_DIR:+$KEEP_DIR/tls} bash "$ROOT/benches/tls.sh"
fi
