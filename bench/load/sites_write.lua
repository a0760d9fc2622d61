-- SPDX-License-Identifier: AGPL-3.0-or-later
-- sites_write.lua -- wrk script for bench/load/sites: site writes, PATCH
-- /api/sites/{id} {"elevation": n} with a new n each time (or PUT of the whole site).
--
-- Environment of wrk:
--   SITES_IDS     the site ids, comma-separated; the k-th is named "w<k>"
--   SITES_BEARER  the owner's token (pt_...), sent as Authorization: Bearer
--   SITES_THREADS wrk's -t
--   SITES_METHOD  PATCH (default: the server reads the row, then writes it back) or PUT
--                 ({"name": "w<k>", "lat": 48.93, "lon": 2.45, "elevation": n}: one write)
-- Each wrk thread gets its own ids (thread i: ids i, i+T, i+2T, ...) and cycles over
-- them; run it with as many threads as connections (-tN -cN, as bench/load/sites does)
-- and at least one id per thread, and every connection writes its own sites: no two
-- writes in flight ever touch one row, so none waits on another's row lock and none
-- sees a version changed under it (a PATCH reads the row, then writes it back if its
-- version did not change). Every answer must be 200: no If-Match is sent, and the
-- number of sites never changes (no 409 limit_reached). done() prints
-- "sites-write: requests N 2xx N 3xx N 4xx N 5xx N other N first_bad S".
local ids = {}
for id in string.gmatch(os.getenv("SITES_IDS") or "", "[0-9]+") do table.insert(ids, id) end

local threads = {}
function setup(thread)  -- before the thread's init(); SITES_THREADS says how many there are
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

-- per thread
local mine, names = {}, {}
local method = os.getenv("SITES_METHOD") or "PATCH"
local n = 0
local headers = {}
c2, c3, c4, c5, cx, first_bad = 0, 0, 0, 0, 0, 0

function init(args)
  local nthreads = tonumber(os.getenv("SITES_THREADS") or "1")
  if #ids < nthreads then error("sites_write.lua: fewer SITES_IDS than threads") end
  for k = thread_index, #ids, nthreads do
    table.insert(mine, ids[k]); table.insert(names, "w" .. k)
  end
  if method ~= "PATCH" and method ~= "PUT" then error("sites_write.lua: SITES_METHOD is PATCH or PUT") end
  headers = {["Authorization"] = "Bearer " .. (os.getenv("SITES_BEARER") or ""),
             ["Content-Type"] = "application/json"}
end

function request()
  n = n + 1
  local k = (n - 1) % #mine + 1
  -- a new value every time (elevation stays within 0..7999 m): each write changes the row
  local elev = (n * 7 + thread_index) % 8000
  local body
  if method == "PUT" then
    body = string.format('{"name": "%s", "lat": 48.93, "lon": 2.45, "elevation": %d}', names[k], elev)
  else
    body = string.format('{"elevation": %d}', elev)
  end
  return wrk.format(method, "/api/sites/" .. mine[k], headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then c2 = c2 + 1
  else
    if first_bad == 0 then first_bad = status end
    if status < 400 and status >= 300 then c3 = c3 + 1
    elseif status < 500 and status >= 400 then c4 = c4 + 1
    elseif status < 600 and status >= 500 then c5 = c5 + 1
    else cx = cx + 1 end
  end
end

function done(summary, latency, requests)
  local t = {0, 0, 0, 0, 0}
  local bad = 0
  for _, th in ipairs(threads) do
    t[1] = t[1] + th:get("c2"); t[2] = t[2] + th:get("c3"); t[3] = t[3] + th:get("c4")
    t[4] = t[4] + th:get("c5"); t[5] = t[5] + th:get("cx")
    if bad == 0 then bad = th:get("first_bad") end
  end
  io.write(string.format("sites-write: requests %d 2xx %d 3xx %d 4xx %d 5xx %d other %d first_bad %d\n",
    summary.requests, t[1], t[2], t[3], t[4], t[5], bad))
end
