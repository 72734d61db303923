#!/usr/bin/env bash
# soak.sh [SECONDS]: the real proxy on both pollers under a random mix of connections that talk, idle out (--timeout
# 1), reset, cancel and trickle their heads (--head-timeout 2), for SECONDS each (default 120); every request that
# should be answered must be, whole (soak.py). Origin: python3's http.server on a loopback port. Loopback only;
# every step is bounded in time. Exit code 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet publish src/Replicator -c Release -o "$work/bin" >/dev/null

mkdir -p "$work/origin"
for i in $(seq 0 7); do head -c $((1000 * (i + 1) * (i + 1) * 50)) /dev/urandom > "$work/origin/f$i"; done
origin_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$origin_port" --bind 127.0.0.1 --directory "$work/origin" >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$origin_port/f0" >/dev/null && break; sleep 0.1; done

status=0
for poller in epoll poll; do
    REPLICATOR_POLLER=$poller "$work/bin/replicator" --port 0 --root "$work/cache-$poller" --threads 2 --timeout 1 \
        --head-timeout 2 --allow-to 127.0.0.0/8 --max-client-connections 0 > "$work/$poller.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$work/$poller.log" && break; sleep 0.1; done
    port=$(sed -nE 's/.*listening on [^ ]*:([0-9]+),.*/\1/p' "$work/$poller.log" | head -1)
    echo "== $poller (proxy pid $pid, port $port)"
    python3 bench/soak.py "$port" "http://127.0.0.1:$origin_port" "$seconds" || status=1
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
exit $status
