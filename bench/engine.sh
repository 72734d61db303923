#!/usr/bin/env bash
# engine.sh [ROUNDS]: the fiber engine against plain .NET async sockets, same tiny HTTP server, same load, one run.
#   rps:   wrk -t2 -c64 -d10s on keep-alive connections (median over ROUNDS, servers alternating);
#   idle:  resident memory growth of 10,000 idle keep-alive connections (../shared/bench/lib/idle_conns.py).
# Needs wrk (../shared/bench/setup.sh installs it). Loopback only; every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3}
shared=${SHARED_BENCH:-$(cd ../.. && pwd)/shared/bench}
ulimit -n "$(ulimit -Hn)"
dotnet build -c Release EngineBench -o /tmp/engine-bench >/dev/null
out=$(mktemp -d)

start() { # start NAME ARGS...: runs the server, sets PID and PORT
    local name=$1; shift
    dotnet /tmp/engine-bench/EngineBench.dll "$@" 0 > "$out/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do grep -q 'listening on' "$out/$name.log" && break; sleep 0.1; done
    PORT=$(awk '/listening on/ {print $3}' "$out/$name.log")
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

run_wrk() { # prints requests/s
    wrk -t2 -c64 -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 # warm-up: JIT and pools
    wrk -t2 -c64 -d10s "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}'
}

for round in $(seq "$rounds"); do
    for server in "fibers" "fibers-1loop" "fibers-handoff" "async"; do
        case $server in
            fibers) start "$server" fibers ;;
            fibers-1loop) start "$server" fibers; stop; start "$server" fibers 0 1 ;;
            fibers-handoff) start "$server" fibers 0 2 handoff ;;
            async) start "$server" async ;;
        esac
        echo "$server rps $(run_wrk)" | tee -a "$out/results"
        stop
    done
done

for server in fibers async; do
    start "$server" "$server"
    line=$(python3 "$shared/lib/idle_conns.py" --port "$PORT" --pid "$PID" --count 10000 --url "http://127.0.0.1:$PORT/" --deadline 60)
    echo "$line" > "$out/$server.idle"
    echo "$server idle_kib $(grep -o 'per_conn_kib=[0-9.]*' <<<"$line" | cut -d= -f2) still_open $(grep -o 'still_open=[0-9]*' <<<"$line" | cut -d= -f2)" | tee -a "$out/results"
    stop
done

python3 - "$out/results" <<'PY'
import statistics, sys
values = {}
for line in open(sys.argv[1]):
    name, metric, value = line.split()[:3]
    values.setdefault((name, metric), []).append(float(value))
med = {k: statistics.median(v) for k, v in values.items()}
base = med[("async", "rps")]
print("\n| server | requests/s (median) | vs .NET async |")
print("|---|---|---|")
for name in ("fibers", "fibers-1loop", "fibers-handoff", "async"):
    rps = med[(name, "rps")]
    print(f"| {name} | {rps:,.0f} | {rps / base:.2f}x |")
fk, ak = med[("fibers", "idle_kib")], med[("async", "idle_kib")]
print(f"\nidle connection: fibers {fk:.2f} KiB, .NET async {ak:.2f} KiB (fibers/async {fk / ak:.2f}x)")
PY
