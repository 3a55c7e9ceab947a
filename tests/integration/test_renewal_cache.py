"""The renewal cache of repeated opens (server/renewal_cache.c) and the
timer of campaign batches (server/store_batch.c), against a real
tallyd and redis-server.

A repeated open of a reader in the cache is one ZADD XX of "o|C|M". That
is the whole write only while a member "o|C|M" implies the message mark
and no honeypot time of the message near the open. These tests check that
across two tallyd processes, forget and a honeypot click, and that small
caches, a stop right after opens and several event loops keep the
counters right.
"""
import signal
import threading
import time

from conftest import wait_until, path_of
from rawhttp import exchange, request
from test_plain_opens import (SHOP, connections_killed, next_second, open_and_wait,
                              plain_opens, reader_key)


def honeypot_url(tally, campaign, message, email):
    return tally.ctl("url", "click", "--base", tally.base, "--campaign", campaign,
                     "--message", message, "--email", email, "--to", SHOP,
                     "--honeypot").stdout.strip()


def test_small_renewal_cache_starts(make_tally, redis_server):
    """A renewal_cache below 8 entries is one set of four. tallyd must start
    and count opens with it."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--renewal-cache", "4"])
    url = tally.open_url("sm", "a", "ann@example.com")
    open_and_wait(tally, redis, url, "sm", 1)
    next_second()
    open_and_wait(tally, redis, url, "sm", 2)
    assert plain_opens(tally) == 1


def test_older_writer_data_with_cache_off(make_tally, redis_server):
    """A tallyd built before a person's opens were renamed "o|C|M|human" on
    a honeypot click left "o|C|M" beside the honeypot time h|C|M. With the
    cache a repeated open would count human there, so such data needs
    renewal_cache 0 (docs/redis-schema.md), and then the HMGET sends an
    open within the honeypot window to READER_TOUCH."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--renewal-cache", "0"])
    url = tally.open_url("lg", "a", "ann@example.com")
    open_and_wait(tally, redis, url, "lg", 1)
    marks = reader_key(redis, "u")
    touches = reader_key(redis, "t")
    assert redis.zscore(touches, "o|lg|a") is not None

    next_second()
    redis.hset(marks, "h|lg|a", str(int(time.time())))
    open_and_wait(tally, redis, url, "lg", 2)
    totals = redis.hgetall("c:{lg}")
    assert totals.get("opens:honeypot") == "1", totals
    assert totals.get("opens:human") == "1", totals


def test_shared_keys_two_processes(make_tally, redis_server):
    """Two tallyd processes with one keys file, as a deployment behind a
    load balancer runs them. A caches the reader; B's honeypot click
    renames the open; A's next open within the window is a honeypot open.
    Then B forgets the reader and A's open is a first open again."""
    redis = redis_server.client
    a = make_tally(["--threads", "2"])
    b = make_tally(["--threads", "2", "--keys", a.keys])
    url = path_of(a.open_url("sk", "a", "ann@example.com"))
    trap = path_of(honeypot_url(a, "sk", "a", "ann@example.com"))

    assert a.request("GET", url)[0] == 200
    wait_until(lambda: redis.hget("c:{sk}", "opens") == "1", "the first open")
    next_second()
    assert a.request("GET", url)[0] == 200
    wait_until(lambda: redis.hget("c:{sk}", "opens") == "2", "the second open")
    assert plain_opens(a) == 1

    assert b.request("GET", trap)[0] == 302
    wait_until(lambda: redis.hget("c:{sk}", "clicks") == "1", "the trap click")
    next_second()
    assert a.request("GET", url)[0] == 200
    wait_until(lambda: redis.hget("c:{sk}", "opens") == "3", "the third open")
    totals = redis.hgetall("c:{sk}")
    assert plain_opens(a) == 1
    assert totals["opens:honeypot"] == "2", totals
    assert totals["opens:human"] == "1", totals

    out = a.ctl("forget", "--email", "ann@example.com", redis_url=redis_server.url).stdout
    assert out.startswith("deleted ")
    assert redis.keys("r:*") == []
    next_second()
    assert a.request("GET", url)[0] == 200
    wait_until(lambda: redis.hget("c:{sk}", "opens") == "4", "the fourth open")
    assert redis.hget("c:{sk}", "unique_opens") == "2"
    for suffix in ("t", "u"):
        assert redis.ttl(reader_key(redis, suffix)) > 3600


def test_stop_right_after_opens(make_tally, redis_server):
    """SIGTERM right after the responses to 200 opens: the batches waiting for
    their timer are sent before tallyd exits, so every open is
    counted without a restart."""
    redis = redis_server.client
    tally = make_tally(["--threads", "2"])
    paths = [path_of(tally.open_url("st", "a", f"s{i}@example.com")) for i in range(20)]
    data = b"".join(request("GET", p, close=False) for p in paths * 10)
    data += request("GET", paths[0])
    raw = exchange(tally, data, seconds=60)
    assert raw.count(b"HTTP/1.1 200 ") == 201
    tally.proc.send_signal(signal.SIGTERM)
    tally.proc.wait(timeout=20)
    assert redis.hget("c:{st}", "opens") == "201"
    assert redis.hget("c:{st}", "unique_opens") == "20"


def test_four_loops_kills_and_honeypots(make_tally, redis_server):
    """Four event loops share the cache while Redis closes their
    connections and honeypot clicks land on half the readers. Every open
    is counted once, each reader once as unique, and no reader with a
    honeypot time keeps a person's open under o|C|M."""
    redis = redis_server.client
    tally = make_tally(["--threads", "4"])
    readers = [f"q{i}@example.com" for i in range(8)]
    opens = [path_of(tally.open_url("fl", "a", r)) for r in readers]
    traps = [path_of(honeypot_url(tally, "fl", "a", r)) for r in readers[:4]]
    for p in opens:
        assert tally.request("GET", p)[0] == 200
    wait_until(lambda: redis.hget("c:{fl}", "opens") == "8", "the first opens")
    next_second()
    ok = [0] * 8

    def send(i):
        data = b"".join(request("GET", opens[i], close=False) for _ in range(149))
        data += request("GET", opens[i])
        ok[i] = exchange(tally, data, seconds=60).count(b"HTTP/1.1 200 ")

    with connections_killed(redis, 10, 0.1):
        for t in traps:
            assert tally.request("GET", t)[0] == 302
        workers = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(90)
    assert sum(ok) == 1200
    wait_until(lambda: redis.hget("c:{fl}", "opens") == "1208", "1,208 opens", 90)
    time.sleep(1)
    totals = redis.hgetall("c:{fl}")
    assert totals["opens"] == "1208"
    assert totals["unique_opens"] == "8"
    assert int(totals["opens:human"]) + int(totals["opens:honeypot"]) == 1208
    # Once a message has a honeypot time, no person's open is under o|C|M.
    for touches in redis.keys("r:*:t"):
        marks = touches[:-1] + "u"
        if redis.hget(marks, "h|fl|a") is not None:
            assert redis.zscore(touches, "o|fl|a") is None
