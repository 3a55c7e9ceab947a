"""Repeated opens written with two plain commands (server/store_open.c).

Each test drives a real tallyd against a real redis-server and checks what
Redis holds: the counters, the reader's touchpoints and marks, and the TTLs.
The cases are the ones where the plain commands must not be the whole write:
a first open, a renewal period that has passed, a honeypot click of the
message, and a reader whose keys were deleted.
"""
import contextlib
import os
import signal
import socket
import threading
import time

import pytest

from conftest import CLASSIFY_DATA, free_port, path_of, wait_until
from rawhttp import exchange, request
from test_stats_api import metric_samples

SHOP = "https://shop.example/p/42"
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Safari/605.1.15")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
               "(via ggpht.com GoogleImageProxy)")


def plain_opens(tally):
    return metric_samples(tally)[("tally_opens_plain_total", ())]


def one_command_opens(tally):
    return metric_samples(tally)[("tally_opens_one_command_total", ())]


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


def command_calls(redis, name):
    """Returns how often Redis has run command name (lower case), a
    client's calls and a script's alike."""
    return int(redis.info("commandstats").get(f"cmdstat_{name}", {}).get("calls", 0))


def next_second():
    """Sleeps into the next second, so that an open's score grows."""
    time.sleep(1.05 - time.time() % 1)


def test_plain_open_new_period_renews(make_tally, redis_server):
    """tallyd remembers the renewal period a reply showed, and a repeated
    open in that period is one ZADD. A new connection to Redis clears
    that, so when the marks then show the keys last renewed in another
    period, the open takes READER_TOUCH, which renews both keys and
    records the period."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    url = tally.open_url("rn", "a", "ann@example.com")
    open_and_wait(tally, redis, url, "rn", 1)
    touches, marks = reader_key(redis, "t"), reader_key(redis, "u")
    period = redis.hget(marks, "e")

    redis.hset(marks, "e", "1")
    for key in (touches, marks):
        redis.expire(key, 50)
    next_second()
    hmgets = command_calls(redis, "hmget")
    open_and_wait(tally, redis, url, "rn", 2)
    assert plain_opens(tally) == 1
    assert command_calls(redis, "hmget") == hmgets
    assert redis.hget(marks, "e") == "1"

    redis.client_kill_filter(_type="normal", skipme=True)
    wait_until(lambda: tally.log_text().count("redis.connected") >= 2, "a new connection")
    next_second()
    open_and_wait(tally, redis, url, "rn", 3)
    assert plain_opens(tally) == 1
    assert redis.hget(marks, "e") == period
    assert all(redis.ttl(key) > 3600 for key in (touches, marks))


@pytest.mark.parametrize("cache", ["1048576", "0"])
def test_plain_open_renewal_shared_by_loops(make_tally, redis_server, cache):
    """With two event loops, each open on its own connection, the first
    open of eight readers runs READER_TOUCH and the second is one ZADD,
    whichever loop took it: the loops share what they learnt. With
    renewal_cache 0, each second open reads the marks with an HMGET and
    is still written plain."""
    redis = redis_server.client
    tally = make_tally(["--threads", "2", "--renewal-cache", cache])
    urls = [tally.open_url("sh", "a", f"r{i}@example.com") for i in range(8)]
    for n, url in enumerate(urls, 1):
        open_and_wait(tally, redis, url, "sh", n)

    next_second()
    hmgets = command_calls(redis, "hmget")
    for n, url in enumerate(urls, 9):
        open_and_wait(tally, redis, url, "sh", n)
    assert plain_opens(tally) == 8
    assert one_command_opens(tally) == (8 if cache != "0" else 0)
    assert command_calls(redis, "hmget") - hmgets == (0 if cache != "0" else 8)
    assert redis.hget("c:{sh}", "unique_opens") == "8"


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


def test_plain_machine_open_keeps_human(make_tally, redis_server):
    """A repeated open by an image proxy moves the member
    o|C|M|image_proxy, as READER_TOUCH would. The person's member o|C|M
    keeps its time."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--classify-data", CLASSIFY_DATA])
    url = tally.open_url("mo", "a", "ann@example.com")

    for opens, agent in ((1, GMAIL_PROXY), (2, SAFARI)):
        assert tally.request("GET", path_of(url), headers={"User-Agent": agent})[0] == 200
        wait_until(lambda: redis.hget("c:{mo}", "opens") == str(opens), f"{opens} opens")
        time.sleep(1.1)
    touches = reader_key(redis, "t")
    human = redis.zscore(touches, "o|mo|a")
    proxy = redis.zscore(touches, "o|mo|a|image_proxy")
    assert human is not None
    assert proxy is not None

    assert tally.request("GET", path_of(url), headers={"User-Agent": GMAIL_PROXY})[0] == 200
    wait_until(lambda: redis.hget("c:{mo}", "opens") == "3", "3 opens")
    assert plain_opens(tally) == 1
    assert redis.hget("c:{mo}", "opens:image_proxy") == "2"
    assert redis.zscore(touches, "o|mo|a") == human
    assert redis.zscore(touches, "o|mo|a|image_proxy") > proxy


def burst(tally, paths, connections=8):
    """Sends paths as pipelined GETs over `connections` connections at once
    and returns the number of 200 responses."""
    chunks = [paths[i::connections] for i in range(connections)]
    ok = [0] * connections

    def send(i):
        data = b"".join(request("GET", p, close=False) for p in chunks[i][:-1])
        data += request("GET", chunks[i][-1])
        ok[i] = exchange(tally, data, seconds=60).count(b"HTTP/1.1 200 ")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return sum(ok)


class SlowProxy:
    """Forwards 127.0.0.1:port to redis_server's unix socket and delays each
    chunk of Redis's replies by delay seconds, as a Redis that far away
    would. Its threads end with their sockets, at stop() or with the test
    process."""

    def __init__(self, redis_server, delay):
        self.target = redis_server.socket
        self.delay = delay
        self.port = free_port()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(8)
        self.url = f"redis://127.0.0.1:{self.port}"
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            threading.Thread(target=self._pump, args=(client, server, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.delay),
                             daemon=True).start()

    def _pump(self, src, dst, delay):
        try:
            while not self.stopped:
                data = src.recv(1 << 16)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.listener.close()


def test_plain_hot_reader_no_timeout(make_tally, redis_server):
    """1,500 opens of one reader with Redis 5 ms away and the default
    redis_timeout of 2 s. The reader's opens wait behind one open's plain
    commands for one round trip together, not one each, so no write times
    out and nothing goes to the journal."""
    redis = redis_server.client
    proxy = SlowProxy(redis_server, delay=0.005)
    tally = make_tally(["--threads", "1", "--redis", proxy.url])
    hot = path_of(tally.open_url("slow", "a", "slow@example.com"))
    assert burst(tally, [hot], 1) == 1
    wait_until(lambda: redis.hget("c:{slow}", "opens") == "1", "the first open")
    time.sleep(1.1)

    assert burst(tally, [hot] * 1500) == 1500
    wait_until(lambda: redis.hget("c:{slow}", "opens") == "1501", "1,501 opens", 60)
    log = tally.log_text()
    tally.stop()
    proxy.stop()
    assert "redis.timeout" not in log
    assert "store.spooling" not in log


def test_plain_parked_then_redis_timeout(make_tally, redis_server):
    """Redis stops replying while 500 opens of one reader wait behind the
    first one's plain commands. The timeout sends all of them to the
    journal, and each is counted once when Redis replies again."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "300ms"])
    hot = path_of(tally.open_url("park", "a", "park@example.com"))
    assert burst(tally, [hot], 1) == 1
    wait_until(lambda: redis.hget("c:{park}", "opens") == "1", "the first open")
    time.sleep(1.1)

    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        assert burst(tally, [hot] * 500, 1) == 500
        wait_until(lambda: "redis.timeout" in tally.log_text(), "the timeout", 10)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_until(lambda: redis.hget("c:{park}", "opens") == "501", "501 opens", 60)
    time.sleep(0.5)
    assert redis.hget("c:{park}", "opens") == "501"
    assert tally.proc.poll() is None


@contextlib.contextmanager
def connections_killed(redis, times, interval):
    """Close every client connection but redis's own (CLIENT KILL) up to
    times times, interval seconds apart, on a thread, while the body runs."""
    done = threading.Event()

    def killer():
        for _ in range(times):
            if done.is_set():
                return
            redis.client_kill_filter(_type="normal", skipme=True)
            time.sleep(interval)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def test_plain_connection_killed_mid_burst(make_tally, redis_server):
    """Redis closes tallyd's connection (CLIENT KILL) up to 20 times while
    opens of four readers are parked and in flight. Every open is counted
    once."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    paths = [path_of(tally.open_url("kill", "a", f"k{i}@example.com")) for i in range(4)]
    assert burst(tally, paths, 1) == 4
    wait_until(lambda: redis.hget("c:{kill}", "opens") == "4", "the first opens")
    time.sleep(1.1)
    with connections_killed(redis, 20, 0.05):
        assert burst(tally, [paths[i % 4] for i in range(6000)]) == 6000
    wait_until(lambda: redis.hget("c:{kill}", "opens") == "6004", "6,004 opens", 90)
    assert "redis.disconnected" in tally.log_text()
    time.sleep(1)
    assert redis.hget("c:{kill}", "opens") == "6004"
    assert tally.proc.poll() is None
