-- wrk script for http_bench.py (see httpbench/wrk.py).
-- Request: method from BENCH_METHOD (default GET); when BENCH_BODY_SIZE > 0, a body of that
-- many bytes (wrk adds Content-Length). Report: one line, "BENCH_RESULT {json}", with the
-- request count, the duration, the error counters and latency percentiles in microseconds.

local body_size = tonumber(os.getenv("BENCH_BODY_SIZE") or "0")
wrk.method = os.getenv("BENCH_METHOD") or "GET"
if body_size > 0 then
  wrk.body = string.rep("x", body_size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
