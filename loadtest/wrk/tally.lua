-- wrk script of the benchmark (loadtest/bench.py).
--
--   wrk ... -s tally.lua URL -- paths FILE READY THREADS
--                                                 GET each path of FILE in turn
--   wrk ... -s tally.lua URL -- beacon SHOP RUN   POST checkout beacons with
--                                                 unique order ids RUN-T-N
--
-- FILE holds one request target per line (pixel or click paths minted by
-- tallyctl), and each of wrk's THREADS threads (-t) sends every THREADS-th
-- line. READY is a path that does not exist yet (see init). done()
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

-- In paths mode every request is built once, in init. Formatting each one
-- in request() with wrk.format cost wrk about 0.8 us of CPU per request,
-- taken from the same two cores as the server it measures. Building them
-- takes a tenth of a second or more, and wrk starts each thread right after
-- its init but its clock only after the last init. So the last thread's
-- init creates the file READY, and every thread waits for that file in its
-- first request(): no request is sent before the clock starts. wrk times a
-- request from the return of request(), so the wait is not in any latency.
local mode, requests, next_request, shop, run, sent
local threads, ready_path, ready
local checked = false

-- wrk calls thread 0's request() once from its main thread, to check that
-- the request parses, before it runs the other threads' init. That call
-- must not wait, or the file would never appear.
local function wait_until_ready()
   if thread_index == 0 and not checked then
      checked = true
      return
   end
   while not ready do
      local f = io.open(ready_path)
      if f then
         f:close()
         ready = true
      end
   end
end

function init(args)
   mode = args[1]
   sent = 0
   if mode == "paths" then
      ready_path, threads = args[3], tonumber(args[4])
      local template = wrk.format("GET", "\0", {["User-Agent"] = user_agent})
      local split = template:find("\0", 1, true)
      local head, tail = template:sub(1, split - 1), template:sub(split + 1)
      local n = 0

      assert(threads and threads > thread_index and ready_path,
             "paths mode needs FILE, READY and THREADS")
      requests = {}
      for line in io.lines(args[2]) do
         if #line > 0 then
            if n % threads == thread_index then
               requests[#requests + 1] = head .. line .. tail
            end
            n = n + 1
         end
      end
      assert(#requests > 0, "no request paths in " .. args[2])
      next_request = 1
      if thread_index == threads - 1 then
         assert(io.open(ready_path, "w")):close()
      end
   elseif mode == "beacon" then
      shop, run = args[2], args[3]
   else
      error("mode must be paths or beacon, not " .. tostring(mode))
   end
end

function request()
   sent = sent + 1
   if mode == "paths" then
      if not ready then
         wait_until_ready()
      end
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
