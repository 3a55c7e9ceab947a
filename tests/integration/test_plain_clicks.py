"""A person's clicks written with plain commands (server/store_click.c).

Each test drives a real tallyd against a real redis-server and checks what
Redis holds: the counters, the reader's touchpoints and marks, and the TTLs.
The cases are the ones where the plain commands must not be the whole write:
a first click, a burst, a honeypot nearby, a renewal period that has passed,
a full touchpoint set, and Redis going silent in the middle.
"""
import json
import os
import signal
import threading
import time

from conftest import email_sha256, path_of, wait_until
from rawhttp import exchange, request
from test_plain_opens import SAFARI, SHOP, command_calls, reader_key
from test_stats_api import metric_samples

TOUCHES_KEPT = 100  # MAX_TOUCHES_PER_READER in server/worker.c


def plain_clicks(tally):
    return metric_samples(tally)[("tally_clicks_plain_total", ())]


def click_path(tally, campaign, email, link, message="a"):
    return path_of(tally.click_url(campaign, message, email, SHOP, link=link))


def click_and_wait(tally, redis, path, campaign, clicks):
    """Follows path and waits until campaign counts `clicks` clicks."""
    status, _, _ = tally.request("GET", path, headers={"User-Agent": SAFARI})
    assert status == 302
    wait_until(lambda: redis.hget(f"c:{{{campaign}}}", "clicks") == str(clicks),
               f"{clicks} clicks of {campaign}")


def test_plain_repeated_clicks(make_tally, redis_server):
    """The first click of a message runs READER_TOUCH, which sets the
    message mark. The next clicks of the same link add their own members
    with the plain ZADD and count as the script would count them."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    path = click_path(tally, "pc", "ann@example.com", 1)

    click_and_wait(tally, redis, path, "pc", 1)
    assert plain_clicks(tally) == 0
    for clicks in (2, 3):
        click_and_wait(tally, redis, path, "pc", clicks)
    assert plain_clicks(tally) == 2

    touches = redis.zrange(reader_key(redis, "t"), 0, -1)
    assert len(touches) == 3
    assert all(m.startswith("c|pc|a|1|") and m.count("|") == 4 for m in touches)
    totals = redis.hgetall("c:{pc}")
    assert totals["clicks:human"] == "3"
    assert totals["unique_clicks"] == "1"
    assert redis.hget("c:{pc}:m:a", "unique_clicks") == "1"
    assert all(redis.ttl(reader_key(redis, s)) > 3600 for s in ("t", "u"))


def test_plain_click_burst_falls_back(make_tally, redis_server):
    """Three links of one email within the burst window, one after the
    other: the second click stays plain, the third finds the burst in its
    range and takes READER_TOUCH, which moves the two before it. The
    counters end as if every click had taken the script."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    paths = [click_path(tally, "pb", "bob@example.com", link) for link in (1, 2, 3)]

    for clicks, path in enumerate(paths, 1):
        click_and_wait(tally, redis, path, "pb", clicks)
    totals = redis.hgetall("c:{pb}")
    assert totals["clicks:burst"] == "3"
    assert int(totals.get("clicks:human", "0")) == 0
    assert plain_clicks(tally) == 1
    touches = redis.zrange(reader_key(redis, "t"), 0, -1)
    assert len(touches) == 3
    assert all(m.endswith("|burst") for m in touches)


def test_plain_click_near_honeypot(make_tally, redis_server):
    """A click within the honeypot window after a trap click of the message
    is a honeypot's: the marks show the trap's time, so READER_TOUCH
    decides, and the plain member is not left behind."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    click_and_wait(tally, redis, click_path(tally, "ph", "eve@example.com", 1), "ph", 1)
    trap = path_of(tally.ctl("url", "click", "--base", tally.base, "--campaign", "ph",
                             "--message", "a", "--email", "eve@example.com", "--to", SHOP,
                             "--honeypot").stdout.strip())
    click_and_wait(tally, redis, trap, "ph", 2)
    click_and_wait(tally, redis, click_path(tally, "ph", "eve@example.com", 2), "ph", 3)

    assert plain_clicks(tally) == 0
    totals = redis.hgetall("c:{ph}")
    assert totals["clicks:honeypot"] == "3"
    assert int(totals.get("clicks:human", "0")) == 0
    touches = redis.zrange(reader_key(redis, "t"), 0, -1)
    assert len(touches) == 3
    assert all(m.endswith("|honeypot") for m in touches)


def test_plain_click_new_period_renews(make_tally, redis_server):
    """When the marks show the keys were last renewed in another period,
    the click takes READER_TOUCH, which renews both keys."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    path = click_path(tally, "pr", "ann@example.com", 1)
    click_and_wait(tally, redis, path, "pr", 1)
    touches, marks = reader_key(redis, "t"), reader_key(redis, "u")
    period = redis.hget(marks, "e")

    redis.hset(marks, "e", "1")
    for key in (touches, marks):
        redis.expire(key, 50)
    click_and_wait(tally, redis, path, "pr", 2)

    assert plain_clicks(tally) == 0
    assert redis.hget(marks, "e") == period
    assert all(redis.ttl(key) > 3600 for key in (touches, marks))
    assert redis.zcard(touches) == 2


def test_plain_clicks_keep_latest_touches(make_tally, redis_server):
    """The plain commands trim the set to the latest touchpoints as the
    script does, so a reader never has more touchpoints than the store keeps.
    They trim only a set that ZCARD showed over that size."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1"])
    path = click_path(tally, "pt", "ann@example.com", 1)
    click_and_wait(tally, redis, path, "pt", 1)
    # As if the first click had come an hour ago: clicks within one second
    # share a score, and the set orders those by member, not by arrival.
    touches = reader_key(redis, "t")
    first = redis.zrange(touches, 0, 0)[0]
    redis.zadd(touches, {first: redis.zscore(touches, first) - 3600 * 64})

    # One at a time, so no click waits behind the one before it (a
    # pipelined burst of a reader takes READER_TOUCH).
    clicks = TOUCHES_KEPT + 5
    trims = command_calls(redis, "zremrangebyrank")
    for n in range(2, clicks + 1):
        click_and_wait(tally, redis, path, "pt", n)
    assert plain_clicks(tally) == clicks - 1
    assert command_calls(redis, "zremrangebyrank") - trims == clicks - TOUCHES_KEPT
    assert redis.zcard(touches) == TOUCHES_KEPT
    assert redis.zscore(touches, first) is None


def test_plain_clicks_redis_silent(make_tally, redis_server):
    """Redis stops replying while clicks wait on their plain commands. The
    timeout sends them to the journal, the replay takes READER_TOUCH, and
    each click is counted once with one touchpoint of its own."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "300ms"])
    path = click_path(tally, "ps", "sam@example.com", 1)
    click_and_wait(tally, redis, path, "ps", 1)

    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        raw = exchange(tally, b"".join(request("GET", path, close=i == 19) for i in range(20)))
        assert raw.count(b"HTTP/1.1 302 ") == 20
        wait_until(lambda: "redis.timeout" in tally.log_text(), "the timeout", 10)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_until(lambda: redis.hget("c:{ps}", "clicks") == "21", "21 clicks", 30)
    assert redis.hget("c:{ps}", "clicks:human") == "21"
    assert redis.zcard(reader_key(redis, "t")) == 21
    assert tally.proc.poll() is None


def click_while_redis_stopped(tally, redis_server, path):
    """Follows path while Redis is stopped, until the timeout journals the
    click. Redis then runs the plain commands it had read, so the click's
    member is in the set when the replay runs."""
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        raw = exchange(tally, request("GET", path, close=True))
        assert raw.count(b"HTTP/1.1 302 ") == 1
        wait_until(lambda: "redis.timeout" in tally.log_text(), "the timeout", 10)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)


def test_replayed_click_near_honeypot(make_tally, redis_server):
    """A click journaled after its plain ZADD ran, within the honeypot
    window of a trap click: the replay counts it once, as a honeypot's."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "300ms"])
    click_and_wait(tally, redis, click_path(tally, "rh", "eve@example.com", 1), "rh", 1)
    trap = path_of(tally.ctl("url", "click", "--base", tally.base, "--campaign", "rh",
                             "--message", "a", "--email", "eve@example.com", "--to", SHOP,
                             "--honeypot").stdout.strip())
    click_and_wait(tally, redis, trap, "rh", 2)

    click_while_redis_stopped(tally, redis_server, click_path(tally, "rh", "eve@example.com", 2))
    wait_until(lambda: redis.hget("c:{rh}", "clicks") == "3", "3 clicks", 30)

    totals = redis.hgetall("c:{rh}")
    assert totals["clicks:honeypot"] == "3"
    assert int(totals.get("clicks:human", "0")) == 0
    assert redis.zcard(reader_key(redis, "t")) == 3


def test_replayed_click_in_burst(make_tally, redis_server):
    """A click journaled after its plain ZADD ran, which makes a burst with
    the two clicks before it: the replay moves those two and counts itself
    once, as a burst."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "300ms", "--burst-window", "60s"])
    paths = [click_path(tally, "rb", "bob@example.com", link) for link in (1, 2, 3)]
    click_and_wait(tally, redis, paths[0], "rb", 1)
    click_and_wait(tally, redis, paths[1], "rb", 2)

    click_while_redis_stopped(tally, redis_server, paths[2])
    wait_until(lambda: redis.hget("c:{rb}", "clicks") == "3", "3 clicks", 30)

    totals = redis.hgetall("c:{rb}")
    assert totals["clicks:burst"] == "3"
    assert int(totals.get("clicks:human", "0")) == 0
    touches = redis.zrange(reader_key(redis, "t"), 0, -1)
    assert len(touches) == 3
    assert all(m.endswith("|burst") for m in touches)


def test_full_set_burst_sees_oldest_click(make_tally, redis_server):
    """A full set: the oldest touchpoint is a click on link 1, the other 99
    clicks on link 2, all in the burst window. A click on link 3 makes
    three links, so READER_TOUCH makes it a burst and moves the 8 clicks it
    may move. No trim may take the link 1 click before the script reads
    the window."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--burst-window", "600s"])
    links = [click_path(tally, "rf", "fay@example.com", link) for link in (1, 2, 3)]
    click_and_wait(tally, redis, links[0], "rf", 1)
    for n in range(2, TOUCHES_KEPT + 1):
        click_and_wait(tally, redis, links[1], "rf", n)

    click_and_wait(tally, redis, links[2], "rf", TOUCHES_KEPT + 1)

    totals = redis.hgetall("c:{rf}")
    assert totals["clicks:burst"] == "9"
    assert totals["clicks:human"] == str(TOUCHES_KEPT + 1 - 9)
    assert redis.zcard(reader_key(redis, "t")) == TOUCHES_KEPT


def beacon_request(body, close):
    data = json.dumps(body).encode()
    head = ("POST /b HTTP/1.1\r\nHost: tally.test\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\n"
            f"Content-Length: {len(data)}\r\n" + ("Connection: close\r\n" if close else "")
            + "\r\n").encode()
    return head + data


def test_clicks_and_checkouts_survive_drops(make_tally, redis_server):
    """Six rounds of 41 pipelined clicks of three readers on four links,
    with email checkouts of those readers among them. In each round Redis
    is stopped for 0.5 s (past the timeout) or tallyd's connection is
    killed, while clicks wait on their plain commands and checkouts on
    their reads. Every click is counted once, and no verdict count goes
    below zero."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "300ms", "--burst-window", "60s"])
    emails = [f"d{i}@example.com" for i in range(3)]
    paths = [click_path(tally, "dr", email, link) for email in emails for link in (1, 2, 3, 4)]
    rounds, clicks_per_round = 6, 40
    sent = 0
    order = 0

    for round_no in range(rounds):
        batch = []
        for i in range(clicks_per_round):
            batch.append(request("GET", paths[(i * 7 + round_no) % len(paths)], close=False))
            if i % 10 == 9:
                order += 1
                batch.append(beacon_request(
                    {"type": "checkout", "order_id": f"o{order}", "revenue": "1.00",
                     "currency": "EUR", "email_sha256": email_sha256(emails[i % 3])}, False))
        batch.append(request("GET", paths[0], close=True))
        sent += clicks_per_round + 1

        def disturb(round_no=round_no):
            time.sleep(0.005 * round_no)
            if round_no % 2 == 0:
                os.kill(redis_server.proc.pid, signal.SIGSTOP)
                time.sleep(0.5)
                os.kill(redis_server.proc.pid, signal.SIGCONT)
            else:
                redis.execute_command("CLIENT", "KILL", "SKIPME", "yes")

        worker = threading.Thread(target=disturb)
        worker.start()
        raw = exchange(tally, b"".join(batch), seconds=10)
        worker.join()
        assert raw.count(b"HTTP/1.1 302 ") == clicks_per_round + 1
        assert raw.count(b"HTTP/1.1 204 ") == clicks_per_round // 10

    wait_until(lambda: redis.hget("c:{dr}", "clicks") == str(sent), f"{sent} clicks", 40)
    assert tally.proc.poll() is None
    totals = redis.hgetall("c:{dr}")
    counts = {v: int(totals.get(f"clicks:{v}", "0")) for v in ("human", "burst", "honeypot")}
    assert sum(counts.values()) == sent
    assert all(n >= 0 for n in counts.values())
