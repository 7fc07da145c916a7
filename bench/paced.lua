-- wrk script for bench/proxy.sh: each connection waits PACE_MS (default 4)
-- before each request, so the offered load is fixed (about connections /
-- (pace + latency) per second) instead of as much as the server can answer.
-- Latencies then compare servers at the same load; in wrk's usual closed loop
-- a server's latency is its connections over its throughput (Little's law).
-- Prints report.lua's line.
dofile("bench/report.lua")

local pace = tonumber(os.getenv("PACE_MS") or "4")

function delay()
   return pace
end
