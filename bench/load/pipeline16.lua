-- 16 pipelined GET /planets/mars per write: wrk spends little CPU per request.
init = function(args)
   local r = {}
   for i = 1, 16 do
      r[i] = wrk.format(nil, "/planets/mars?lat=48.93&lon=2.45&elevation=0")
   end
   req = table.concat(r)
end
request = function()
   return req
end
