#!/usr/bin/env bash
# TLS load comparison: Portico against nginx terminating TLS with the same certificate (ECDSA
# P-256), both proxying to the same nginx upstream (a ~100-byte JSON file), in one run,
# interleaved over ROUNDS rounds and summarised by medians and ratios:
#   tls-h1     wrk, HTTPS keep-alive (HTTP/1.1): Portico vs nginx,
#   tls-h2     h2load, HTTP/2 over TLS (ALPN h2), 10 streams per connection: Portico vs nginx,
#   handshake  wrk with `Connection: close`: a new TCP connection and full TLS handshake per
#              request: Portico vs nginx,
#   h3         benches' h3load (src/bin/h3load.rs) against Portico over HTTP/3 and, with the
#              same client, over HTTP/2: the HTTP/3 / HTTP/2 ratio.
#
# Usage:  bash benches/tls.sh
# Environment (all optional):
#   DURATION=10       seconds per measurement
#   CONNECTIONS=32    connections (wrk -c, h2load -c; h3load uses CONNECTIONS/4 x 4 streams)
#   THREADS=2         wrk and h2load threads
#   ROUNDS=3          measurements per target
#   SKIP_BUILD=1      use the existing release binaries
#   KEEP_DIR=PATH     keep the raw outputs and configs
#
# Installs nginx, wrk, h2load (nghttp2-client), curl, openssl and python3 when missing (root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
KEEP_DIR=${KEEP_DIR:-}

LOG_TAG=tls
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

ensure_tools nginx wrk h2load python3 curl openssl
NGINX=$(command -v nginx)
bench_workdir
portico_binary
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    (cd "$ROOT" && cargo build --release -p portico-benches --bin h3load)
fi
H3LOAD=$target_dir/release/h3load
[[ -x $H3LOAD ]] || die "no h3load at $H3LOAD (build it, or unset SKIP_BUILD)"

# --- certificates: a CA and one server certificate for both servers --------------------------

HOST=bench.example.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=Portico Bench CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$HOST" -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$HOST" \
    >"$WORK/server.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 2 -extfile "$WORK/server.ext" -out "$WORK/server.pem" 2>/dev/null
chmod 644 "$WORK"/*.pem "$WORK"/*.key

read -r UP_PORT NGX_PORT PT_PLAIN PT_TLS < <(free_ports 4)

upstream_conf "$UP_PORT" >"$WORK/upstream.conf"
start_nginx "$WORK/upstream.conf" upstream

# nginx as the TLS-terminating proxy: one worker per core, as Portico runs one per core.
cat >"$WORK/nginx-tls.conf" <<EOF
worker_processes auto;
error_log $WORK/nginx-tls-error.log warn;
pid $WORK/nginx-tls.pid;
events { worker_connections 4096; }
http {
$(nginx_http_common)
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$NGX_PORT ssl http2;
        ssl_certificate $WORK/server.pem;
        ssl_certificate_key $WORK/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
start_nginx "$WORK/nginx-tls.conf" nginx-tls
NGX_PID=$!

UP_PORT=$UP_PORT
{
    printf 'openapi: 3.0.1\ninfo: {title: bench, version: "1"}\npaths:\n'
    proxy_route ""
} >"$WORK/api.yaml"
cat >"$WORK/gateway.yaml" <<EOF
listeners:
  - address: 127.0.0.1:$PT_TLS
    tls:
      certificate: $WORK/server.pem
      key: $WORK/server.key
      http3: true
access_log: off
reload: {watch: false}
cache_dir: off
$(bench_traffic off)
apis:
  - name: bench
    spec: $WORK/api.yaml
    stages:
      prod: {}
EOF
start_portico portico "$WORK/gateway.yaml" "127.0.0.1:$PT_PLAIN"
PT_PID=$PORTICO_STARTED

wait_ok "http://127.0.0.1:$UP_PORT/item.json" upstream
for url in "https://127.0.0.1:$NGX_PORT/item.json" "https://127.0.0.1:$PT_TLS/prod/item.json"; do
    code=$(curl -sk -o /dev/null -w '%{http_code}' "$url")
    [[ $code == 200 ]] || die "$url answered $code"
done
log "nginx TLS on $NGX_PORT, Portico TLS (and HTTP/3) on $PT_TLS"

RESULTS=$WORK/results.tsv
: >"$RESULTS"

median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]
        else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

record() {
    printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
    printf '  round %d  %-18s rps %10.1f\n' "$3" "$1" "$2" >&2
}

wrk_rps() {
    local out=$WORK/wrk-$1-$2.txt
    shift 2
    run_loadgen wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" >"$out" || die "wrk $*"
    # A rate of error answers is no rate: every answer must be a 2xx.
    if grep -q 'Non-2xx or 3xx responses:' "$out"; then
        die "wrk $*: $(grep 'Non-2xx or 3xx responses:' "$out")"
    fi
    awk '/^Requests\/sec:/ { print $2 }' "$out"
}

h2load_rps() {
    local out=$WORK/h2load-$1-$2.txt
    run_loadgen h2load -c"$CONNECTIONS" -t"$THREADS" -m10 -D"$DURATION" "$3" >"$out" 2>&1 ||
        die "h2load $3: $(tail -n 5 "$out")"
    grep -q 'Application protocol: h2' "$out" || die "h2load did not negotiate h2 with $3"
    # "status codes: N 2xx, 0 3xx, 0 4xx, 0 5xx": every answer must be a 2xx.
    grep -Eq 'status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx' "$out" ||
        die "h2load $3 got answers other than 2xx: $(grep 'status codes' "$out")"
    awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i) ~ /req\/s/) { v = $(i - 1); gsub(",", "", v); print v } }' "$out"
}

h3load_rps() {
    local out=$WORK/h3load-$1-$2.txt
    run_loadgen "$H3LOAD" --proto "$3" --addr "127.0.0.1:$PT_TLS" --host "$HOST" \
        --path /prod/item.json --ca "$WORK/ca.pem" --connections $((CONNECTIONS / 4 > 0 ? CONNECTIONS / 4 : 1)) \
        --streams 4 --duration "$DURATION" >"$out" 2>&1 || die "h3load $3: $(cat "$out")"
    grep -q 'errors=0' "$out" || die "h3load $3 got failed or non-2xx answers: $(cat "$out")"
    sed -n 's/.* rps=\([0-9.]*\).*/\1/p' "$out"
}

NGX_URL=https://127.0.0.1:$NGX_PORT/item.json
PT_URL=https://127.0.0.1:$PT_TLS/prod/item.json
for ((round = 1; round <= ROUNDS; round++)); do
    record nginx-tls-h1 "$(wrk_rps nginx-tls-h1 "$round" "$NGX_URL")" "$round"
    record portico-tls-h1 "$(wrk_rps portico-tls-h1 "$round" "$PT_URL")" "$round"
    record nginx-tls-h2 "$(h2load_rps nginx-tls-h2 "$round" "$NGX_URL")" "$round"
    record portico-tls-h2 "$(h2load_rps portico-tls-h2 "$round" "$PT_URL")" "$round"
    record nginx-handshake "$(wrk_rps nginx-handshake "$round" -H 'Connection: close' "$NGX_URL")" "$round"
    record portico-handshake "$(wrk_rps portico-handshake "$round" -H 'Connection: close' "$PT_URL")" "$round"
    record portico-h3 "$(h3load_rps portico-h3 "$round" h3)" "$round"
    record portico-h2-same-client "$(h3load_rps portico-h2-same-client "$round" h2)" "$round"
done

med() { awk -F'\t' -v t="$1" '$1 == t { print $2 }' "$RESULTS" | median; }
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

echo
echo "medians over $ROUNDS rounds (${DURATION}s each, $CONNECTIONS connections):"
for t in nginx-tls-h1 portico-tls-h1 nginx-tls-h2 portico-tls-h2 nginx-handshake portico-handshake portico-h3 portico-h2-same-client; do
    printf '  %-24s %10s rps\n' "$t" "$(med "$t")"
done
echo
echo "ratios:"
printf '  TLS HTTP/1.1 keep-alive   portico / nginx   %s  (target >= 1.0)\n' "$(ratio portico-tls-h1 nginx-tls-h1)"
printf '  HTTP/2 over TLS (h2load)  portico / nginx   %s  (target >= 1.0)\n' "$(ratio portico-tls-h2 nginx-tls-h2)"
printf '  TLS handshake per request portico / nginx   %s\n' "$(ratio portico-handshake nginx-handshake)"
printf '  HTTP/3 / HTTP/2 (portico, one client)       %s\n' "$(ratio portico-h3 portico-h2-same-client)"
