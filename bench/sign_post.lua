-- wrk script of bench/sign.py: one POST per request with a unique e-mail address, every answer's
-- status checked against the expected one. bench/sign.py passes everything after "--":
--   <expected status> <path> <cookie header> <origin> <body template with %s, %d and %d> <token file>
-- and reads the one "BENCH ..." line that done() prints. A form token is good for one signature, so the
-- token file holds one urlencoded token a line, each posted once (%s); the e-mail address is made of the
-- thread's id and the request's number (%d, %d). Running out of tokens stops the thread with an error.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("id", next_id)
   table.insert(threads, thread)
end

function init(args)
   expected = tonumber(args[1])
   path = args[2]
   headers = {
      ["Cookie"] = args[3],
      ["Origin"] = args[4],
      ["Content-Type"] = "application/x-www-form-urlencoded",
   }
   template = args[5]
   tokens = {}
   for line in io.lines(args[6]) do
      if line ~= "" then
         table.insert(tokens, line)
      end
   end
   counter = 0
   bad = 0
   first_bad = 0
end

function request()
   counter = counter + 1
   local token = tokens[counter]
   if token == nil then
      error("bench/sign.py: out of form tokens after " .. (counter - 1) .. " requests")
   end
   return wrk.format("POST", path, headers, string.format(template, token, id, counter))
end

function response(status, resp_headers, body)
   if status ~= expected then
      bad = bad + 1
      if first_bad == 0 then
         first_bad = status
      end
   end
end

function done(summary, latency, requests)
   local total_bad, first = 0, 0
   for _, thread in ipairs(threads) do
      total_bad = total_bad + thread:get("bad")
      if first == 0 then
         first = thread:get("first_bad")
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d bad=%d first_bad=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, total_bad, first, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
