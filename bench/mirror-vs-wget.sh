#!/usr/bin/env bash
# Issue 15's benchmark, not a test: mirroring a tree of 2,000 small files and one of 20 files of 50 MiB from a local
# nginx (autoindex listings) with `replicator mirror`, `wget --mirror` and, when installed, `lftp mirror`, alternating,
# fresh output each run; the medians of the wall times and the ratios.
#
#   [KEEP=1] [FLOOR=1] bench/mirror-vs-wget.sh [RUNS] [BINARY]   (BINARY: a published replicator; default: dotnet
#   publish to /tmp/mirror-bin; KEEP=1: no run follows the deletion of another's output, see out() below; FLOOR=1:
#   after the trees, the floors of the small tree, see floors() below)
# Needs nginx and wget; uses /tmp/mirror-bench and a free loopback port.
set -euo pipefail
runs=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-}
if [[ -z $bin ]]; then
  dotnet publish "$here/src/Replicator" -c Release -o /tmp/mirror-bin -v q >/dev/null
  bin=/tmp/mirror-bin/replicator
fi
work=/tmp/mirror-bench
rm -rf "$work" && mkdir -p "$work/www/small" "$work/www/large" "$work/nginx"

python3 - "$work/www/small" <<'PY'
import os, random, sys
random.seed(15)
for d in range(100):
    folder = os.path.join(sys.argv[1], "d%03d" % d)
    os.makedirs(folder)
    for f in range(20):
        with open(os.path.join(folder, "f%02d.bin" % f), "wb") as out:
            out.write(random.randbytes(random.randint(1024, 8192)))
PY
for i in $(seq -w 1 20); do head -c $((50 << 20)) /dev/urandom > "$work/www/large/part$i.bin"; done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    autoindex on;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf"
trap 'kill "$(cat "$work/nginx/nginx.pid")"; rm -rf "$work/kept"' EXIT
url=http://127.0.0.1:$port

seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# Where each run writes. By default the previous run's output is deleted first, as a user emptying a directory
# would; on ext4 that makes the next creates scan the inodes just freed (ext4's recently_deleted, a minute or more),
# which then costs more than the downloads. KEEP=1 gives every run a directory of its own and deletes them all at
# the end: the creates find free inodes at once.
out() {
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "$work/kept/$1-$2-$3"
  else
    rm -rf "$work/out" && mkdir -p "$work/out" && sync
    echo "$work/out/$1"
  fi
}
rm -rf "$work/kept"
for tree in small large; do
  : >"$work/replicator-$tree" ; : >"$work/wget-$tree" ; : >"$work/lftp-$tree"
  for run in $(seq 1 "$runs"); do
    seconds "$bin" mirror "$url/$tree/" --root "$(out replicator "$tree" "$run")" --allow-to 127.0.0.0/8 >>"$work/replicator-$tree"
    seconds wget --mirror --no-parent -q -P "$(out wget "$tree" "$run")" "$url/$tree/" >>"$work/wget-$tree"
    if command -v lftp >/dev/null; then
      seconds lftp -c "mirror --parallel=4 $url/$tree/ $(out lftp "$tree" "$run")" >>"$work/lftp-$tree"
    fi
  done
  r=$(median <"$work/replicator-$tree"); w=$(median <"$work/wget-$tree")
  line="$tree: replicator $(printf %.2f "$r") s, wget $(printf %.2f "$w") s (wget/replicator $(echo "$w / $r" | bc -l | xargs printf %.2f)x)"
  if [[ -s $work/lftp-$tree ]]; then
    l=$(median <"$work/lftp-$tree")
    line="$line, lftp --parallel=4 $(printf %.2f "$l") s (lftp/replicator $(echo "$l / $r" | bc -l | xargs printf %.2f)x)"
  fi
  echo "$line; runs: replicator $(tr '\n' ' ' <"$work/replicator-$tree")/ wget $(tr '\n' ' ' <"$work/wget-$tree")"
done

# What the small tree costs at the least, against wget in the same rounds: the 2,000 file URLs given (no listing
# read), two at once as the mirror's default --per-host, nothing synced. curl: a C client writing each file;
# MirrorFloor: a .NET program that fetches, writes beside and renames (bench/MirrorFloor); proxy: curl through a
# replicator proxy, the cache's own miss path (partial, metadata, group commit) without the mirror's crawl.
floors() {
  [[ ${FLOOR:-0} == 1 ]] || return 0
  dotnet publish "$here/bench/MirrorFloor" -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true -o /tmp/mirror-floor -v q >/dev/null
  (cd "$work/www" && find small -type f | sort | sed "s#^#$url/#") >"$work/urls"
  curl_config() { sed "s#^$url/\(.*\)#url = \"$url/\1\"\noutput = \"$1/\1\"#" "$work/urls"; }
  : >"$work/floor-wget"; : >"$work/floor-curl"; : >"$work/floor-dotnet"; : >"$work/floor-proxy"
  for run in $(seq 1 "$runs"); do
    seconds wget --mirror --no-parent -q -P "$(out wget floor "$run")" "$url/small/" >>"$work/floor-wget"
    curl_config "$(out curl floor "$run")" >"$work/curl.cfg"
    seconds curl -s --create-dirs --parallel --parallel-max 2 -K "$work/curl.cfg" >>"$work/floor-curl"
    seconds /tmp/mirror-floor/MirrorFloor "$(out dotnet floor "$run")" "$work/urls" 2 >>"$work/floor-dotnet"
    local root proxy_port
    root=$(out proxy floor "$run")
    proxy_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" --port "$proxy_port" --root "$root" --allow-to 127.0.0.0/8 >/dev/null 2>&1 &
    local proxy=$!
    until curl -s -o /dev/null "http://127.0.0.1:$proxy_port/"; do sleep 0.05; done
    curl_config /dev/null | sed 's#^output = .*#output = "/dev/null"#' >"$work/curl.cfg"
    seconds curl -s -x "http://127.0.0.1:$proxy_port" --parallel --parallel-max 2 -K "$work/curl.cfg" >>"$work/floor-proxy"
    kill "$proxy"; wait "$proxy" 2>/dev/null || true
  done
  w=$(median <"$work/floor-wget")
  for floor in curl dotnet proxy; do
    f=$(median <"$work/floor-$floor")
    echo "floor $floor: $(printf %.2f "$f") s against wget $(printf %.2f "$w") s (wget/$floor $(echo "$w / $f" | bc -l | xargs printf %.2f)x); runs: $(tr '\n' ' ' <"$work/floor-$floor")"
  done
}
floors
