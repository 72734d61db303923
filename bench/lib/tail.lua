-- wrk script for bench/hit-tail.sh: absolute-form requests for one URL (as a forward proxy's client sends them),
-- and one line at the end with the latency percentiles the tail is judged by (microseconds).
--   BENCH_URL=http://127.0.0.1:18080/small/4k.bin
local url = assert(os.getenv("BENCH_URL"), "set BENCH_URL")
wrk.method = "GET"
wrk.path = url
wrk.headers["Host"] = url:match("^[hH][tT][tT][pP]://([^/]+)")

function done(summary, latency, requests)
  io.write(string.format("TAIL requests=%d seconds=%.3f errors=%d p50=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
