#!/usr/bin/env bash
# Where a cold miss's time goes, per MiB of body (issue 13): CPU seconds (user and system) of the proxy process and
# its system calls, counted by strace -c over one miss of a fresh URL, against a plain download from the same origin.
# Not a test: run it before and after a change to the miss path and compare the lines.
#
#   bench/miss-profile.sh PORT PID [URL]
#     PORT, PID: a running proxy (started with --allow-to 127.0.0.0/8); URL: a large file on the bench origin
#     (default http://127.0.0.1:18080/large/1g.bin, made fresh with /bust/<token>/ so that it is a miss).
# Needs curl, strace (root, or ptrace allowed) and ../shared/bench/origin.sh running.
set -euo pipefail
port=$1 pid=$2 url=${3:-http://127.0.0.1:18080/large/1g.bin}
token=profile$RANDOM$RANDOM
fresh=${url/127.0.0.1:18080\//127.0.0.1:18080\/bust\/$token\/}
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14, $15}' "/proc/$pid/stat"; }   # utime stime, in clock ticks (whole process)

# One miss untraced: speed and CPU per MiB.
read -r user0 sys0 < <(cpu)
read -r bytes seconds < <(curl -s -x "127.0.0.1:$port" "$fresh" -o /dev/null -w '%{size_download} %{time_total}\n')
read -r user1 sys1 < <(cpu)
direct=$(curl -s "${fresh/$token/direct$token}" -o /dev/null -w '%{speed_download}')
mib=$(echo "$bytes / 1048576" | bc -l)
printf 'miss: %d bytes in %.3f s (%.0f MB/s; direct %.0f MB/s; ratio %.2f)\n' \
  "$bytes" "$seconds" "$(echo "$bytes / $seconds / 1000000" | bc -l)" "$(echo "$direct / 1000000" | bc -l)" "$(echo "$bytes / $seconds / $direct" | bc -l)"
printf 'proxy cpu per MiB: user %.3f ms, system %.3f ms (the whole process, commit included if it ended meanwhile)\n' \
  "$(echo "($user1 - $user0) * 1000 / $ticks / $mib" | bc -l)" "$(echo "($sys1 - $sys0) * 1000 / $ticks / $mib" | bc -l)"

# A second miss (another fresh URL) under strace -c: the system calls per MiB.
out=$(mktemp)
strace -c -f -q -p "$pid" -o "$out" & tracer=$!
sleep 0.5   # strace attaches to every thread before the miss starts
curl -s -x "127.0.0.1:$port" "${fresh/$token/traced$token}" -o /dev/null
kill -INT $tracer; wait $tracer 2>/dev/null || true
echo "system calls per MiB (a traced miss, all threads; futex time is threads waiting):"
awk -v mib="$mib" '$1 ~ /^[0-9.]+$/ && NF >= 5 { name = $NF; calls = $4; printf "  %-18s %10.1f calls/MiB  %6s%% of syscall time\n", name, calls / mib, $1 }' "$out" | sort -k2 -rn | head -12
rm -f "$out"
