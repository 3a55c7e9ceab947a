"""Repeated opens written with two plain commands (server/store_open.c).

Each test drives a real tallyd against a real redis-server and checks what
Redis holds: the counters, the reader's touchpoints and marks, and the TTLs.
The cases are the ones where the plain commands must not be the whole write:
a first open, a renewal period that has passed, a honeypot click of the
message, and a reader whose keys were deleted.
"""
import time

from conftest import path_of, wait_until
from rawhttp import exchange, request
from test_stats_api import metric_samples

SHOP = "https://shop.example/p/42"


def plain_opens(tally):
    return metric_samples(tally)[("tally_opens_plain_total", ())]


def open_and_wait(tally, redis, url, campaign, opens):
    """Requests url and waits until campaign counts `opens` opens."""
    assert tally.request("GET", path_of(url))[0] == 200
    wait_until(lambda: redis.hget(f"c:{{{campaign}}}", "opens") == str(opens),
               f"{opens} opens of {campaign}")


def reader_key(redis, suffix):
    """Returns the one reader's key r:{R}:suffix."""
    keys = redis.keys(f"r:*:{suffix}")
    assert len(keys) == 1, keys
    return keys[0]


def test_plain_repeated_opens(make_tally, redis_server):
    """The first open runs READER_TOUCH; the repeated ones move the
    touchpoint's time with a plain ZADD and count like the script would."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = tally.open_url("pl", "a", "ann@example.com")

    open_and_wait(tally, redis, url, "pl", 1)
    touches = reader_key(redis, "t")
    first = redis.zscore(touches, "o|pl|a")
    assert plain_opens(tally) == 0

    for opens in (2, 3):
        time.sleep(1.1)  # a later second, so the score grows
        open_and_wait(tally, redis, url, "pl", opens)
    assert plain_opens(tally) == 2
    assert redis.zscore(touches, "o|pl|a") > first
    # Within the same second GT leaves the score, the ZADD reports no
    # change, and READER_TOUCH records the open.
    time.sleep(1.05 - time.time() % 1)
    open_and_wait(tally, redis, url, "pl", 4)
    open_and_wait(tally, redis, url, "pl", 5)
    assert plain_opens(tally) == 3
    assert redis.zrange(touches, 0, -1) == ["o|pl|a"]
    totals = redis.hgetall("c:{pl}")
    assert totals["unique_opens"] == "1"
    assert totals["opens:human"] == "5"
    assert redis.hget("c:{pl}:m:a", "unique_opens") == "1"


def test_plain_open_new_period_renews(make_tally, redis_server):
    """When the marks show the keys were last renewed in another period,
    the open takes READER_TOUCH, which renews both keys and records the
    period."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = tally.open_url("rn", "a", "ann@example.com")
    open_and_wait(tally, redis, url, "rn", 1)
    touches, marks = reader_key(redis, "t"), reader_key(redis, "u")
    period = redis.hget(marks, "e")

    redis.hset(marks, "e", "1")
    for key in (touches, marks):
        redis.expire(key, 50)
    open_and_wait(tally, redis, url, "rn", 2)

    assert plain_opens(tally) == 0
    assert redis.hget(marks, "e") == period
    assert all(redis.ttl(key) > 3600 for key in (touches, marks))


def test_plain_honeypot_keeps_older_open(make_tally, redis_server):
    """A honeypot click leaves an open outside its window human but renames
    it. So the open that follows within the window cannot move that
    touchpoint's time. It becomes a honeypot open of its own, and the older
    open keeps its time."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = tally.open_url("hk", "a", "ann@example.com")
    open_and_wait(tally, redis, url, "hk", 1)
    touches = reader_key(redis, "t")
    # As if the open had come an hour ago, far outside the 30 s window.
    old = redis.zscore(touches, "o|hk|a") - 3600 * 64
    redis.zadd(touches, {"o|hk|a": old})

    trap = tally.ctl("url", "click", "--base", tally.base, "--campaign", "hk",
                     "--message", "a", "--email", "ann@example.com", "--to", SHOP,
                     "--honeypot").stdout.strip()
    assert tally.request("GET", path_of(trap))[0] == 302
    wait_until(lambda: redis.hget("c:{hk}", "clicks:honeypot") == "1", "the trap click")
    assert redis.zscore(touches, "o|hk|a|human") == old
    assert redis.zscore(touches, "o|hk|a") is None

    open_and_wait(tally, redis, url, "hk", 2)
    assert plain_opens(tally) == 0
    assert redis.zscore(touches, "o|hk|a|human") == old
    assert redis.zscore(touches, "o|hk|a|honeypot") is not None
    totals = redis.hgetall("c:{hk}")
    assert totals["opens:human"] == "1"
    assert totals["opens:honeypot"] == "1"


def test_plain_open_after_forget(make_tally, redis_server):
    """After the reader's keys are deleted, the plain ZADD finds nothing to
    move and creates nothing. READER_TOUCH records the open as a first one,
    with TTLs on both keys."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = tally.open_url("fg", "a", "gone@example.com")
    open_and_wait(tally, redis, url, "fg", 1)
    out = tally.ctl("forget", "--email", "gone@example.com",
                    redis_url=redis_server.url).stdout
    assert out.startswith("deleted ")
    assert redis.keys("r:*") == []

    open_and_wait(tally, redis, url, "fg", 2)
    assert plain_opens(tally) == 0
    assert redis.hget("c:{fg}", "unique_opens") == "2"
    for suffix in ("t", "u"):
        assert redis.ttl(reader_key(redis, suffix)) > 0


def test_plain_pipelined_reader_order(make_tally, redis_server):
    """One connection sends a reader's open, a repeated open and the
    honeypot click at once. The click must not run between an open's plain
    commands and the script they fall back on. So the counters come out as
    if the three had been sent one by one. The click moves the one open
    touchpoint, and no open is counted as a honeypot's twice."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = path_of(tally.open_url("po", "a", "ann@example.com"))
    trap = path_of(tally.ctl("url", "click", "--base", tally.base, "--campaign", "po",
                             "--message", "a", "--email", "ann@example.com", "--to", SHOP,
                             "--honeypot").stdout.strip())
    raw = exchange(tally, request("GET", url, close=False) + request("GET", url, close=False) +
                   request("GET", trap))
    assert raw.count(b"HTTP/1.1 200 ") == 2
    assert raw.count(b"HTTP/1.1 302 ") == 1
    wait_until(lambda: redis.hget("c:{po}", "clicks") == "1" and
               redis.hget("c:{po}", "opens") == "2", "the three events")
    totals = redis.hgetall("c:{po}")
    assert totals["opens:honeypot"] == "1"
    assert totals["opens:human"] == "1"
    assert totals["unique_opens"] == "1"
