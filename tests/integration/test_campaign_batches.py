"""Live campaign batches through tallyd, summed and event by event.

A burst pipelined on one connection reaches Redis in a few CAMPAIGN_SUMS
calls, with the counts added up by tallyd. The same events sent one at a
time go through CAMPAIGN_TOUCH. Both must leave the same counters.
"""
import hashlib

from conftest import path_of, wait_until
from rawhttp import exchange, request
from test_store_scripts import script_source

READERS = 10
MESSAGES = ("a", "b")
CLICKS = 6


def journey_paths(tally, campaign):
    """Returns the journey's request paths. Each reader opens both messages
    twice, five readers click one of three links of message a, and the
    last of them clicks the honeypot link too. That click moves the
    reader's open and click to honeypot."""
    opens = [path_of(tally.open_url(campaign, m, f"r{i}@example.com"))
             for i in range(READERS) for m in MESSAGES]
    clicks = [path_of(tally.click_url(campaign, "a", f"r{i}@example.com",
                                      "https://shop.example/p", link=1 + i % 3))
              for i in range(CLICKS - 1)]
    trap = tally.ctl("url", "click", "--base", tally.base, "--campaign", campaign,
                     "--message", "a", "--email", f"r{CLICKS - 2}@example.com",
                     "--to", "https://shop.example/p", "--honeypot").stdout.strip()
    return opens + opens + clicks + [path_of(trap)]


def counters(client, campaign):
    keys = [f"c:{{{campaign}}}", f"c:{{{campaign}}}:l"]
    keys += [f"c:{{{campaign}}}:m:{m}" for m in MESSAGES]
    keys += sorted(client.keys(f"c:{{{campaign}}}:h:*"))
    keys += sorted(client.keys(f"c:{{{campaign}}}:m:*:h:*"))
    return [client.hgetall(k) for k in keys], client.smembers(f"c:{{{campaign}}}:m")


def test_pipelined_burst_counts_like_single(make_tally, redis_server):
    client = redis_server.client
    tally = make_tally(["--threads", "1"])
    burst = journey_paths(tally, "burst")
    single = journey_paths(tally, "single")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 10000)
    client.slowlog_reset()

    data = b"".join(request("GET", p, close=False) for p in burst[:-1])
    raw = exchange(tally, data + request("GET", burst[-1]))
    assert raw.count(b"HTTP/1.1 200 ") == 2 * READERS * len(MESSAGES)
    assert raw.count(b"HTTP/1.1 302 ") == CLICKS
    for p in single:
        assert tally.request("GET", p)[0] in (200, 302)

    total = 2 * READERS * len(MESSAGES)
    for campaign in ("burst", "single"):
        wait_until(lambda: client.hget(f"c:{{{campaign}}}", "opens") == str(total) and
                   client.hget(f"c:{{{campaign}}}", "clicks") == str(CLICKS),
                   f"the counters of {campaign}")

    sums_sha = hashlib.sha1(script_source("campaign_sums").encode()).hexdigest()
    calls = [e["command"] for e in client.slowlog_get(10000)]
    assert any(c.startswith(b"EVALSHA " + sums_sha.encode()) for c in calls)

    assert counters(client, "burst") == counters(client, "single")
    totals = client.hgetall("c:{burst}")
    assert totals["unique_opens"] == str(READERS)
    assert totals["unique_clicks"] == str(CLICKS - 1)
    assert client.hgetall("c:{burst}:l") == {"a:1": "2", "a:2": "2", "a:3": "1",
                                             "a:4294967295": "1"}
    assert totals["clicks:honeypot"] == "2"
    assert totals["opens:honeypot"] == "1"
    assert client.hget("c:{burst}:m:b", "unique_opens") == str(READERS)
    assert sum(int(v) for f, v in totals.items() if f.startswith("opens:")) == total
