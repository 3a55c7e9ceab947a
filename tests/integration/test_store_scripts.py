"""The store's Lua scripts run directly against a real redis-server: the
replay rules that exactly-once rests on, which tallyd alone cannot be made
to exercise (a replay needs a reply lost after Redis applied the command).

The sources are read from server/store_scripts.c, so these tests run the
scripts that tallyd sends.
"""
import concurrent.futures
import os
import re

from conftest import RedisServer, path_of, wait_until

SCRIPTS_C = os.path.join(os.path.dirname(__file__), "../../server/store_scripts.c")
HOUR_KEY = "c:{spring}:h:2026120414"


def script_source(name):
    """Returns the Lua text of `static const char NAME[] = "..." ...;`."""
    with open(SCRIPTS_C) as f:
        text = f.read()
    body = re.search(r"static const char " + name + r"\[\] =(.*?);\n", text, re.S).group(1)
    pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return "".join(pieces).encode().decode("unicode_escape")


def campaign_touch(client, writer, events, message_keys=("c:{spring}:m:a", "c:{spring}:m:b")):
    """Runs CAMPAIGN_TOUCH for events [(seq, kind, mask, message index,
    link field)], all in HOUR_KEY."""
    keys = ["c:{spring}", "c:{spring}:w", "c:{spring}:l", *message_keys, HOUR_KEY]
    hour_index = len(keys)
    args = [writer, 3600]
    for seq, kind, mask, message, link in events:
        args += [seq, kind, mask, 4 + message, hour_index, link]
    return client.eval(script_source("campaign_touch"), len(keys), *keys, *args)


def test_campaign_batch_counts_each_event(redis_server):
    client = redis_server.client
    applied = campaign_touch(client, "w1", [
        (1, "opens", 3, 0, ""),
        (2, "opens", 0, 0, ""),
        (3, "opens", 2, 1, ""),
        (4, "clicks", 3, 1, "b:2"),
    ])

    assert applied == 4
    assert client.hgetall("c:{spring}") == {
        "opens": "3", "unique_opens": "1", "clicks": "1", "unique_clicks": "1"}
    assert client.hgetall("c:{spring}:m:a") == {"opens": "2", "unique_opens": "1"}
    assert client.hgetall("c:{spring}:m:b") == {
        "opens": "1", "unique_opens": "1", "clicks": "1", "unique_clicks": "1"}
    assert client.hgetall(HOUR_KEY) == {"opens": "3", "clicks": "1"}
    assert client.hgetall("c:{spring}:l") == {"b:2": "1"}
    assert client.hget("c:{spring}:w", "w1") == "4"
    assert 0 < client.ttl("c:{spring}:m:b") <= 3600


def test_campaign_batch_replay_regrouped_counts_once(redis_server):
    client = redis_server.client
    assert campaign_touch(client, "w1", [(1, "opens", 1, 0, ""), (2, "opens", 0, 0, "")]) == 2

    # A replay that groups events 2 and 3 together counts only event 3.
    assert campaign_touch(client, "w1", [(2, "opens", 0, 0, ""), (3, "opens", 0, 1, "")]) == 1
    # Replaying everything again counts nothing.
    assert campaign_touch(client, "w1", [(1, "opens", 1, 0, ""), (2, "opens", 0, 0, ""),
                                         (3, "opens", 0, 1, "")]) == 0

    assert client.hget("c:{spring}", "opens") == "3"
    assert client.hget("c:{spring}", "unique_opens") == "1"
    assert client.hget("c:{spring}:m:b", "opens") == "1"
    assert client.hget("c:{spring}:w", "w1") == "3"


def test_campaign_batch_writers_are_independent(redis_server):
    client = redis_server.client
    assert campaign_touch(client, "w1", [(7, "opens", 0, 0, "")]) == 1
    assert campaign_touch(client, "w2", [(1, "opens", 0, 0, "")]) == 1
    assert client.hget("c:{spring}", "opens") == "2"
    assert client.hgetall("c:{spring}:w") == {"w1": "7", "w2": "1"}


def reader_touch(client, member, time, event_id, keep=100):
    parts = member.split("|")
    campaign_mark = "|".join(parts[:2])
    message_mark = "|".join(parts[:3])
    return client.eval(script_source("reader_touch"), 2, "r:{r1}:t", "r:{r1}:u",
                       member, time, campaign_mark, message_mark, event_id, 3600, keep)


def test_reader_touch_masks_and_replay(redis_server):
    client = redis_server.client
    assert reader_touch(client, "o|spring|a", 100, "w-1") == 3
    # The same event again (a replay) returns the same mask.
    assert reader_touch(client, "o|spring|a", 100, "w-1") == 3
    # Another open of the same message is not a first.
    assert reader_touch(client, "o|spring|a", 200, "w-2") == 0
    # A first open of another message of the campaign.
    assert reader_touch(client, "o|spring|b", 300, "w-3") == 2
    assert reader_touch(client, "o|spring|b", 300, "w-3") == 2

    assert client.hgetall("r:{r1}:u") == {
        "o|spring": "w-1", "o|spring|a": "w-1", "o|spring|b": "w-3"}
    assert client.zrange("r:{r1}:t", 0, -1, withscores=True) == [
        ("o|spring|a", 200.0), ("o|spring|b", 300.0)]
    assert 0 < client.ttl("r:{r1}:u") <= 3600
    assert 0 < client.ttl("r:{r1}:t") <= 3600


def test_reader_touch_keeps_latest_touches(redis_server):
    client = redis_server.client
    for i in range(6):
        reader_touch(client, f"c|spring|a|1|{i:016x}", 100 + i, f"w-{i}", keep=3)
    # A repeated open updates its member without adding one.
    reader_touch(client, f"c|spring|a|1|{5:016x}", 200, "w-9", keep=3)

    assert client.zrange("r:{r1}:t", 0, -1) == [
        f"c|spring|a|1|{3:016x}", f"c|spring|a|1|{4:016x}", f"c|spring|a|1|{5:016x}"]


def test_concurrent_opens_all_counted(tally, redis_server):
    """Opens sent on many connections at once end up in batches of
    several events; every one is counted, per message and unique."""
    urls = [tally.open_url("spring", "ab"[i % 2], f"reader{i}@example.com")
            for i in range(40)]
    requests = [path_of(u) for u in urls] * 5

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda p: tally.request("GET", p)[0], requests))
    assert statuses == [200] * len(requests)

    def counted():
        return redis_server.client.hget("c:{spring}", "opens") == str(len(requests))

    wait_until(counted, "every open to be counted")
    client = redis_server.client
    assert client.hget("c:{spring}", "unique_opens") == "40"
    assert client.hget("c:{spring}:m:a", "opens") == "100"
    assert client.hget("c:{spring}:m:b", "opens") == "100"
    assert client.hget("c:{spring}:m:a", "unique_opens") == "20"



def test_opens_wait_for_redis_restart(tmp_path, redis_server, tally):
    """Opens served while Redis is down wait in tallyd's queue and are
    written once it is back."""
    url = path_of(tally.open_url("spring", "a", "reader@example.com"))
    redis_server.stop()
    wait_until(lambda: "redis.disconnected" in open(tally.log_path).read(),
               "tallyd to notice that Redis stopped")

    for _ in range(5):
        assert tally.request("GET", url)[0] == 200

    restarted = RedisServer(str(tmp_path))
    try:
        wait_until(lambda: restarted.client.hget("c:{spring}", "opens") == "5",
                   "the queued opens to be written")
        assert restarted.client.hget("c:{spring}", "unique_opens") == "1"
    finally:
        restarted.stop()
