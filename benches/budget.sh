#!/usr/bin/env bash
# Where a proxied request's CPU goes on this machine, for the nginx keep-alive proxy and for
# Portico's plain `http_proxy` route, both in front of one nginx upstream: per request, the
# proxy's user and system time, the upstream's time and wrk's, and how much of the machine was
# idle. On a machine whose CPUs run the load generator and the upstream too, this is the budget
# a proxy has: a proxy at R requests per second can spend at most 2 CPUs / R minus what wrk and
# the upstream spend, and the script prints that bound for 1.2x nginx's rate.
#
# Usage:  bash benches/budget.sh
# Environment (all optional):
#   ROUNDS=3          rounds (each measures nginx, then Portico)
#   DURATION=5        seconds of wrk per measurement (CPU counted over all but the first and
#                     last 0.25 s for wrk itself)
#   PORTICO_BIN=PATH  the binary (default: the release build; SKIP_BUILD=1 to not build)
# Installs nginx, wrk, curl and python3 when missing (root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}

LOG_TAG=budget
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

ensure_tools nginx wrk python3 curl
NGINX=$(command -v nginx)
bench_workdir
portico_binary

read -r UP_PORT PROXY_PORT PT_PORT < <(free_ports 3)
start_upstream
proxy_conf "$PROXY_PORT" "" proxy >"$WORK/proxy.conf"
start_nginx "$WORK/proxy.conf" proxy
plain_api >"$WORK/api.yaml"
bench_gateway "$WORK/data" >"$WORK/gateway.yaml"
start_portico portico "$WORK/gateway.yaml" "127.0.0.1:$PT_PORT"
PORTICO_PID=$PORTICO_STARTED
wait_ok "http://127.0.0.1:$PROXY_PORT/item.json" nginx-proxy
wait_ok "http://127.0.0.1:$PT_PORT/bench/item.json" portico

HZ=$(getconf CLK_TCK)
# Idle and total ticks of the whole machine.
machine() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# nginx masters; proc_ticks counts their workers too.
UPSTREAM=$(cat "$WORK/upstream.pid")
for ((r = 1; r <= ROUNDS; r++)); do
    for proxy in nginx portico; do
        if [[ $proxy == nginx ]]; then
            url=http://127.0.0.1:$PROXY_PORT/item.json
            pid=$(cat "$WORK/proxy.pid")
        else
            url=http://127.0.0.1:$PT_PORT/bench/item.json
            pid=$PORTICO_PID
        fi
        read -r pu0 ps0 < <(proc_ticks "$pid")
        read -r uu0 us0 < <(proc_ticks "$UPSTREAM")
        read -r idle0 all0 < <(machine)
        wrk -t2 -c32 -d"${DURATION}s" "$url" >"$WORK/wrk.out" &
        wrk_pid=$!
        sleep 0.25
        read -r wu0 ws0 < <(proc_ticks "$wrk_pid")
        wrk_window=$(python3 -c "print($DURATION - 0.5)")
        sleep "$wrk_window"
        read -r wu1 ws1 < <(proc_ticks "$wrk_pid")
        wait "$wrk_pid"
        read -r pu1 ps1 < <(proc_ticks "$pid")
        read -r uu1 us1 < <(proc_ticks "$UPSTREAM")
        read -r idle1 all1 < <(machine)
        reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
        rps=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.out")
        grep -q 'Non-2xx\|Socket errors' "$WORK/wrk.out" && die "$proxy: errors: $(cat "$WORK/wrk.out")"
        python3 - "$r" "$proxy" "$rps" >>"$WORK/rounds" <<EOF
import sys
hz, n, rps = $HZ, $reqs, float(sys.argv[3])
per = lambda t: t / hz / n * 1e6
wrk = ($wu1 - $wu0 + $ws1 - $ws0) / hz / $wrk_window / rps * 1e6
idle = 100 * ($idle1 - $idle0) / ($all1 - $all0)
print(sys.argv[1], sys.argv[2], rps, per($pu1 - $pu0), per($ps1 - $ps0),
      per($uu1 - $uu0 + $us1 - $us0), wrk, idle)
EOF
        log "$(tail -n 1 "$WORK/rounds" | awk '{ printf "round %s %s: %.0f rps; µs per request: user %.2f, system %.2f, upstream %.2f, wrk %.2f; idle %.1f%%", $1, $2, $3, $4, $5, $6, $7, $8 }')"
    done
done

python3 - "$WORK/rounds" "$(nproc)" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
cpus = int(sys.argv[2])
med = {}
print("medians, µs of CPU per request:")
print(f"{'proxy':8} {'rps':>8} {'user':>6} {'system':>7} {'upstream':>9} {'wrk':>6} {'idle':>6}")
for proxy in ("nginx", "portico"):
    cols = [[float(r[i]) for r in rows if r[1] == proxy] for i in range(2, 8)]
    m = [statistics.median(c) for c in cols]
    med[proxy] = m
    print(f"{proxy:8} {m[0]:8.0f} {m[1]:6.2f} {m[2]:7.2f} {m[3]:9.2f} {m[4]:6.2f} {m[5]:5.1f}%")
n = med["nginx"]
target = 1.2 * n[0]
others = (n[3] + med["portico"][3]) / 2 + (n[4] + med["portico"][4]) / 2
budget = cpus * 1e6 / target - others
print(f"1.2x nginx is {target:.0f} rps: with every CPU busy, {cpus * 1e6 / target:.2f} µs per request "
      f"for all, {others:.2f} of them the upstream's and wrk's, so at most {budget:.2f} µs "
      f"for the proxy (Portico's system time alone: {med['portico'][2]:.2f})")
EOF
