#!/usr/bin/env bash
# Joiners' first bytes, counted from their own requests (issue 13, point 5), for a running proxy and the peers in the
# same run: each round, every proxy in turn gets 20 clients at once on a fresh /slow/ URL (the origin sends 20 MiB/s,
# so the download lasts about 10 s and every client but the first joins it). Printed per proxy and round: the worst
# first byte of the 20 clients, the median one, the origin requests for the URL, and the clients that did not get
# the whole body. Not a test: a benchmark.
#
#   bench/joiner-ttfb.sh PORT [ROUNDS] [PEERS]
#     PORT: our proxy, running (started with --allow-to 127.0.0.0/8 --max-client-connections 0);
#     ROUNDS: default 3; PEERS: default "varnish nginx-cache squid" (started and stopped here, one at a time).
# Needs ../shared/bench's origin running (origin.sh start) and its peers installed (setup.sh once).
#
# Why not compare.sh's collapse_20: its client, lib/collapse.py, runs one Python thread per client and counts from the
# thread's start. On a 2-core machine the 20 threads wait tens of milliseconds for the interpreter lock and the CPU,
# and that wait is in every proxy's figure (see docs/benchmarks.md). lib/joiner_ttfb.py sends every request from one
# thread and stamps each first byte when the poll that reported it returns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$(cd "$here/../.." && pwd)/shared/bench}
port=$1 rounds=${2:-3} peers=${3:-"varnish nginx-cache squid"}

one() { # one LABEL PORT ROUND: a round for one proxy
    local label=$1 p=$2 round=$3 token out
    token=joiner$RANDOM$RANDOM
    out=$(python3 "$here/lib/joiner_ttfb.py" --port "$p" --clients 20 --deadline 60 \
        --url "http://127.0.0.1:18080/slow/$token/large/200m.bin")
    printf '%-14s round %d  worst %6.2f ms  median %6.2f ms  origin requests %s  incomplete %d\n' "$label" "$round" \
        "$(awk '$1 == "WORST" {print $2}' <<<"$out")" \
        "$(awk '$1 == "CLIENT" {print $4}' <<<"$out" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" \
        "$("$shared/origin.sh" count "$token")" \
        "$(awk '$1 == "CLIENT" && ($6 != 200 || $8 != "-")' <<<"$out" | wc -l)"
}

for round in $(seq "$rounds"); do
    one replicator "$port" "$round"
    for peer in $peers; do
        "$shared/peers.sh" start "$peer" >/dev/null
        one "$peer" "$("$shared/peers.sh" port "$peer")" "$round"
        "$shared/peers.sh" stop "$peer" >/dev/null
    done
done
