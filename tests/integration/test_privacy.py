"""Privacy: retention on every per-reader write, no keys from junk, forget,
opt-out, and no email address, customer id or IP address anywhere."""
import json
import os
import secrets
import subprocess
import time
import urllib.parse

from conftest import CLASSIFY_DATA, email_sha256, path_of, wait_until

SHOP = "https://shop.example/p/42"
SETTLE_SECONDS = 0.5  # time given to writes that must NOT happen
JUNK_REQUESTS = 20    # of each kind


def admin_token():
    token = secrets.token_hex(32)
    return token, f"api_token.ops = admin {token}\napi_token.viewer = read {secrets.token_hex(32)}\n"


def reader_keys(redis_server):
    return sorted(redis_server.client.keys("r:*") + redis_server.client.keys("k:*"))


def tly_of(location):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["tly"][0]


def journey(tally, email, campaign="sp", customer="cust-4242"):
    """Open, click, identify; returns the click's Location."""
    tally.request("GET", path_of(tally.open_url(campaign, "a", email)))
    status, headers, _ = tally.request(
        "GET", path_of(tally.click_url(campaign, "a", email, SHOP)))
    assert status == 302
    status, _, _ = tally.beacon({"type": "identify", "token": tly_of(headers["location"]),
                                 "customer_id": customer})
    assert status == 204
    return headers["location"]


def dump_text(redis_server, directory):
    """Everything Redis holds, as bytes: an uncompressed RDB snapshot plus
    every key name and value read back."""
    client = redis_server.client
    client.config_set("rdbcompression", "no")
    path = os.path.join(directory, "dump.rdb")
    subprocess.run(["redis-cli", "-s", redis_server.socket, "--rdb", path],
                   check=True, capture_output=True, timeout=30)
    with open(path, "rb") as f:
        blob = f.read()
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        value = {"string": lambda: client.get(key),
                 "hash": lambda: client.hgetall(key),
                 "zset": lambda: client.zrange(key, 0, -1, withscores=True),
                 "set": lambda: client.smembers(key),
                 "list": lambda: client.lrange(key, 0, -1)}[kind]()
        parts.append(f"{key} {value}")
    return blob + "\n".join(parts).encode()


def test_reader_keys_get_retention_on_every_write(make_tally, redis_server):
    tally = make_tally(["--reader-retention", "100s", "--campaign-retention", "1000s"])
    journey(tally, "ann@example.com")
    wait_until(lambda: len(reader_keys(redis_server)) == 4, "reader keys and the link")
    keys = reader_keys(redis_server)
    assert [k[-2:] for k in keys if k.startswith("r:")] == [":l", ":t", ":u"]
    for key in keys:
        assert 0 < redis_server.client.ttl(key) <= 100, key
    for key in redis_server.client.keys("c:*"):
        assert 900 < redis_server.client.ttl(key) <= 1000, key

    # Shorten every TTL by hand; the next writes must set it again.
    for key in keys:
        redis_server.client.pexpire(key, 5000)
    journey(tally, "ann@example.com")
    wait_until(lambda: all(redis_server.client.ttl(k) > 50 for k in keys),
               "retention set again by the second journey")


def test_junk_requests_create_no_keys(make_tally, redis_server):
    # All junk comes from 127.0.0.1, above the per-client beacon limit.
    tally = make_tally(["--beacon-rate", "0"])
    journey(tally, "ann@example.com")
    wait_until(lambda: len(reader_keys(redis_server)) == 4, "the journey's keys")
    time.sleep(SETTLE_SECONDS)
    before = redis_server.client.dbsize()

    good_open = path_of(tally.open_url("sp", "a", "bob@example.com"))
    good_click = path_of(tally.click_url("sp", "a", "bob@example.com", SHOP))
    for i in range(JUNK_REQUESTS):
        forged_open = good_open[:6] + ("A" if good_open[6] != "A" else "B") + good_open[7:]
        assert tally.request("GET", forged_open)[0] == 200
        assert tally.request("GET", f"/o/junk{i}.gif")[0] == 200
        assert tally.request("GET", good_click[:-2] + "xx")[0] == 400
        assert tally.request("GET", f"/c/junk{i}")[0] == 400
        assert tally.beacon("{not json")[0] == 400
        assert tally.beacon({"type": "checkout", "order_id": f"o{i}"})[0] == 400
        # The bad token is ignored, which leaves the customer no reader to
        # link: accepted, and nothing stored.
        assert tally.beacon({"type": "identify", "customer_id": "c", "token": "bad"})[0] == 204
        assert tally.beacon({"type": "identify", "customer_id": "c"})[0] == 400
        assert tally.request("DELETE", "/v1/readers/" + "a" * 64)[0] == 401
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == before


def test_forget_leaves_no_trace(make_tally, redis_server, tmp_path):
    token, lines = admin_token()
    tally = make_tally(extra_keys=lines)
    journey(tally, "gone@example.com", customer="cust-gone")
    journey(tally, "kept@example.com", customer="cust-kept")
    # A customer linked to the forgotten reader and later to another one
    # belongs to the other one now, and stays.
    journey(tally, "gone@example.com", customer="cust-moved")
    journey(tally, "kept@example.com", customer="cust-moved")
    wait_until(lambda: len(redis_server.client.keys("k:*")) == 3, "customer links")
    time.sleep(SETTLE_SECONDS)
    keys_before = set(redis_server.client.keys("*"))

    sha = email_sha256("gone@example.com")
    assert tally.request("DELETE", f"/v1/readers/{sha}")[0] == 401
    status, _, body = tally.request("DELETE", f"/v1/readers/{sha}",
                                    headers={"Authorization": "Bearer " + "0" * 64})
    assert status == 401
    viewer = lines.split("read ")[1].strip()
    status, _, _ = tally.request("DELETE", f"/v1/readers/{sha}",
                                 headers={"Authorization": f"Bearer {viewer}"})
    assert status == 403
    for path in ("/v1/readers/xyz", "/v1/readers/" + sha[:-1], "/v1/readers/" + sha + "0"):
        status, headers, body = tally.request("DELETE", path,
                                              headers={"Authorization": f"Bearer {token}"})
        assert status == 400, path
        assert headers["content-type"] == "application/json"
        assert headers["cache-control"] == "no-store"
        assert "64 hex digits" in json.loads(body)["error"]

    status, headers, body = tally.request("DELETE", f"/v1/readers/{sha.upper()}",
                                          headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    assert body == b'{"deleted":4}\n'  # r:t, r:u, r:l and k:{cust-gone}
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    removed = keys_before - set(redis_server.client.keys("*"))
    assert len(removed) == 4
    gone_reader = next(k for k in removed if k.startswith("r:"))[3:27]

    dump = dump_text(redis_server, str(tmp_path))
    assert gone_reader.encode() not in dump
    for key in removed:
        assert key.encode() not in dump
    assert len(redis_server.client.keys("k:*")) == 2  # cust-kept and cust-moved
    assert len(redis_server.client.keys("r:*")) == 3  # the kept reader's

    status, _, body = tally.request("DELETE", f"/v1/readers/{sha}",
                                    headers={"Authorization": f"Bearer {token}"})
    assert (status, body) == (200, b'{"deleted":0}\n')


def test_forget_removes_device_links(make_tally, redis_server, tmp_path):
    token, lines = admin_token()
    tally = make_tally(extra_keys=lines)
    gone_tly = tly_of(journey(tally, "gone@example.com", customer="cust-gone"))
    assert tally.beacon({"type": "identify", "token": gone_tly,
                         "device_id": "dev-gone-0123456789"})[0] == 204
    # A checkout with a token links its device too: a tablet both use.
    assert tally.beacon({"type": "checkout", "order_id": "g1", "revenue": "5.00",
                         "currency": "EUR", "token": gone_tly,
                         "device_id": "dev-shared-0123456789"})[0] == 204
    kept_tly = tly_of(journey(tally, "kept@example.com", customer="cust-kept"))
    assert tally.beacon({"type": "identify", "token": kept_tly,
                         "device_id": "dev-shared-0123456789"})[0] == 204
    client = redis_server.client
    wait_until(lambda: len(client.keys("d:*")) == 2 and
               any(client.zcard(k) == 2 for k in client.keys("d:*")), "device links")
    wait_until(lambda: client.exists("o:{default}:g1"), "the tablet's order")
    time.sleep(SETTLE_SECONDS)
    keys_before = set(client.keys("*"))
    # Every link is in its reader's link set: the kept reader has its
    # customer and the tablet, the forgotten one also its own device.
    link_sets = [client.smembers(k) for k in client.keys("r:*:l")]
    assert sorted(len(names) for names in link_sets) == [2, 3]
    gone_links = next(names for names in link_sets if len(names) == 3)
    assert sorted(name[0] for name in gone_links) == ["d", "d", "k"]

    status, _, body = tally.request(
        "DELETE", f"/v1/readers/{email_sha256('gone@example.com')}",
        headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    # r:t, r:u, r:l, k:{cust-gone} and d:{dev-gone}; the shared tablet
    # stays linked to the kept reader.
    assert body == b'{"deleted":5}\n'
    removed = keys_before - set(client.keys("*"))
    assert len(removed) == 5
    assert sorted(k[0] for k in removed if not k.startswith("r:")) == ["d", "k"]
    gone_reader = next(k for k in removed if k.startswith("r:"))[3:27]
    shared = client.keys("d:*")
    assert len(shared) == 1
    assert client.zcard(shared[0]) == 1
    assert gone_reader.encode() not in dump_text(redis_server, str(tmp_path))

    # The shared tablet now names only the kept reader, whose click it credits.
    assert tally.beacon({"type": "checkout", "order_id": "k1", "revenue": "7.00",
                         "currency": "EUR", "device_id": "dev-shared-0123456789"})[0] == 204
    wait_until(lambda: client.hget("o:{default}:k1", "path") == "device",
               "the kept reader's order credited through the tablet")


def test_tallyctl_forget_by_address(make_tally, redis_server, tmp_path):
    tally = make_tally()
    journey(tally, "Gone@Example.com ", customer="cust-1")
    journey(tally, "kept@example.com", customer="cust-2")
    wait_until(lambda: len(reader_keys(redis_server)) == 8, "two readers' keys")
    time.sleep(SETTLE_SECONDS)
    before = set(reader_keys(redis_server))

    out = tally.ctl("forget", "--email", "gone@example.com",
                    redis_url=redis_server.url).stdout
    assert out == "deleted 4 keys\n"
    removed = before - set(reader_keys(redis_server))
    gone_reader = next(k for k in removed if k.startswith("r:"))[3:27]
    assert gone_reader.encode() not in dump_text(redis_server, str(tmp_path))
    assert len(reader_keys(redis_server)) == 4

    again = tally.ctl("forget", "--email-sha256", email_sha256("gone@example.com"),
                      redis_url=redis_server.url).stdout
    assert again == "deleted 0 keys\n"
    bad = tally.ctl("forget", "--email-sha256", "abc", redis_url=redis_server.url,
                    check=False)
    assert bad.returncode == 2 and "64 hex digits" in bad.stderr


def test_suppressed_reader_is_answered_not_recorded(make_tally, redis_server, tmp_path):
    listed = tmp_path / "suppressed.txt"
    listed.write_text(f"# opted out\n{email_sha256('quiet@example.com').upper()}\n")
    tally = make_tally(["--suppression-file", str(listed)])
    status, headers, body = tally.request(
        "GET", path_of(tally.open_url("sp", "a", "quiet@example.com")))
    assert status == 200 and body.startswith(b"GIF89a")
    location = journey(tally, "quiet@example.com")
    assert location.startswith(SHOP + "?tly=")
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0

    listed.write_text("")
    tally.reload()
    journey(tally, "quiet@example.com")
    wait_until(lambda: redis_server.client.hget("c:{sp}", "clicks") == "1",
               "the click recorded after the reader left the list")


def test_journey_leaves_no_identifiers(make_tally, redis_server, tmp_path):
    email = "Private.Person@example.com"
    customer = "cust-7d1f9e"
    source = "198.51.100.77"
    tally = make_tally(["--classify-data", CLASSIFY_DATA, "--log-level", "debug"],
                       namespaced=True)
    open_url = tally.open_url("sp", "a", email)
    click_url = tally.click_url("sp", "a", email, SHOP)
    results = tally.replay([
        {"method": "GET", "path": path_of(open_url), "source": source},
        {"method": "GET", "path": path_of(click_url), "source": source},
    ])
    location = results[1]["location"]
    tally.replay([{"method": "POST", "path": "/b", "source": source,
                   "headers": {"Content-Type": "text/plain"},
                   "body": '{"type":"identify","token":"%s","customer_id":"%s"}'
                           % (tly_of(location), customer)},
                  {"method": "POST", "path": "/b", "source": source,
                   "headers": {"Content-Type": "text/plain"},
                   "body": '{"type":"checkout","order_id":"9","revenue":"1.00",'
                           '"currency":"EUR","customer_id":"%s"}' % customer}])
    wait_until(lambda: redis_server.client.exists("o:{default}:9"), "the order")
    time.sleep(SETTLE_SECONDS)

    dump = dump_text(redis_server, str(tmp_path))
    logs = tally.log_text().encode()
    assert b"network=198.51.100.0/24" in logs  # the debug line shows a network only
    for secret in (email, email.lower(), email_sha256(email), customer, source):
        assert secret.encode() not in dump, secret
        assert secret.encode() not in logs, secret
        assert secret not in location, secret
        assert secret not in open_url and secret not in click_url, secret
