#!/usr/bin/env bash
# Issue 14's scale figures, not a test: a tree of N files (1,000,000 by default) known to the usage database.
#   1. start-up: how long the upkeep takes to read the tree (first start: every file adopted into a new database;
#      second start: the database loaded and checked against the tree) and the proxy's RSS then;
#   2. 4 KiB hits against that proxy and against one on an empty root, alternating, same run (../shared/bench/load.sh);
#   3. eviction: restarted with --max-size just under the tree's size, about 100,000 files must go; the 4 KiB hit load
#      runs meanwhile, and its p99 is reported beside the eviction's duration.
#
#   bench/upkeep-scale.sh [N] [BINARY]    (BINARY: a published replicator, default: dotnet publish into /tmp/upkeep-bin)
# Needs ../shared/bench/origin.sh running (its /small/4k.bin) and wrk. Uses ports 13210 and 13211 and /tmp/upkeep-bench.
set -euo pipefail
n=${1:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/../shared/bench
bin=${2:-}
if [[ -z $bin ]]; then
  dotnet publish "$here/src/Replicator" -c Release -o /tmp/upkeep-bin -v q >/dev/null
  bin=/tmp/upkeep-bin/replicator
fi
work=/tmp/upkeep-bench
rm -rf "$work" && mkdir -p "$work/big" "$work/empty"

echo "# filling $work/big with $n one-byte files"
python3 - "$work/big/127.0.0.1:18080/fill" "$n" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for d in range((n + 999) // 1000):
    folder = os.path.join(top, "d%04d" % d)
    os.makedirs(folder)
    for f in range(min(1000, n - d * 1000)):
        fd = os.open(os.path.join(folder, "f%04d" % f), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x")
        os.close(fd)
PY

start() { # PORT ROOT [OPTIONS...]: starts a proxy, waits until its upkeep has read the tree
  local port=$1 root=$2; shift 2
  "$bin" --port "$port" --root "$root" --allow-to 127.0.0.0/8 --max-client-connections 0 "$@" >"$work/log-$port" 2>&1 &
  echo $! >"$work/pid-$port"
  until grep -q "in the tree, read in" "$work/log-$port"; do sleep 0.2; done
  local pid; pid=$(cat "$work/pid-$port")
  echo "# $port: $(grep -o '[0-9]* files ([0-9]* bytes) in the tree, read in [0-9]* ms' "$work/log-$port"); RSS $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB"
}
stop() { kill "$(cat "$work/pid-$1")"; wait "$(cat "$work/pid-$1")" 2>/dev/null || true; }

start 13210 "$work/big"      # first start: a new database, every file adopted
stop 13210
start 13210 "$work/big"      # second start: the database loaded, checked against the tree
start 13211 "$work/empty"
for round in 1 2 3; do
  "$bench/load.sh" 13210 --label "big-$round" --only a --repeat 1 | grep -E "rps|p99_ms" || true
  "$bench/load.sh" 13211 --label "empty-$round" --only a --repeat 1 | grep -E "rps|p99_ms" || true
done
stop 13210
stop 13211

cap=$n   # one-byte files: the cap in bytes is a count; eviction goes down to 90% of it: about n/10 files go
echo "# eviction: --max-size $cap with $n files and a 4 KiB one, 4 KiB hits meanwhile"
"$bin" --port 13210 --root "$work/big" --allow-to 127.0.0.0/8 --max-client-connections 0 --max-size "$cap" >"$work/log-13210" 2>&1 &
echo $! >"$work/pid-13210"
until grep -q "listening" "$work/log-13210"; do sleep 0.1; done
"$bench/load.sh" 13210 --label "during-eviction" --only a --repeat 1 --duration 15 | grep -E "rps|p99_ms" || true
until grep -q "evicted" "$work/log-13210"; do sleep 0.2; done
grep -o "evicted [0-9]* least recently used files ([0-9]* bytes) in [0-9]* ms" "$work/log-13210"
grep -o "^\[ [0-9:.]* \] Replicator listening\|^\[ [0-9:.]* \] Cache upkeep.*" "$work/log-13210" | cut -c1-120
stop 13210
