#!/usr/bin/env bash
# Issue 17's check, run by .ci/run as root on a Debian machine: builds the .deb for this machine, installs it with
# dpkg -i, checks the user, the directories, the conffile, the unit and the man page, runs the installed program with
# the installed configuration on a loopback port with .NET pointed at nothing (it must be self-contained) and fetches a
# file through it from a loopback origin, then removes and purges the package and checks what stays and what goes.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "test-deb: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "test-deb: not root: skipped (CI runs it as root)"; exit 0; }

RIDS=linux-x64 packaging/build-deb.sh
deb=$(ls dist/replicator_*_amd64.deb)
if command -v lintian >/dev/null; then
    lintian --fail-on error,warning "$deb" 2>&1 | grep -v 'root privileges' || true
    lintian --fail-on error,warning "$deb" >/dev/null 2>&1 || fail "lintian finds errors or warnings in $deb"
fi
dpkg -i "$deb" >/dev/null || { apt-get install -y -f >/dev/null && dpkg -i "$deb" >/dev/null; }

getent passwd replicator >/dev/null || fail "no user replicator"
getent group replicator >/dev/null || fail "no group replicator"
for dir in /var/cache/replicator /var/log/replicator; do
    [ "$(stat -c %U:%G "$dir")" = replicator:replicator ] || fail "$dir is not owned by replicator"
done
dpkg-query -W -f='${Conffiles}\n' replicator | grep -q /etc/replicator/replicator.conf || fail "the config is not a conffile"
grep -q '^# max-size = ' /etc/replicator/replicator.conf || fail "the config does not explain every option"
grep -q '^ExecStart=/usr/bin/replicator --config /etc/replicator/replicator.conf' /lib/systemd/system/replicator.service || fail "no unit"
zcat /usr/share/man/man8/replicator.8.gz | grep -qF 'max\-size' || fail "the man page lacks the options"
[ -f /etc/logrotate.d/replicator ] || fail "no logrotate snippet"
/usr/bin/replicator --version | grep -q '+' || fail "--version shows no commit"

# The installed program, with the installed config, .NET pointed at nothing, as the user replicator.
work=$(mktemp -d)
chmod 755 "$work"
echo "through the packaged proxy" > "$work/file.txt"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work" > "$work/origin.log" 2>&1 &
origin=$!
until grep -q "port" "$work/origin.log"; do sleep 0.1; done
port=$(grep -o 'port [0-9]*' "$work/origin.log" | head -1 | cut -d' ' -f2)
env -i PATH=/usr/bin:/bin DOTNET_ROOT=/nonexistent HOME=/nonexistent \
    setpriv --reuid=replicator --regid=replicator --clear-groups \
    /usr/bin/replicator --config /etc/replicator/replicator.conf --port 0 --bind 127.0.0.1 --log /var/log/replicator/test.log \
    --allow-to 127.0.0.0/8 > "$work/proxy.out" 2>&1 &
proxy=$!
until grep -q "listening on" "$work/proxy.out"; do kill -0 $proxy 2>/dev/null || { cat "$work/proxy.out"; fail "the installed program did not start"; }; sleep 0.1; done
endpoint=$(grep -o 'listening on [0-9.:]*' "$work/proxy.out" | head -1 | cut -d' ' -f3)
body=$(curl -sf -x "http://$endpoint" "http://127.0.0.1:$port/file.txt") || fail "no answer through the installed proxy"
[ "$body" = "through the packaged proxy" ] || fail "wrong body: $body"
# The commit into the tree follows the last byte: wait for it (bounded).
for _ in $(seq 100); do [ -f "/var/cache/replicator/127.0.0.1:$port/file.txt" ] && break; sleep 0.1; done
[ -f "/var/cache/replicator/127.0.0.1:$port/file.txt" ] || fail "the file is not in /var/cache/replicator"
[ "$(stat -c %U "/var/cache/replicator/127.0.0.1:$port/file.txt")" = replicator ] || fail "the cached file is not the user's"
kill $proxy $origin; wait $proxy $origin 2>/dev/null || true

dpkg -r replicator >/dev/null
[ ! -e /usr/bin/replicator ] || fail "the program stayed after remove"
[ -f /etc/replicator/replicator.conf ] || fail "the conffile went with remove"
[ -f "/var/cache/replicator/127.0.0.1:$port/file.txt" ] || fail "the cache went with remove"
dpkg -P replicator >/dev/null
[ ! -e /etc/replicator/replicator.conf ] || fail "the conffile stayed after purge"
[ ! -e /var/cache/replicator ] || fail "the cache stayed after purge"
rm -rf "$work"
echo "test-deb: $deb installs, runs self-contained as replicator, serves from /var/cache/replicator, removes and purges cleanly"
