#!/usr/bin/env bash
# The second pass of `apt-get update` + `apt-get download` of N packages (default 20) from a generated repository
# served without validators, through Replicator and through apt-cacher-ng in the same run (issue 12): origin
# requests and wall time of the second pass, each pass with a fresh apt state. Not a test: a benchmark.
#
#   bench/apt-second-pass.sh [N]        (needs apt-get, python3, ../shared/bench's apt-cacher-ng: setup.sh once)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers=$here/../../shared/bench/peers.sh
count=${1:-20}
work=${WORK:-/tmp/bench-apt}
origin_port=18081   # not the bench origin's 18080
mkdir -p "$work"
rm -f "$work/requests.log"

python3 "$here/lib/apt_repo_origin.py" "$work/origin" "$origin_port" "$count" & origin=$!
(cd "$here/.." && dotnet build -c Release -v q src/Replicator >/dev/null)
binary=$here/../src/Replicator/bin/Release/net10.0/replicator
"$binary" --port 13200 --root "$work/replicator-cache" --allow-to 127.0.0.0/8 --allow-port "$origin_port" >"$work/replicator.log" 2>&1 & replicator=$!
"$peers" stop apt-cacher-ng >/dev/null 2>&1 || true   # one left by another run would front the wrong origin port
ORIGIN_PORT=$origin_port "$peers" start apt-cacher-ng >/dev/null
trap 'kill $origin $replicator 2>/dev/null; wait $origin $replicator 2>/dev/null; "$peers" stop apt-cacher-ng >/dev/null 2>&1 || true; rm -rf "$work/replicator-cache"' EXIT
for _ in $(seq 100); do
  [ -f "$work/origin/debian/dists/stable/Release" ] && curl -s -o /dev/null "http://127.0.0.1:$origin_port/" \
    && curl -s -o /dev/null "http://127.0.0.1:13200/" && break
  sleep 0.2
done
kill -0 $replicator || { cat "$work/replicator.log" >&2; exit 1; }

# One apt run in a throwaway state: $1 proxy URL; prints the wall seconds.
apt_pass() {
  local state; state=$(mktemp -d "$work/apt-XXXX")
  mkdir -p "$state"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,lists/partial,archives/partial,downloads}
  : >"$state/status"
  echo "deb [trusted=yes] http://127.0.0.1:$origin_port/debian stable main" >"$state/etc/sources.list"
  cat >"$state/apt.conf" <<EOF
Dir "/"; Dir::Etc "$state/etc"; Dir::Etc::main "$state/etc/none"; Dir::Etc::Parts "$state/etc/apt.conf.d";
Dir::Etc::SourceList "$state/etc/sources.list"; Dir::Etc::SourceParts "$state/etc/sources.list.d";
Dir::Etc::PreferencesParts "$state/etc/preferences.d"; Dir::State "$state"; Dir::State::Lists "$state/lists";
Dir::State::status "$state/status"; Dir::Cache "$state"; Dir::Cache::Archives "$state/archives"; Dir::Log "$state";
APT::Architecture "amd64"; APT::Sandbox::User "$(id -un)"; Acquire::Languages "none"; Acquire::Retries "0";
Acquire::http::Proxy "$1"; Debug::NoLocking "true";
EOF
  local start end names
  names=$(seq -f "pkg%g" 0 $((count - 1)))
  start=$(date +%s.%N)
  (cd "$state/downloads" && APT_CONFIG=$state/apt.conf apt-get -qq update && APT_CONFIG=$state/apt.conf apt-get -qq download $names) >/dev/null \
    || { echo "apt failed through $1" >&2; exit 1; }
  [ "$(ls "$state/downloads" | wc -l)" -eq "$count" ] || { echo "apt did not download $count packages through $1" >&2; exit 1; }
  end=$(date +%s.%N)
  rm -rf "$state"
  echo "$end - $start" | bc
}

echo "| proxy | 2nd pass origin requests | of which pool/by-hash | 2nd pass wall s | 1st pass wall s |"
echo "|---|---|---|---|---|"
for proxy in "replicator 13200" "apt-cacher-ng 13142"; do
  set -- $proxy
  first=$(apt_pass "http://127.0.0.1:$2")
  before=$(wc -l <"$work/origin/requests.log")
  second=$(apt_pass "http://127.0.0.1:$2")
  requests=$(tail -n +$((before + 1)) "$work/origin/requests.log")
  total=$(printf '%s\n' "$requests" | grep -c . || true)
  immutable=$(printf '%s\n' "$requests" | grep -cE 'pool/|by-hash/' || true)
  echo "| $1 | $total | $immutable | $second | $first |"
  printf '%s\n' "$requests" | sed "s/^/# $1 second pass: /" >&2
done
