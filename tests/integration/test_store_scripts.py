"""The store's Lua scripts run directly against a real redis-server: the
replay rules that exactly-once rests on, which tallyd alone cannot be made
to exercise (a replay needs a reply lost after Redis applied the command).

The sources are read from server/store_scripts.c, so these tests run the
scripts that tallyd sends.
"""
import concurrent.futures
import os
import re

import pytest
import redis

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


MESSAGE_IDS = ("a", "b")


def message_hour_key(message, hour_key):
    """Returns the message hour key of MESSAGE_IDS[message] for an hour key
    c:{spring}:h:HOUR."""
    return hour_key.replace(":h:", f":m:{MESSAGE_IDS[message]}:h:")


def campaign_touch(client, events, extra_hours=()):
    """Runs CAMPAIGN_TOUCH for events. Each is a dict with writer, seq,
    kind, mask and message (index into MESSAGE_IDS), and optionally pred
    (the predecessor, default 0), verdict and link. Its optional moved and
    moved_opens list the hour keys (0 being HOUR_KEY) of the clicks and
    opens READER_TOUCH moved.
    All events are in HOUR_KEY, and extra_hours adds hour keys for moved
    ones. Every message gets a message hour key per hour key, as
    store_batch.c sends them."""
    message_keys = [f"c:{{spring}}:m:{m}" for m in MESSAGE_IDS]
    hour_keys = [HOUR_KEY, *extra_hours]
    message_hours = [message_hour_key(m, h) for m in range(len(MESSAGE_IDS))
                     for h in hour_keys]
    keys = ["c:{spring}", "c:{spring}:w", "c:{spring}:l", "c:{spring}:m",
            *message_keys, *hour_keys, *message_hours]
    first_message = 5
    first_hour = first_message + len(message_keys)
    first_message_hour = first_hour + len(hour_keys)

    def message_hour(message, hour):
        return first_message_hour + message * len(hour_keys) + hour

    args = [3600, len(MESSAGE_IDS), *MESSAGE_IDS]
    for e in events:
        moved = []
        for h in e.get("moved", ()):
            moved += ["clicks", first_hour + h, message_hour(e["message"], h)]
        for h in e.get("moved_opens", ()):
            moved += ["opens", first_hour + h, message_hour(e["message"], h)]
        args += [e["writer"], e["seq"], e.get("pred", 0), e["kind"],
                 e.get("verdict", "human"), e["mask"],
                 first_message + e["message"], first_hour,
                 message_hour(e["message"], 0), e.get("link", ""),
                 len(moved) // 3, *moved]
    return client.eval(script_source("campaign_touch"), len(keys), *keys, *args)


def opened(seq, mask=0, message=0, writer="w1", verdict="human", pred=0):
    return {"writer": writer, "seq": seq, "kind": "opens", "mask": mask,
            "message": message, "verdict": verdict, "pred": pred}


def clicked(seq, link, mask=0, message=0, writer="w1", verdict="human", moved=(),
            moved_opens=()):
    return {"writer": writer, "seq": seq, "kind": "clicks", "mask": mask,
            "message": message, "verdict": verdict, "link": link, "moved": moved,
            "moved_opens": moved_opens}


def test_campaign_batch_counts_each_event(redis_server):
    client = redis_server.client
    applied = campaign_touch(client, [
        opened(1, mask=3),
        opened(2, verdict="image_proxy"),
        opened(3, mask=2, message=1),
        clicked(4, "b:2", mask=3, message=1),
    ])

    assert applied == 4
    assert client.hgetall("c:{spring}") == {
        "opens": "3", "opens:human": "2", "opens:image_proxy": "1", "unique_opens": "1",
        "clicks": "1", "clicks:human": "1", "unique_clicks": "1"}
    assert client.hgetall("c:{spring}:m:a") == {
        "opens": "2", "opens:human": "1", "opens:image_proxy": "1", "unique_opens": "1"}
    assert client.hgetall("c:{spring}:m:b") == {
        "opens": "1", "opens:human": "1", "unique_opens": "1",
        "clicks": "1", "clicks:human": "1", "unique_clicks": "1"}
    assert client.hgetall(HOUR_KEY) == {
        "opens": "3", "opens:human": "2", "opens:image_proxy": "1",
        "clicks": "1", "clicks:human": "1"}
    assert client.hgetall("c:{spring}:l") == {"b:2": "1"}
    assert client.smembers("c:{spring}:m") == {"a", "b"}
    assert client.hget("c:{spring}:w", "w1") == "4"
    assert client.hgetall("c:{spring}:m:a:h:2026120414") == {
        "opens": "2", "opens:human": "1", "opens:image_proxy": "1"}
    assert client.hgetall("c:{spring}:m:b:h:2026120414") == {
        "opens": "1", "opens:human": "1", "clicks": "1", "clicks:human": "1"}
    assert 0 < client.ttl("c:{spring}:m:b:h:2026120414") <= 3600
    assert 0 < client.ttl("c:{spring}:m:b") <= 3600
    assert 0 < client.ttl("c:{spring}:m") <= 3600


def test_campaign_batch_replay_regrouped_counts_once(redis_server):
    client = redis_server.client
    assert campaign_touch(client, [opened(1, mask=1), opened(2)]) == 2

    # A replay that groups events 2 and 3 together counts only event 3.
    assert campaign_touch(client, [opened(2), opened(3, message=1)]) == 1
    # Replaying everything again counts nothing.
    assert campaign_touch(client, [opened(1, mask=1), opened(2), opened(3, message=1)]) == 0

    assert client.hget("c:{spring}", "opens") == "3"
    assert client.hget("c:{spring}", "opens:human") == "3"
    assert client.hget("c:{spring}", "unique_opens") == "1"
    assert client.hget("c:{spring}:m:b", "opens") == "1"
    assert client.hget("c:{spring}:m:a:h:2026120414", "opens") == "2"
    assert client.hget("c:{spring}:m:b:h:2026120414", "opens") == "1"
    assert client.hget("c:{spring}:w", "w1") == "3"


def test_campaign_batch_writers_are_independent(redis_server):
    client = redis_server.client
    assert campaign_touch(client, [opened(7)]) == 1
    assert campaign_touch(client, [opened(1, writer="w2")]) == 1
    assert client.hget("c:{spring}", "opens") == "2"
    assert client.hgetall("c:{spring}:w") == {"w1": "7", "w2": "1"}


def test_campaign_batch_mixed_writers(redis_server):
    """A replay batch can hold events of several writers (an adopted
    journal, a renumbered event); each is checked against its own mark."""
    client = redis_server.client
    assert campaign_touch(client, [opened(5, writer="w1")]) == 1

    applied = campaign_touch(client, [
        opened(4, writer="w1"), opened(1, writer="w2"), opened(6, writer="w1"),
        opened(2, writer="w2"),
    ])

    assert applied == 3
    assert client.hget("c:{spring}", "opens") == "4"
    assert client.hgetall("c:{spring}:w") == {"w1": "6", "w2": "2"}


def test_campaign_batch_gap_rejected(redis_server):
    """A batch whose predecessor was not applied (it met BUSY, say, and its
    reply was lost) is rejected whole, so the earlier events, retried with
    their own sequence numbers, are not skipped by a mark above them."""
    client = redis_server.client
    assert campaign_touch(client, [opened(1)]) == 1

    # Events 2 and 3 never arrived; 4 names 3 as its predecessor.
    with pytest.raises(redis.exceptions.ResponseError, match="^GAP"):
        campaign_touch(client, [opened(4, pred=3), opened(5, pred=4)])
    assert client.hget("c:{spring}", "opens") == "1"
    assert client.hget("c:{spring}:w", "w1") == "1"

    # The retry of 2 and 3, then 4 and 5 again, count each once.
    assert campaign_touch(client, [opened(2, pred=1), opened(3, pred=2)]) == 2
    assert campaign_touch(client, [opened(4, pred=3), opened(5, pred=4)]) == 2
    assert client.hget("c:{spring}", "opens") == "5"


def test_campaign_batch_predecessor_checked_per_writer(redis_server):
    """An applied event's predecessor is never checked (a replay of it is
    skipped), and one writer's gap does not hold up another writer."""
    client = redis_server.client
    assert campaign_touch(client, [opened(3), opened(1, writer="w2")]) == 2

    assert campaign_touch(client, [opened(3, pred=2), opened(2, writer="w2", pred=1)]) == 1
    with pytest.raises(redis.exceptions.ResponseError, match="^GAP"):
        campaign_touch(client, [opened(3, writer="w2", pred=9)])
    assert client.hgetall("c:{spring}:w") == {"w1": "3", "w2": "2"}


def test_campaign_batch_moves_clicks(redis_server):
    """A burst click moves two earlier human clicks, one in the same hour
    and one in the hour before, from clicks:human to clicks:burst."""
    client = redis_server.client
    earlier_hour = "c:{spring}:h:2026120413"
    assert campaign_touch(client, [clicked(1, "a:1"), clicked(2, "a:2")]) == 2

    applied = campaign_touch(client, [clicked(3, "a:3", verdict="burst", moved=(0, 1))],
                             extra_hours=(earlier_hour,))
    assert applied == 1
    assert client.hgetall("c:{spring}") == {
        "clicks": "3", "clicks:human": "0", "clicks:burst": "3"}
    assert client.hgetall("c:{spring}:m:a") == {
        "clicks": "3", "clicks:human": "0", "clicks:burst": "3"}
    assert client.hgetall(HOUR_KEY) == {
        "clicks": "3", "clicks:human": "1", "clicks:burst": "2"}
    assert client.hgetall(earlier_hour) == {"clicks:human": "-1", "clicks:burst": "1"}
    assert 0 < client.ttl(earlier_hour) <= 3600
    assert client.hgetall("c:{spring}:m:a:h:2026120414") == {
        "clicks": "3", "clicks:human": "1", "clicks:burst": "2"}
    assert client.hgetall("c:{spring}:m:a:h:2026120413") == {
        "clicks:human": "-1", "clicks:burst": "1"}
    assert client.exists("c:{spring}:m:b:h:2026120414") == 0

    # Sent again, the event moves nothing a second time.
    assert campaign_touch(client, [clicked(3, "a:3", verdict="burst", moved=(0, 1))],
                          extra_hours=(earlier_hour,)) == 0
    assert client.hget("c:{spring}", "clicks:burst") == "3"


def test_campaign_batch_moves_opens(redis_server):
    """A honeypot click moves the reader's open of the message from
    opens:human to opens:honeypot, in the campaign, message and hour."""
    client = redis_server.client
    assert campaign_touch(client, [opened(1, mask=3)]) == 1

    assert campaign_touch(client, [clicked(2, "a:9", verdict="honeypot",
                                           moved_opens=(0,))]) == 1
    assert client.hgetall("c:{spring}") == {
        "opens": "1", "opens:human": "0", "opens:honeypot": "1", "unique_opens": "1",
        "clicks": "1", "clicks:honeypot": "1"}
    assert client.hget("c:{spring}:m:a", "opens:honeypot") == "1"
    assert client.hget(HOUR_KEY, "opens:human") == "0"
    assert client.hget("c:{spring}:m:a:h:2026120414", "opens:honeypot") == "1"


def campaign_sums(client, writer, first, last, pred, events, sums, messages=("a",)):
    """Runs CAMPAIGN_SUMS with the keys campaign_touch sends for one hour:
    1 totals, 2 applied marks, 3 links, 4 message set, 5 and 6 the message
    keys of a and b, 7 HOUR_KEY, 8 and 9 its message hour keys. sums lists
    (key index, field, increment)."""
    keys = ["c:{spring}", "c:{spring}:w", "c:{spring}:l", "c:{spring}:m",
            "c:{spring}:m:a", "c:{spring}:m:b", HOUR_KEY,
            message_hour_key(0, HOUR_KEY), message_hour_key(1, HOUR_KEY)]
    args = [3600, writer, first, last, pred, events, len(messages), *messages]
    for key, field, n in sums:
        args += [key, field, n]
    return client.eval(script_source("campaign_sums"), len(keys), *keys, *args)


TWO_OPENS_AND_A_CLICK = [
    (1, "opens", 2), (1, "opens:human", 2), (1, "unique_opens", 1),
    (5, "opens", 2), (5, "opens:human", 2), (7, "opens", 2),
    (1, "clicks", 1), (1, "clicks:human", 0), (1, "clicks:burst", 1),
    (3, "a:2", 1),
]


def test_campaign_sums_count_once(redis_server):
    """A live batch's summed counts apply once; the same batch again (its
    reply lost) returns 0 and changes nothing. A sum of 0 still makes its
    field, as the events one by one would."""
    client = redis_server.client
    assert campaign_sums(client, "w1", 1, 3, 0, 3, TWO_OPENS_AND_A_CLICK) == 3
    totals = {"opens": "2", "opens:human": "2", "unique_opens": "1",
              "clicks": "1", "clicks:human": "0", "clicks:burst": "1"}
    assert client.hgetall("c:{spring}") == totals
    assert client.hgetall("c:{spring}:m:a") == {"opens": "2", "opens:human": "2"}
    assert client.hgetall(HOUR_KEY) == {"opens": "2"}
    assert client.hgetall("c:{spring}:l") == {"a:2": "1"}
    assert client.smembers("c:{spring}:m") == {"a"}
    assert client.hget("c:{spring}:w", "w1") == "3"
    for key in ("c:{spring}", "c:{spring}:w", "c:{spring}:l", "c:{spring}:m",
                "c:{spring}:m:a", HOUR_KEY):
        assert 0 < client.ttl(key) <= 3600, key

    assert campaign_sums(client, "w1", 1, 3, 0, 3, TWO_OPENS_AND_A_CLICK) == 0
    assert client.hgetall("c:{spring}") == totals
    assert client.hget("c:{spring}:w", "w1") == "3"


def test_campaign_sums_gap_and_split_write_nothing(redis_server):
    """A batch whose predecessor is not applied fails with GAP, and one that
    is partly applied fails with SPLIT, both before writing. Per-event and
    summed batches of a writer share its high-water mark."""
    client = redis_server.client
    assert campaign_touch(client, [opened(1, mask=1), opened(2, pred=1)]) == 2
    before = client.hgetall("c:{spring}")

    with pytest.raises(redis.ResponseError, match="^GAP event 4 of writer w1"):
        campaign_sums(client, "w1", 5, 6, 4, 2, TWO_OPENS_AND_A_CLICK)
    with pytest.raises(redis.ResponseError, match="^SPLIT events of writer w1"):
        campaign_sums(client, "w1", 2, 4, 1, 2, TWO_OPENS_AND_A_CLICK)
    assert client.hgetall("c:{spring}") == before
    assert client.hget("c:{spring}:w", "w1") == "2"

    assert campaign_sums(client, "w1", 3, 4, 2, 2, [(1, "opens", 2)]) == 2
    assert client.hget("c:{spring}", "opens") == "4"
    # The next event, one by one, names the batch's last as predecessor.
    assert campaign_touch(client, [opened(5, pred=4)]) == 1
    assert campaign_touch(client, [opened(4, pred=3)]) == 0
    assert client.hget("c:{spring}", "opens") == "5"


DEVICES = {"unknown": 0, "mobile": 1, "tablet": 2, "desktop": 3, "proxy": 4}
CLIENTS = {"unknown": 0, "gmail": 1, "yahoo": 2, "outlook": 3, "apple_mail": 4,
           "thunderbird": 5, "browser": 6}


def score(time, device="desktop|gmail"):
    """The touchpoint score of touch.h: time * 64 + device * 8 + client."""
    device_class, client = device.split("|")
    return time * 64 + DEVICES[device_class] * 8 + CLIENTS[client]


def reader_touch(client, member, time, event_mark, keep=100, verdict="human",
                 device="desktop|gmail", retention=3600, plain_score=""):
    """Runs READER_TOUCH as tallyd does. plain_score is the score a plain
    ZADD of server/store_open.c gave the member before the script."""
    parts = member.split("|")
    campaign_prefix = "|".join(parts[:2]) + "|"
    message_mark = "|".join(parts[:3])
    is_click = "1" if parts[0] == "c" else "0"
    slack = min(3600, retention // 720)   # touch_ttl_slack
    return client.eval(script_source("reader_touch"), 2, "r:{r1}:t", "r:{r1}:u",
                       member, score(time, device), campaign_prefix, message_mark,
                       event_mark, retention + slack, keep, verdict, is_click, 2, 3,
                       30, time // slack if slack else "", plain_score)


def reader_ttls(client):
    return client.ttl("r:{r1}:t"), client.ttl("r:{r1}:u")


def shorten_ttls(client):
    """Leaves the reader's keys 50 s, so a renewal shows."""
    for key in ("r:{r1}:t", "r:{r1}:u"):
        client.expire(key, 50)


def assert_renewed(client, period):
    """Checks that the keys got 72,000 s plus the slack of 100 s in period."""
    assert all(72000 < ttl <= 72100 for ttl in reader_ttls(client))
    assert client.hget("r:{r1}:u", "e") == str(period)


def test_reader_touch_renews_once_per_period(redis_server):
    """With 72,000 s of retention the slack is 100 s. The first event of each
    100 s period renews the TTL, and later events of that period leave it
    alone. An event of an earlier period (a late replay) renews it too."""
    client = redis_server.client
    reader_touch(client, "o|spring|a", 1000, "w-1", retention=72000)
    assert_renewed(client, 10)

    shorten_ttls(client)
    reader_touch(client, "o|spring|a", 1099, "w-2", retention=72000)
    reader_touch(client, "o|spring|b", 1050, "w-3", retention=72000)
    assert all(0 < ttl <= 50 for ttl in reader_ttls(client))

    reader_touch(client, "o|spring|a", 1100, "w-4", retention=72000)
    assert_renewed(client, 11)

    shorten_ttls(client)
    reader_touch(client, "o|spring|a", 900, "w-5", retention=72000)
    assert_renewed(client, 9)


def test_reader_touch_short_retention_renews_every_write(redis_server):
    """Below 720 s of retention there is no slack: every event renews the
    TTL to exactly the retention, and no field e is kept."""
    client = redis_server.client
    reader_touch(client, "o|spring|a", 1000, "w-1", retention=600)
    shorten_ttls(client)
    reader_touch(client, "o|spring|a", 1000, "w-2", retention=600)
    assert all(550 < ttl <= 600 for ttl in reader_ttls(client))
    assert client.hget("r:{r1}:u", "e") is None


def test_reader_touch_masks_and_replay(redis_server):
    client = redis_server.client
    assert reader_touch(client, "o|spring|a", 100, "w-1") == [3, "human", 0]
    # The same event again (a replay) returns the same mask.
    assert reader_touch(client, "o|spring|a", 100, "w-1") == [3, "human", 0]
    # Another open of the same message is not a first.
    assert reader_touch(client, "o|spring|a", 200, "w-2") == [0, "human", 0]
    # A first open of another message of the campaign.
    phone = "mobile|apple_mail"
    assert reader_touch(client, "o|spring|b", 300, "w-3", device=phone) == [2, "human", 0]
    assert reader_touch(client, "o|spring|b", 300, "w-3", device=phone) == [2, "human", 0]

    # A click is a first again; another campaign is a first in its own.
    assert reader_touch(client, f"c|spring|a|1|{1:016x}", 400, "w-4") == [3, "human", 0]
    assert reader_touch(client, "o|spring-2|a", 500, "w-5") == [3, "human", 0]
    assert reader_touch(client, "o|spring-2|a", 500, "w-5") == [3, "human", 0]

    # "+": the message's first event was also the campaign's.
    # e: the renewal period (time / slack) of the keys' last TTL renewal.
    assert client.hgetall("r:{r1}:u") == {
        "o|spring|a": "w-1+", "o|spring|b": "w-3", "c|spring|a": "w-4+",
        "o|spring-2|a": "w-5+", "e": "100"}
    # The score keeps the device and client of the request that set it.
    assert client.zrange("r:{r1}:t", 0, -1, withscores=True) == [
        ("o|spring|a", score(200)), ("o|spring|b", score(300, phone)),
        (f"c|spring|a|1|{1:016x}", score(400)), ("o|spring-2|a", score(500))]
    assert sorted(client.keys("r:*")) == ["r:{r1}:t", "r:{r1}:u"]
    # The retention of 3600 s plus a slack of 3600 / 720 s.
    assert 3600 < client.ttl("r:{r1}:u") <= 3605
    assert 3600 < client.ttl("r:{r1}:t") <= 3605


def test_reader_touch_burst_reply_replays(redis_server):
    """The third link clicked within the burst window is a burst and moves
    the two earlier clicks, keeping their scores. A replay of it returns
    the same reply."""
    client = redis_server.client
    assert reader_touch(client, f"c|spring|a|1|{1:016x}", 100, "w-1",
                        device="mobile|browser") == [3, "human", 0]
    assert reader_touch(client, f"c|spring|a|2|{2:016x}", 101, "w-2") == [0, "human", 0]

    reply = reader_touch(client, f"c|spring|a|3|{3:016x}", 102, "w-3")
    assert reply == [0, "burst", 2, 100, 101]
    assert reader_touch(client, f"c|spring|a|3|{3:016x}", 102, "w-3") == reply
    assert client.zrange("r:{r1}:t", 0, -1, withscores=True) == [
        (f"c|spring|a|1|{1:016x}|burst", score(100, "mobile|browser")),
        (f"c|spring|a|2|{2:016x}|burst", score(101)),
        (f"c|spring|a|3|{3:016x}|burst", score(102))]


def test_reader_touch_burst_window_edges(redis_server):
    """The burst window is whole seconds either side, whatever device codes
    the scores carry: a click 3 s away is outside a 2 s window."""
    client = redis_server.client
    reader_touch(client, f"c|spring|a|1|{1:016x}", 100, "w-1", device="proxy|browser")
    reader_touch(client, f"c|spring|a|2|{2:016x}", 103, "w-2", device="unknown|unknown")
    assert reader_touch(client, f"c|spring|a|3|{3:016x}", 105, "w-3") == [0, "human", 0]
    assert reader_touch(client, f"c|spring|a|4|{4:016x}", 101, "w-4") == [0, "burst", 2, 100, 103]


def test_reader_touch_keeps_latest_touches(redis_server):
    client = redis_server.client
    for i in range(6):
        reader_touch(client, f"c|spring|{i}|1|{i:016x}", 100 + 100 * i, f"w-{i}", keep=3)
    # A repeated touch updates its member without adding one.
    reader_touch(client, f"c|spring|5|1|{5:016x}", 900, "w-9", keep=3)

    members = [f"c|spring|{i}|1|{i:016x}" for i in (3, 4, 5)]
    assert client.zrange("r:{r1}:t", 0, -1) == members


def test_reader_touch_honeypot_marks_opens(redis_server):
    """A honeypot click marks the reader's open of the message within the
    honeypot window (30 s here), and an open after it within the window is
    a honeypot open. A replay of the click returns the same reply."""
    client = redis_server.client
    assert reader_touch(client, "o|spring|a", 100, "w-1") == [3, "human", 0]
    assert reader_touch(client, f"c|spring|a|1|{1:016x}", 110, "w-2") == [3, "human", 0]

    trap = f"c|spring|a|9|{9:016x}"
    reply = reader_touch(client, trap, 120, "w-3", verdict="honeypot")
    assert reply == [0, "honeypot", 1, 110, 100]
    assert reader_touch(client, trap, 120, "w-3", verdict="honeypot") == reply
    assert reader_touch(client, "o|spring|a", 140, "w-4") == [0, "honeypot", 0]
    # Another message's open is not marked.
    assert reader_touch(client, "o|spring|b", 141, "w-5") == [2, "human", 0]

    # The later honeypot open joined the marked open's member.
    assert client.zrange("r:{r1}:t", 0, -1) == [
        f"c|spring|a|1|{1:016x}|honeypot", f"c|spring|a|9|{9:016x}|honeypot",
        "o|spring|a|honeypot", "o|spring|b"]
    assert client.zscore("r:{r1}:t", "o|spring|a|honeypot") == score(140)


def test_reader_touch_honeypot_renames_older_open(redis_server):
    """A honeypot click leaves a human open outside its window human under
    the name o|C|M|human, and later human opens of the message go there
    too, so no member o|C|M is left for a plain ZADD XX to move."""
    client = redis_server.client
    reader_touch(client, "o|spring|a", 100, "w-1")
    trap = f"c|spring|a|9|{9:016x}"
    assert reader_touch(client, trap, 500, "w-2", verdict="honeypot") == [3, "honeypot", 0]
    assert client.zscore("r:{r1}:t", "o|spring|a") is None
    assert client.zscore("r:{r1}:t", "o|spring|a|human") == score(100)

    assert reader_touch(client, "o|spring|a", 600, "w-3") == [0, "human", 0]
    assert client.zscore("r:{r1}:t", "o|spring|a") is None
    assert client.zscore("r:{r1}:t", "o|spring|a|human") == score(600)
    # A honeypot click within the window of the renamed open moves it.
    reply = reader_touch(client, f"c|spring|a|8|{8:016x}", 610, "w-4", verdict="honeypot")
    assert reply == [0, "honeypot", 0, 600]
    assert client.zscore("r:{r1}:t", "o|spring|a|honeypot") == score(600)


def test_reader_touch_honeypot_between_plain_commands(redis_server):
    """Another connection runs a honeypot click between an open's plain
    ZADD and its READER_TOUCH. The click moves the member the ZADD had just
    moved, which counts the open as a honeypot's. So the open stays human,
    as if it had come just before the click, and nothing counts twice."""
    client = redis_server.client
    reader_touch(client, "o|spring|a", 900, "open-1", retention=72000)

    # The open's plain ZADD moves o|spring|a to 1000.
    assert client.zadd("r:{r1}:t", {"o|spring|a": score(1000)}, xx=True, gt=True, ch=True) == 1
    click = reader_touch(client, f"c|spring|a|9|{9:016x}", 1000, "click-1",
                         verdict="honeypot", retention=72000)
    assert click == [3, "honeypot", 0, 1000]
    opened = reader_touch(client, "o|spring|a", 1000, "open-2", retention=72000,
                          plain_score=score(1000))
    assert opened == [0, "human", 0]
    assert client.zrange("r:{r1}:t", 0, -1, withscores=True) == [
        (f"c|spring|a|9|{9:016x}|honeypot", score(1000)),
        ("o|spring|a|honeypot", score(1000))]

    # Without that ZADD's score the same state means an open after the
    # click, which is a honeypot's.
    assert reader_touch(client, "o|spring|a", 1001, "open-3", retention=72000) == \
        [0, "honeypot", 0]


def test_reader_touch_click_after_plain_zadd(redis_server):
    """A click whose plain ZADD (server/store_click.c) added it as a
    person's, and whose range then showed a burst, takes READER_TOUCH with
    that ZADD's score. The script takes the member out first, so the click
    is a burst of its own and does not also move itself."""
    client = redis_server.client
    reader_touch(client, f"c|spring|a|1|{1:016x}", 100, "w-1")
    reader_touch(client, f"c|spring|a|2|{2:016x}", 101, "w-2")

    third = f"c|spring|a|3|{3:016x}"
    assert client.zadd("r:{r1}:t", {third: score(102)}, nx=True) == 1
    assert reader_touch(client, third, 102, "w-3", plain_score=score(102)) == \
        [0, "burst", 2, 100, 101]
    assert client.zrange("r:{r1}:t", 0, -1) == [
        f"c|spring|a|{i}|{i:016x}|burst" for i in (1, 2, 3)]


def test_reader_touch_click_moved_between_plain_commands(redis_server):
    """Another connection's click runs its script between a click's plain
    ZADD and that click's READER_TOUCH, finds a burst and moves the new
    click to |burst, counting it as a person's click it moved. The click
    then stays human, as if it had come just before, and the set keeps one
    member for it."""
    client = redis_server.client
    reader_touch(client, f"c|spring|a|1|{1:016x}", 100, "w-1")

    second = f"c|spring|a|2|{2:016x}"
    assert client.zadd("r:{r1}:t", {second: score(101)}, nx=True) == 1
    other = reader_touch(client, f"c|spring|a|3|{3:016x}", 101, "other-1")
    assert other == [0, "burst", 2, 100, 101]
    assert reader_touch(client, second, 101, "w-2", plain_score=score(101)) == \
        [0, "human", 0]
    assert client.zrange("r:{r1}:t", 0, -1) == [
        f"c|spring|a|{i}|{i:016x}|burst" for i in (1, 2, 3)]

    # The same holds for a honeypot click of the message.
    fourth = f"c|spring|a|4|{4:016x}"
    assert client.zadd("r:{r1}:t", {fourth: score(200)}, nx=True) == 1
    trap = reader_touch(client, f"c|spring|a|9|{9:016x}", 200, "other-2", verdict="honeypot")
    assert trap == [0, "honeypot", 1, 200]
    assert reader_touch(client, fourth, 200, "w-4", plain_score=score(200)) == \
        [0, "human", 0]
    assert client.zscore("r:{r1}:t", fourth) is None
    assert client.zscore("r:{r1}:t", fourth + "|honeypot") == score(200)


def test_reader_touch_click_own_burst_replays(redis_server):
    """A person's click that the script makes a burst click without moving
    any other keeps its reply, so a replay that finds only its member
    with |burst returns burst again instead of taking the member for one
    another click moved."""
    client = redis_server.client
    for link in (1, 2, 3):
        reader_touch(client, f"c|spring|a|{link}|{link:016x}", 99 + link, f"w-{link}")

    fourth = f"c|spring|a|4|{4:016x}"
    assert reader_touch(client, fourth, 103, "w-4") == [0, "burst", 0]
    assert client.hget("r:{r1}:u", "x|w-4") is not None
    assert reader_touch(client, fourth, 103, "w-4", plain_score=score(103)) == [0, "burst", 0]
    assert client.zscore("r:{r1}:t", fourth + "|burst") == score(103)
    assert client.zscore("r:{r1}:t", fourth) is None


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
    assert client.smembers("c:{spring}:m") == {"a", "b"}


def test_opens_wait_for_redis_restart(tmp_path, redis_server, tally):
    """Opens served while Redis is down go to tallyd's journal and are
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
