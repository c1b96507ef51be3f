# Shared by benches/load.sh, benches/soak.sh and benches/instructions.sh; sourced, not run. The caller sets
# `set -euo pipefail` and LOG_TAG first. It provides:
#   log, die                      messages on stderr, tagged [LOG_TAG]
#   ensure_tools TOOL...          installs the missing ones with apt-get (nginx, wrk, h2load, ...)
#   bench_workdir                 WORK (a scratch directory) and the EXIT trap that stops every
#                                 process in PIDS, copies WORK to KEEP_DIR if set, removes WORK
#   free_ports N                  N free TCP ports on 127.0.0.1
#   header_args HEADERS ARRAY     curl/wrk/h2load `-H` arguments from one header per line
#   wait_ok URL NAME [HEADERS]    waits for a 200
#   start_nginx CONF NAME         nginx in the foreground; its pid in PIDS and $!
#   upstream_conf PORT [EXTRA]    the nginx upstream: one worker, static files under WORK/www
#   portico_binary                PORTICO: the release binary (built unless SKIP_BUILD=1,
#                                 honouring CARGO_TARGET_DIR); plugins/dist built if missing
#   bench_traffic [DATA_DIR]      the gateway file's `traffic:` block, account limit raised
#   start_portico NAME CONF LISTEN [ADMIN]
#                                 `portico serve`, ready when it answers; pid in PORTICO_STARTED
#   rss_kb PID                    the resident set size of PID (VmRSS, kB)
#   mapped_api, order_body LUA JSON
#                                 the mapping scenario's API and its order body
# They rely only on the CLI (`portico serve --config F --listen A --admin B`), the gateway file
# format and the admin API.

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- tools -------------------------------------------------------------------------------------

# Installs the Debian packages of the tools named (nginx wrk h2load python3 curl redis-server)
# that are not on PATH. Needs root when something is missing.
ensure_tools() {
    local tool pkg missing=()
    for tool in "$@"; do
        case $tool in
            nginx) pkg=nginx ;;
            wrk) pkg=wrk ;;
            h2load) pkg=nghttp2-client ;;
            python3) pkg=python3 ;;
            curl) pkg=curl ;;
            openssl) pkg=openssl ;;
            redis-server) pkg=redis-server ;;
            valgrind) pkg=valgrind ;;
            *) die "ensure_tools: unknown tool $tool" ;;
        esac
        command -v "$tool" >/dev/null 2>&1 || [[ -x /usr/sbin/$tool ]] || missing+=("$pkg")
    done
    PATH=$PATH:/usr/sbin
    if ((${#missing[@]} == 0)); then
        return
    fi
    log "installing: ${missing[*]}"
    # Keep the package scripts from starting a system nginx on port 80 (or a system Redis): a
    # temporary policy-rc.d that forbids service starts, unless one is already in place.
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

# --- scratch directory and cleanup -----------------------------------------------------------

PIDS=()
# A foreground load generator (wrk, h2load) run in the background and waited for, so that a
# signal runs the cleanup at once instead of after it finishes.
LOADGEN_PID=

bench_cleanup() {
    local pid
    if [[ -n ${LOADGEN_PID:-} ]]; then
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n ${KEEP_DIR:-} && -n ${WORK:-} ]]; then
        mkdir -p "$KEEP_DIR" && cp -r "$WORK"/. "$KEEP_DIR"/ && log "raw outputs kept in $KEEP_DIR"
    fi
    [[ -n ${WORK:-} ]] && rm -rf "$WORK"
    return 0
}

# Makes WORK and installs the traps. nginx workers drop to `nobody` when the master runs as
# root: they must be able to read the static files and write the temp paths.
bench_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/portico-$LOG_TAG.XXXXXX")
    chmod 755 "$WORK"
    mkdir -p "$WORK/tmp" "$WORK/www"
    chmod 777 "$WORK/tmp"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Runs the load generator "$@" in the background and waits for it (see LOADGEN_PID); returns
# its exit status.
run_loadgen() {
    local rc=0
    "$@" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=
    return "$rc"
}

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

# Sets the array named $2 to curl/wrk/h2load arguments for the headers in $1 (one
# `Name: value` per line; empty for none).
header_args() {
    local -n _args=$2
    local line
    _args=()
    while IFS= read -r line; do
        [[ -n $line ]] && _args+=(-H "$line")
    done <<<"$1"
    return 0
}

# Waits until URL $1 answers 200 (sent with the headers $3, one per line, if any), up to
# ~20 s; prints the body once.
wait_ok() {
    local url=$1 name=$2 i code hdr=()
    header_args "${3:-}" hdr
    # $4: a JSON file to POST instead of a GET.
    if [[ -n ${4:-} ]]; then
        hdr+=(-X POST -H 'Content-Type: application/json' --data-binary "@$4")
    fi
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

# Shared nginx http{} settings. keepalive_requests is raised from nginx's default of 1000 so
# that neither the clients' connections nor a proxy's upstream connections are closed and
# reopened during a run (Portico has no such per-connection limit).
nginx_http_common() {
    cat <<EOF
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/tmp/client_body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
EOF
}

# The nginx upstream on 127.0.0.1:$1: one worker (a single worker keeps it from taking both
# cores away from the proxy being measured), serving WORK/www with keep-alive; $2 is extra
# server{} lines. Writes WORK/www/item.json (~100 bytes of JSON) and prints the config.
upstream_conf() {
    printf '{"id":"item-0042","name":"benchmark item","price":19.99,"tags":["load","test"],"stock":1200}\n' \
        >"$WORK/www/item.json"
    chmod 644 "$WORK/www/item.json"
    cat <<EOF
worker_processes 1;
error_log $WORK/upstream-error.log warn;
pid $WORK/upstream.pid;
events { worker_connections 4096; }
http {
$(nginx_http_common)
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$1;
        root $WORK/www;
        location / { default_type application/json; }
${2:-}
    }
}
EOF
}

# The nginx keep-alive proxy in front of the upstream on $UP_PORT: two workers (= the machine's 2
# cores, what `auto` gives here, fixed so the comparison does not change on bigger machines),
# like Portico's one worker thread per core. $1: the listening port; $2: extra main-context
# lines; $3: the pid file's name. Used by load.sh and budget.sh.
proxy_conf() {
    cat <<EOF
worker_processes 2;
$2
error_log $WORK/proxy-error.log warn;
pid $WORK/$3.pid;
events { worker_connections 4096; }
http {
$(nginx_http_common)
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

# Starts the nginx upstream (upstream_conf) on $UP_PORT and waits until it serves.
start_upstream() {
    upstream_conf "$UP_PORT" >"$WORK/upstream.conf"
    start_nginx "$WORK/upstream.conf" upstream
    wait_ok "http://127.0.0.1:$UP_PORT/item.json" upstream
}

# Starts nginx in the foreground (no daemon) with config file $1; records the master pid in
# PIDS (and leaves it in $!).
start_nginx() {
    local conf=$1 name=$2
    "$NGINX" -t -q -c "$conf" -p "$WORK/" -g 'daemon off;' -e "$WORK/$name-startup.log" ||
        die "nginx config $conf is invalid"
    "$NGINX" -c "$conf" -p "$WORK/" -g 'daemon off;' -e "$WORK/$name-startup.log" \
        >"$WORK/$name.stdout" 2>&1 &
    PIDS+=($!)
}

# The gateway file's `traffic:` block for a bench, $1 its `data_dir` (none if not given).
# AWS's account default (10 000 rps) is below what this machine pushes: it is raised, so that
# Portico is measured unthrottled (its 429s would otherwise count as requests).
bench_traffic() {
    printf 'traffic:\n  account: {rate_limit: 10000000, burst_limit: 10000000}\n'
    if [[ -n ${1:-} ]]; then
        printf '  data_dir: %s\n' "$1"
    fi
}

# --- API documents ------------------------------------------------------------------------------

# proxy_route PREFIX [SCHEMES]: `PREFIX/{proxy+}` ANY as an http_proxy route to the upstream on
# $UP_PORT, guarded by the security schemes SCHEMES (space-separated, all required: one security
# requirement naming each) if given. Used by load.sh and soak.sh.
proxy_route() {
    echo "  $1/{proxy+}:"
    echo "    x-amazon-apigateway-any-method:"
    if [[ -n ${2:-} ]]; then
        local req= scheme
        for scheme in $2; do
            req+="${req:+, }$scheme: []"
        done
        echo "      security: [{$req}]"
    fi
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

# plain_api [SCHEME]: the one-route API of the plain scenario (proxy_route at the root), behind
# a TOKEN authorizer scheme named SCHEME over header_authorizer's plugin if given. Used by
# instructions.sh, ab.sh and budget.sh.
plain_api() {
    printf 'openapi: 3.0.1\ninfo: {title: bench, version: "1"}\n'
    if [[ -n ${1:-} ]]; then
        printf 'components:\n  securitySchemes:\n'
        authorizer_scheme "$1" header-auth
    fi
    printf 'paths:\n'
    proxy_route "" "${1:-}"
}

# The gateway file's `plugins:` block for the Rust header authorizer (`header-auth`, the token
# `bench-token`), with instances $1 (fresh or reuse): load.sh's portico-authz scenarios.
header_authorizer() {
    cat <<EOT
plugins:
  - name: header-auth
    kind: authorizer
    file: $BENCH_ROOT/plugins/dist/authorizer-header.wasm
    config: {header: authorization, tokens: {bench-token: bench-user}}
    instances: $1
EOT
}

# bench_gateway DATA_DIR [EXTRA]: a gateway file serving WORK/api.yaml as API `bench`, stage
# `bench`, with no access log, no file watch, no compile cache and no throttling; EXTRA
# (top-level lines, e.g. header_authorizer's) added.
bench_gateway() {
    cat <<EOT
access_log: off
reload: {watch: false}
cache_dir: off
$(bench_traffic off)
data_dir: $1
${2:-}
apis:
  - name: bench
    spec: $WORK/api.yaml
    stages:
      bench: {}
EOT
}

# authorizer_scheme NAME PLUGIN [TTL]: a securitySchemes entry for a Wasm TOKEN authorizer
# (plugin PLUGIN) reading the Authorization header, with result TTL TTL (default 0: a call per
# request).
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

# mapped_api: the mapping scenario's API, for a POST of a ~1 KB order (order_body). `/plain/{id}`
# sends it through `http_proxy` untouched (the baseline); `/mapped/{id}` checks its required
# parameters and its body against a draft-4 model, renders the ~30-line request template of
# benches/fixtures/order-template.vtl (which benches/benches/mapping.rs renders too), calls the
# upstream on $UP_PORT, and renders a response template over the upstream's JSON. Used by
# load.sh and instructions.sh.
mapped_api() {
    {
        cat <<'EOT'
openapi: 3.0.1
info: {title: mapped, version: '1'}
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
components:
  schemas:
    Order:
      type: object
      required: [customer, items]
      properties:
        customer:
          type: object
          required: [name, email]
          properties:
            name: {type: string, minLength: 1, maxLength: 100}
            email: {type: string}
            vip: {type: boolean}
        items:
          type: array
          minItems: 1
          maxItems: 50
          items:
            type: object
            required: [sku, quantity, price]
            additionalProperties: false
            properties:
              sku: {type: string, pattern: '^SKU-[0-9]+$'}
              title: {type: string}
              quantity: {type: integer, minimum: 1}
              price: {type: number, minimum: 0}
        note: {type: string, maxLength: 500}
paths:
  /plain/{id}:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: 'http://127.0.0.1:UP_PORT/item.json'
  /mapped/{id}:
    post:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {name: dryRun, in: query, required: true, schema: {type: string}}
      x-amazon-apigateway-request-validator: all
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Order'}}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: 'http://127.0.0.1:UP_PORT/item.json'
        passthroughBehavior: never
        requestTemplates:
          application/json: |
EOT
        sed 's/^/            /' "$BENCH_ROOT/benches/fixtures/order-template.vtl"
        cat <<'EOT'
        responses:
          default:
            statusCode: 200
            responseTemplates:
              application/json: |
                #set($item = $input.path('$'))
                {"sku": "$item.id", "title": "$util.escapeJavaScript($item.name)", "price": $item.price, "tags": $input.json('$.tags'), "available": #if($item.stock > 0)true#{else}false#end, "requestId": "$context.requestId"}
EOT
    } | sed "s/UP_PORT/$UP_PORT/"
}

# order_body LUA JSON: the mapping scenario's order (benches/fixtures/order.json, the body
# benches/benches/mapping.rs renders too), as a wrk script (LUA) and as a file (JSON).
order_body() {
    python3 - "$1" "$2" "$BENCH_ROOT/benches/fixtures/order.json" <<'EOT'
import json, sys
with open(sys.argv[3]) as f:
    body = f.read().strip()
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write('wrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = " + json.dumps(body) + "\n")
with open(sys.argv[2], "w") as f:
    f.write(body)
EOT
}

# --- Portico -----------------------------------------------------------------------------------

# Sets PORTICO to the release binary, building it unless SKIP_BUILD=1 (CARGO_TARGET_DIR is
# honoured), and builds the plugins (plugins/build.sh) when plugins/dist has no
# authorizer-header.wasm.
portico_binary() {
    local target_dir=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
    [[ $target_dir == /* ]] || target_dir=$BENCH_ROOT/$target_dir
    PORTICO=${PORTICO_BIN:-$target_dir/release/portico}
    if [[ ${SKIP_BUILD:-0} != 1 && -z ${PORTICO_BIN:-} ]]; then
        log "building portico (release); the first build takes several minutes"
        (cd "$BENCH_ROOT" && cargo build --release -p portico)
    fi
    [[ -x $PORTICO ]] || die "no binary at $PORTICO (build it, or unset SKIP_BUILD)"
    if [[ ! -f $BENCH_ROOT/plugins/dist/authorizer-header.wasm ]]; then
        log "building the plugins (plugins/build.sh)"
        bash "$BENCH_ROOT/plugins/build.sh" >&2
    fi
}

# Starts `portico serve --config $2 --listen $3 [--admin $4]` as NAME $1 (stdout and stderr in
# WORK/$1.stdout, .stderr); ready when the admin listener's /health answers 200, or without
# one when the data-plane listener answers HTTP at all. Sets PORTICO_STARTED to its pid.
start_portico() {
    local name=$1 conf=$2 listen=$3 admin=${4:-} args=() i code url
    args=(serve --config "$conf" --listen "$listen")
    [[ -n $admin ]] && args+=(--admin "$admin")
    "$PORTICO" "${args[@]}" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
    PORTICO_STARTED=$!
    PIDS+=("$PORTICO_STARTED")
    url=http://$listen/
    [[ -n $admin ]] && url=http://$admin/health
    for ((i = 0; i < 600; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
        if [[ -n $admin && $code == 200 ]] || [[ -z $admin && -n $code && $code != 000 ]]; then
            return 0
        fi
        kill -0 "$PORTICO_STARTED" 2>/dev/null ||
            die "$name exited: $(tail -n 20 "$WORK/$name.stderr")"
        sleep 0.1
    done
    die "$name did not answer at $url within 60 s"
}

# CPU time used so far by process $1 and its child processes (the nginx workers of a master),
# in clock ticks: "user system".
proc_ticks() {
    local pid user=0 sys=0 rest u s
    for pid in "$1" $(ps -o pid= --ppid "$1"); do
        # Fields after "pid (comm) ": state is 1, utime 12, stime 13.
        rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        read -r u s < <(awk '{ print $12, $13 }' <<<"$rest")
        user=$((user + u)) sys=$((sys + s))
    done
    echo "$user $sys"
}

# The same, user and system together.
cpu_ticks() {
    local user sys
    read -r user sys < <(proc_ticks "$1")
    echo $((user + sys))
}

# VmRSS of process $1 in kB (all threads), from /proc.
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
