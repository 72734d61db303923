#!/usr/bin/env bash
# The tail of small hits, run by run (issue 13, point 4): for each run of wrk against a running proxy, the rate, the
# latency at p50, p99 and p99.9, and what the garbage collector did meanwhile (collections by generation, pause
# time, bytes allocated per request), read from the proxy's /metrics before and after. Not a test: run it before and
# after a change to the hit path, alternating builds, and compare the lines (single runs vary by +-1 ms here).
#
#   bench/hit-tail.sh PORT [RUNS] [URL]
#     PORT: a running proxy started with --allow-to 127.0.0.0/8 (and --max-client-connections 0);
#     URL: a small file on the bench origin (default http://127.0.0.1:18080/small/4k.bin, as load.sh's scenario a),
#     fetched once first so that every request of the runs is a hit. 64 connections, 2 wrk threads, 10 s a run.
# Needs wrk and curl, and ../shared/bench/origin.sh running.
set -euo pipefail
port=$1 runs=${2:-3} url=${3:-http://127.0.0.1:18080/small/4k.bin}
here=$(cd "$(dirname "$0")" && pwd)
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { print $2 }'; }
snapshot() { echo "$(metric 'dotnet_gc_collections_total{generation="0"}') $(metric 'dotnet_gc_collections_total{generation="1"}') $(metric 'dotnet_gc_collections_total{generation="2"}') $(metric dotnet_gc_pause_seconds_total) $(metric dotnet_gc_allocated_bytes_total)"; }

curl -s -x "127.0.0.1:$port" "$url" -o /dev/null
BENCH_URL=$url wrk -t2 -c64 -d1s -s "$here/lib/tail.lua" "http://127.0.0.1:$port/" >/dev/null # warm-up
for run in $(seq 1 "$runs"); do
  read -r g0 g1 g2 pause allocated < <(snapshot)
  line=$(BENCH_URL=$url wrk -t2 -c64 -d10s -s "$here/lib/tail.lua" "http://127.0.0.1:$port/" | grep '^TAIL ')
  read -r h0 h1 h2 pause1 allocated1 < <(snapshot)
  eval "${line#TAIL }"  # requests= seconds= errors= p50= p99= p999= max=
  printf 'run %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms, errors %d; GCs gen0 %d gen1 %d gen2 %d, paused %.1f ms, %.0f bytes allocated per request\n' \
    "$run" "$(echo "$requests / $seconds" | bc -l)" "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)" \
    "$(echo "$p999 / 1000" | bc -l)" "$(echo "$max / 1000" | bc -l)" "$errors" $((h0 - g0)) $((h1 - g1)) $((h2 - g2)) \
    "$(echo "($pause1 - $pause) * 1000" | bc -l)" "$(echo "($allocated1 - $allocated) / $requests" | bc -l)"
done
