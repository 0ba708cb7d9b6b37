-- wrk script: POST one fixed body with the benchmark's headers.
-- Script args (after `--`): body file, Authorization value, "1" to ask the fake upstream for the SSE body,
-- then any extra headers as name, value pairs (the gateway key for `gateway-auth`).
local req

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local body = file:read("*a")
   file:close()
   local headers = {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["Authorization"] = args[2],
   }
   if args[3] == "1" then
      headers["Accept"] = "text/event-stream"
      headers["X-Bench-Stream"] = "1"
   end
   for i = 4, #args - 1, 2 do
      headers[args[i]] = args[i + 1]
   end
   req = wrk.format("POST", nil, headers, body)
end

function request()
   return req
end
