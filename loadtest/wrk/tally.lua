-- wrk script of the benchmark (loadtest/bench.py).
--
--   wrk ... -s tally.lua URL -- paths FILE        GET each path of FILE in turn
--   wrk ... -s tally.lua URL -- beacon SHOP RUN   POST checkout beacons with
--                                                 unique order ids RUN-T-N
--
-- FILE holds one request target per line (pixel or click paths minted by
-- tallyctl). Each wrk thread starts at its own offset in the list. done()
-- prints one "BENCH key=value ..." line that bench.py parses: requests
-- counts every response, status_errors those with a status of 400 or more.

local thread_count = 0

-- Every request carries the User-Agent of Apple Mail on an iPhone, because
-- mail clients always send one and tallyd classifies it on every pixel and
-- click (nginx ignores it).
local user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) " ..
   "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

-- In paths mode every request is formatted once, in init. Formatting each
-- one in request() cost wrk about 0.8 us of CPU per request, taken from
-- the same two cores as the server it measures.
local mode, requests, next_request, shop, run, sent

function init(args)
   mode = args[1]
   sent = 0
   if mode == "paths" then
      requests = {}
      for line in io.lines(args[2]) do
         if #line > 0 then
            requests[#requests + 1] =
               wrk.format("GET", line, {["User-Agent"] = user_agent})
         end
      end
      assert(#requests > 0, "no request paths in " .. args[2])
      next_request = (thread_index * 7919) % #requests + 1
   elseif mode == "beacon" then
      shop, run = args[2], args[3]
   else
      error("mode must be paths or beacon, not " .. tostring(mode))
   end
end

function request()
   sent = sent + 1
   if mode == "paths" then
      local req = requests[next_request]
      next_request = next_request % #requests + 1
      return req
   end
   local body = string.format(
      '{"type":"checkout","order_id":"%s-%d-%d","revenue":"1.00",' ..
      '"currency":"EUR","shop":"%s"}', run, thread_index, sent, shop)
   return wrk.format("POST", "/b", {["Content-Type"] = "text/plain",
                                    ["User-Agent"] = user_agent}, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d " ..
      "read_errors=%d write_errors=%d timeouts=%d p50_us=%.1f p99_us=%.1f " ..
      "p999_us=%.1f\n",
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write,
      e.timeout, latency:percentile(50), latency:percentile(99),
      latency:percentile(99.9)))
end
