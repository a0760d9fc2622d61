-- SPDX-License-Identifier: AGPL-3.0-or-later
-- distinct.lua -- wrk script for bench/load/run SHAPE=distinct: every request asks for
-- Mars now from a new observer (lat -60..60, lon -180..180 to 1e-4 degree), as
-- telescope controllers, dashboards and pages each do for their own place, so neither
-- the micro-cache nor the rise/set cache of an observer can answer it. With TIMES=1 in
-- the environment of wrk each request also asks for a random second of 2026 (a new
-- 1.5-hour ephemeris step almost every time: the worst case for the step caches). A
-- fixed seed keeps runs comparable.
local seed = 12345
local times = os.getenv("TIMES") == "1"

local function next_rand()
  -- 31-bit LCG (Park-Miller style constants), deterministic across runs
  seed = (seed * 48271) % 2147483647
  return seed / 2147483647
end

function init(args)
  seed = 12345
end

function request()
  local lat = string.format("%.4f", next_rand() * 120 - 60)
  local lon = string.format("%.4f", next_rand() * 360 - 180)
  local path = "/planets/mars?lat=" .. lat .. "&lon=" .. lon .. "&elevation=0"
  if times then
    path = path .. "&time=" .. (1767225600 + math.floor(next_rand() * 31536000))
  end
  return wrk.format("GET", path)
end
