-- POST /api/v1/reports with a unique idempotency key per request; counts answers by status.
-- BENCH_SITE_KEY names the site; BENCH_ANCHORS spreads the sends over that many errors.
-- BENCH_FORWARDED_FOR: "random" gives every request its own X-Forwarded-For address,
-- an address sends them all from that one; unset sends none.
local site = os.getenv("BENCH_SITE_KEY") or "bench"
local forwarded = os.getenv("BENCH_FORWARDED_FOR")
local anchors = tonumber(os.getenv("BENCH_ANCHORS") or "1000")
local origin = os.getenv("BENCH_ORIGIN") or "https://bench.example.com"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  created, limited, other = 0, 0, 0
  math.randomseed(os.time() * 100 + id)
  prefix = string.format("%d-%d-%d", id, os.time(), math.random(1000000))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = origin
end

function request()
  counter = counter + 1
  local anchor = counter % anchors
  local body = string.format(
    '{"site":"%s","idempotency_key":"bench-%s-%d","url":"https://bench.example.com/story/%d",' ..
    '"canonical_url":null,"title":"Story %d","lang":"en","exact":"mistake number %d",' ..
    '"prefix":"Before the ","suffix":" after it.","position":%d,"comment":"Seen in the lead.",' ..
    '"suggestion":"","website":""}', site, prefix, counter, anchor, anchor, anchor, anchor)
  local headers = nil
  if forwarded then
    -- wrk.format takes these instead of wrk.headers, not on top of them.
    headers = {["Content-Type"] = "application/json", ["Origin"] = origin}
    if forwarded == "random" then
      -- 198.18.0.0/15 is the block reserved for benchmarks: only ever a header value here.
      headers["X-Forwarded-For"] = string.format("198.%d.%d.%d", math.random(18, 19),
                                                 math.random(0, 255), math.random(1, 254))
    else
      headers["X-Forwarded-For"] = forwarded
    end
  end
  return wrk.format(nil, nil, headers, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c, l, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); l = l + t:get("limited"); o = o + t:get("other")
  end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"created":%d,"limited":%d,"other":%d,"errors":%d,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, c, l, o,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
