#!/usr/bin/env bash
# Two Portico binaries side by side on the plain `http_proxy` route: both gateways run at once
# in front of one nginx upstream, and wrk loads each in turn, ROUNDS times, so that the
# machine's drift between runs falls on both alike. Prints, for each binary, the median rps and
# the median CPU per request (the gateway's user + system time from /proc over the requests
# wrk counted), and B's medians over A's. A change worth a few percent shows here when a
# whole load.sh run, one binary after the other, moves by ±10 %.
#
# Usage:  A=/path/to/portico-before B=/path/to/portico-after bash benches/ab.sh
# Environment (all optional):
#   ROUNDS=8          rounds (each measures A, then B)
#   DURATION=4s       wrk's duration per measurement
#   CONNECTIONS=32    wrk connections (2 threads)
#   SCENARIO=plain    plain: GET through `http_proxy`; authz-reuse, authz: the same route
#                     behind the Rust TOKEN authorizer, result TTL 0, reused or fresh
#                     instances (load.sh's portico-authz-reuse and portico-authz)
# Installs nginx, wrk, curl and python3 when missing (root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-4s}
CONNECTIONS=${CONNECTIONS:-32}
SCENARIO=${SCENARIO:-plain}
: "${A:?set A to the first binary}" "${B:?set B to the second binary}"

LOG_TAG=ab
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

ensure_tools nginx wrk python3 curl
NGINX=$(command -v nginx)
bench_workdir

read -r UP_PORT A_PORT B_PORT < <(free_ports 3)
start_upstream

HEADERS= PLUGINS=
case $SCENARIO in
plain) plain_api >"$WORK/api.yaml" ;;
authz | authz-reuse)
    instances=fresh
    [[ $SCENARIO == authz-reuse ]] && instances=reuse
    PLUGINS=$(header_authorizer "$instances")
    plain_api auth >"$WORK/api.yaml"
    HEADERS='authorization: bench-token'
    ;;
*) die "SCENARIO must be plain, authz or authz-reuse, not \"$SCENARIO\"" ;;
esac

declare -A PID
for side in A B; do
    port_var=${side}_PORT
    PORTICO=${!side}
    [[ -x $PORTICO ]] || die "no binary at $PORTICO"
    bench_gateway "$WORK/data-$side" "$PLUGINS" >"$WORK/gateway-$side.yaml"
    start_portico "portico-$side" "$WORK/gateway-$side.yaml" "127.0.0.1:${!port_var}"
    PID[$side]=$PORTICO_STARTED
    wait_ok "http://127.0.0.1:${!port_var}/bench/item.json" "portico-$side" "$HEADERS"
done

hdr=()
header_args "$HEADERS" hdr
HZ=$(getconf CLK_TCK)

for ((r = 1; r <= ROUNDS; r++)); do
    for side in A B; do
        port_var=${side}_PORT
        url=http://127.0.0.1:${!port_var}/bench/item.json
        read -r user0 sys0 < <(proc_ticks "${PID[$side]}")
        out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "${hdr[@]}" "$url")
        read -r user1 sys1 < <(proc_ticks "${PID[$side]}")
        reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        grep -q 'Non-2xx\|Socket errors' <<<"$out" && die "$side: errors: $out"
        read -r cpu user sys < <(python3 -c "
u, s = ($user1 - $user0) / $HZ / $reqs * 1e6, ($sys1 - $sys0) / $HZ / $reqs * 1e6
print(f'{u + s:.2f} {u:.2f} {s:.2f}')")
        echo "$r $side $rps $cpu $user $sys" >>"$WORK/rounds"
        log "round $r $side: $rps rps, $cpu µs CPU/request ($user user, $sys system)"
    done
done

python3 - "$WORK/rounds" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {}
for side in "AB":
    rps = [float(r[2]) for r in rows if r[1] == side]
    cpu = [float(r[3]) for r in rows if r[1] == side]
    user = statistics.median(float(r[4]) for r in rows if r[1] == side)
    system = statistics.median(float(r[5]) for r in rows if r[1] == side)
    med[side] = (statistics.median(rps), statistics.median(cpu))
    print(f"{side}: median {med[side][0]:.0f} rps, {med[side][1]:.2f} µs CPU/request "
          f"(user {user:.2f}, system {system:.2f}; {len(rps)} rounds)")
print(f"B/A: rps {med['B'][0] / med['A'][0]:.3f}, CPU/request {med['B'][1] / med['A'][1]:.3f}")
EOF
