-- wrk script for Benchmarks/serve/run.sh: POSTs vector searches, cycling through the request
-- bodies in the file named by $VDB_BODIES (one JSON body per line), and prints one JSON line
-- ("WRKJSON {...}") with throughput, latency percentiles and errors when the run ends.
local bodies = {}
local next_body = 0

function init(args)
  for line in io.lines(os.getenv("VDB_BODIES")) do
    bodies[#bodies + 1] = line
  end
  if #bodies == 0 then error("no request bodies in " .. os.getenv("VDB_BODIES")) end
  next_body = math.random(#bodies) - 1
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, bodies[next_body])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_s": %.3f, "qps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "mean_ms": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3, e.connect, e.read, e.write, e.status, e.timeout))
end
