-- SPDX-License-Identifier: AGPL-3.0-or-later
-- sites_read.lua -- wrk script for bench/load/sites: GET one path over and over, with
-- the owner's credentials, and count the answers by status class.
--
-- Environment of wrk:
--   SITES_PATH    the request target (default /planets?lat=48.93&lon=2.45&elevation=0)
--   SITES_BEARER  a token (pt_...): sent as Authorization: Bearer (optional)
--   SITES_COOKIE  a Cookie header value, e.g. pt_session=... (optional)
-- The same headers go with every shape of a comparison, so the only difference
-- between GET /planets?site=ID and GET /planets?lat=.. is what the server does with it.
-- done() prints "sites-read: requests N 2xx N 3xx N 4xx N 5xx N other N first_bad S",
-- which bench/load/sites checks: a run with anything but 2xx is refused.
local path = os.getenv("SITES_PATH") or "/planets?lat=48.93&lon=2.45&elevation=0"
local bearer = os.getenv("SITES_BEARER")
local cookie = os.getenv("SITES_COOKIE")

wrk.method = "GET"
wrk.path = path
if bearer and bearer ~= "" then wrk.headers["Authorization"] = "Bearer " .. bearer end
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end

local threads = {}
function setup(thread) table.insert(threads, thread) end

-- per thread
c2, c3, c4, c5, cx, first_bad = 0, 0, 0, 0, 0, 0
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
  io.write(string.format("sites-read: requests %d 2xx %d 3xx %d 4xx %d 5xx %d other %d first_bad %d\n",
    summary.requests, t[1], t[2], t[3], t[4], t[5], bad))
end
