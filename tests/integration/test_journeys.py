"""The journeys of a marketing email, end to end: real tallyd, real Redis,
real HTTP over loopback."""
import json
import time
import urllib.parse

from conftest import email_sha256, path_of, wait_until

GIF_LENGTH = 43
SETTLE_SECONDS = 0.5  # time given to writes that must NOT happen


def campaign(redis_server, name):
    return redis_server.client.hgetall(f"c:{{{name}}}")


def wait_for_field(redis_server, key, field, value):
    wait_until(lambda: redis_server.client.hget(key, field) == str(value),
               f"{key} {field} == {value}")


def click_through(tally, url):
    """Follows a click URL; returns the Location and the tly value."""
    status, headers, _ = tally.request("GET", path_of(url))
    assert status == 302
    location = headers["location"]
    query = urllib.parse.urlsplit(location).query
    tly = urllib.parse.parse_qs(query)["tly"][0]
    return location, tly


def test_pixel_serves_gif_and_counts_open(tally, redis_server):
    url = tally.open_url("spring", "a", "reader@example.com")
    status, headers, body = tally.request("GET", path_of(url))
    assert status == 200
    assert len(body) == GIF_LENGTH
    assert body.startswith(b"GIF89a")
    assert headers["content-type"] == "image/gif"
    assert "no-store" in headers["cache-control"]
    wait_for_field(redis_server, "c:{spring}", "opens", 1)
    assert campaign(redis_server, "spring")["unique_opens"] == "1"


def test_pixel_repeat_open_is_not_unique(tally, redis_server):
    url = tally.open_url("spring", "a", "reader@example.com")
    tally.request("GET", path_of(url))
    tally.request("GET", path_of(url))
    wait_for_field(redis_server, "c:{spring}", "opens", 2)
    assert campaign(redis_server, "spring")["unique_opens"] == "1"
    assert redis_server.client.hget("c:{spring}:m:a", "unique_opens") == "1"


def test_pixel_invalid_token_gets_gif_counts_nothing(tally, redis_server):
    url = tally.open_url("spring", "a", "reader@example.com")
    path = path_of(url)
    forged = path[:5] + ("A" if path[5] != "A" else "B") + path[6:]
    for bad in (forged, "/o/garbage.gif", "/o/.gif", "/o/" + "A" * 5000 + ".gif"):
        status, headers, body = tally.request("GET", bad)
        assert status == 200, bad
        assert len(body) == GIF_LENGTH
        assert "no-store" in headers["cache-control"]
    time.sleep(SETTLE_SECONDS)
    assert campaign(redis_server, "spring") == {}
    assert redis_server.client.dbsize() == 0


def test_pixel_head_counts_as_prefetch(tally, redis_server):
    url = tally.open_url("spring", "a", "reader@example.com")
    status, headers, body = tally.request("HEAD", path_of(url))
    assert status == 200
    assert headers["content-length"] == str(GIF_LENGTH)
    assert body == b""
    wait_for_field(redis_server, "c:{spring}", "opens:prefetch", 1)
    assert "opens:human" not in campaign(redis_server, "spring")


def test_same_device_checkout_with_token(tally, redis_server):
    open_url = tally.open_url("spring", "a", "reader@example.com")
    click_url = tally.click_url("spring", "a", "reader@example.com",
                                "https://shop.example/p/42")
    tally.request("GET", path_of(open_url))
    location, tly = click_through(tally, click_url)
    assert location.startswith("https://shop.example/p/42?tly=")

    status, _, _ = tally.beacon({"type": "checkout", "order_id": "1001",
                                 "revenue": "89.95", "currency": "EUR", "token": tly})
    assert status == 204
    # Each worker thread writes its own events, so wait for every counter
    # rather than assume the open lands before the conversion.
    for field in ("conversions", "opens", "clicks", "unique_clicks"):
        wait_for_field(redis_server, "c:{spring}", field, 1)
    stats = campaign(redis_server, "spring")
    assert stats.get("cross_device_conversions", "0") == "0"
    assert stats["revenue:EUR"] == "8995"
    record = redis_server.client.hgetall("c:{spring}:o:default:1001")
    assert record["path"] == "token"
    assert record["cross_device"] == "0"
    assert redis_server.client.hget("c:{spring}:l", "a:1") == "1"


def test_identify_then_checkout_on_other_device(tally, redis_server):
    click_url = tally.click_url("spring", "a", "reader@example.com",
                                "https://shop.example/")
    _, tly = click_through(tally, click_url)
    status, _, _ = tally.beacon({"type": "identify", "token": tly,
                                 "customer_id": "cust-42"}, "application/json")
    assert status == 204
    wait_until(lambda: len(redis_server.client.keys("k:*")) == 1, "identity link")

    status, _, _ = tally.beacon({"type": "checkout", "order_id": "2001",
                                 "revenue": "10.00", "currency": "EUR",
                                 "customer_id": "cust-42"})
    assert status == 204
    wait_for_field(redis_server, "c:{spring}", "conversions", 1)
    stats = campaign(redis_server, "spring")
    assert stats["cross_device_conversions"] == "1"
    record = redis_server.client.hgetall("c:{spring}:o:default:2001")
    assert record["path"] == "customer"


def test_guest_checkout_through_email_hash(tally, redis_server):
    click_url = tally.click_url("spring", "a", "Reader@Example.com",
                                "https://shop.example/")
    click_through(tally, click_url)
    wait_for_field(redis_server, "c:{spring}", "clicks", 1)

    status, _, _ = tally.beacon({"type": "checkout", "order_id": "3001",
                                 "revenue": "5", "currency": "JPY",
                                 "email_sha256": email_sha256("  reader@EXAMPLE.com ").upper()})
    assert status == 204
    wait_for_field(redis_server, "c:{spring}", "conversions", 1)
    stats = campaign(redis_server, "spring")
    assert stats["cross_device_conversions"] == "1"
    assert stats["revenue:JPY"] == "5"
    assert redis_server.client.hget("c:{spring}:o:default:3001", "path") == "email"


def test_stranger_checkout_is_not_credited(tally, redis_server):
    click_url = tally.click_url("spring", "a", "reader@example.com",
                                "https://shop.example/")
    click_through(tally, click_url)
    wait_for_field(redis_server, "c:{spring}", "clicks", 1)

    status, _, _ = tally.beacon({"type": "checkout", "order_id": "4001",
                                 "revenue": "20.00", "currency": "EUR",
                                 "email_sha256": email_sha256("stranger@example.com"),
                                 "customer_id": "nobody"})
    assert status == 204
    wait_for_field(redis_server, "s:{default}", "unattributed_orders", 1)
    assert campaign(redis_server, "spring").get("conversions") is None
    assert redis_server.client.hget("o:{default}:4001", "path") == "none"


def test_same_order_counts_once(tally, redis_server):
    click_url = tally.click_url("spring", "a", "reader@example.com",
                                "https://shop.example/")
    _, tly = click_through(tally, click_url)
    order = {"type": "checkout", "order_id": "5001", "revenue": "1.50",
             "currency": "EUR", "token": tly}
    for _ in range(5):
        assert tally.beacon(order)[0] == 204
    wait_for_field(redis_server, "c:{spring}", "conversions", 1)
    time.sleep(SETTLE_SECONDS)
    assert campaign(redis_server, "spring")["conversions"] == "1"
    assert campaign(redis_server, "spring")["revenue:EUR"] == "150"
    assert redis_server.client.hget("s:{default}", "orders") == "1"


def test_tampered_click_never_redirects(tally, redis_server):
    click_url = tally.click_url("spring", "a", "reader@example.com",
                                "https://shop.example/")
    path = path_of(click_url)
    for i in range(3, len(path)):
        replacement = "A" if path[i] != "A" else "B"
        status, headers, body = tally.request("GET", path[:i] + replacement + path[i + 1:])
        assert status == 400, f"position {i}"
        assert "location" not in headers
    for bad in ("/c/", "/c/x", "/c/" + path[3:-4]):
        status, headers, _ = tally.request("GET", bad)
        assert status in (400, 404)
        assert "location" not in headers
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0


def test_broken_beacons_get_400_with_reason(tally):
    cases = [
        (b"{not json", "JSON"),
        (b"[]", "object"),
        (json.dumps({"type": "refundz"}), "type"),
        (json.dumps({"type": "checkout", "revenue": "1", "currency": "EUR"}), "order_id"),
        (json.dumps({"type": "checkout", "order_id": "1", "revenue": 1.5,
                     "currency": "EUR"}), "revenue"),
        (json.dumps({"type": "checkout", "order_id": "1", "revenue": "-1",
                     "currency": "EUR"}), "revenue"),
        (json.dumps({"type": "checkout", "order_id": "1", "revenue": "1.234",
                     "currency": "EUR"}), "revenue"),
        (json.dumps({"type": "checkout", "order_id": "1", "revenue": "1",
                     "currency": "XXY"}), "currency"),
        (json.dumps({"type": "checkout", "order_id": "1", "revenue": "1",
                     "currency": "EUR", "email_sha256": "abc"}), "email_sha256"),
        (json.dumps({"type": "identify", "customer_id": "c"}), "identify"),
        (b'{"type": "checkout", "order_id": "a\\u0000b"}', "JSON"),
        (b"\xff\xfe", "JSON"),
    ]
    for body, word in cases:
        status, _, text = tally.beacon(body)
        assert status == 400, body
        assert word.encode() in text, (body, text)
    assert tally.beacon("", "text/plain")[0] == 400
    assert tally.beacon({"type": "checkout"}, "image/png")[0] == 415
    assert tally.request("GET", "/b")[0] == 405
    assert tally.request("GET", "/healthz")[0] == 200


def test_whole_journey_totals_and_no_personal_data(tally, redis_server):
    """The journey run by hand in the README: opens 1, clicks 1, conversions
    3, cross-device 2, revenue exact, and nothing that identifies a person."""
    email = "Jane.Doe@Example.com"
    tally.request("GET", path_of(tally.open_url("xmas", "v1", email)))
    _, tly = click_through(tally, tally.click_url("xmas", "v1", email,
                                                  "https://shop.example/sale"))
    assert tally.beacon({"type": "checkout", "order_id": "A-1", "revenue": "89.95",
                         "currency": "EUR", "token": tly})[0] == 204
    assert tally.beacon({"type": "identify", "token": tly,
                         "customer_id": "customer-7781"})[0] == 204
    wait_until(lambda: len(redis_server.client.keys("k:*")) == 1, "identity link")
    assert tally.beacon({"type": "checkout", "order_id": "A-2", "revenue": "0.05",
                         "currency": "EUR", "customer_id": "customer-7781"})[0] == 204
    assert tally.beacon({"type": "checkout", "order_id": "A-3", "revenue": "10.10",
                         "currency": "EUR",
                         "email_sha256": email_sha256(email)})[0] == 204
    assert tally.beacon({"type": "checkout", "order_id": "A-3", "revenue": "10.10",
                         "currency": "EUR",
                         "email_sha256": email_sha256(email)})[0] == 204
    assert tally.beacon({"type": "checkout", "order_id": "A-4", "revenue": "99.00",
                         "currency": "EUR",
                         "email_sha256": email_sha256("stranger@example.org")})[0] == 204

    for field, value in (("conversions", 3), ("opens", 1), ("clicks", 1)):
        wait_for_field(redis_server, "c:{xmas}", field, value)
    wait_for_field(redis_server, "s:{default}", "orders", 4)
    time.sleep(SETTLE_SECONDS)
    result = tally.ctl("stats", "--campaign", "xmas", "--json", redis_url=redis_server.url)
    stats = json.loads(result.stdout)
    assert stats["opens"] == 1
    assert stats["unique_opens"] == 1
    assert stats["clicks"] == 1
    assert stats["unique_clicks"] == 1
    assert stats["conversions"] == 3
    assert stats["cross_device_conversions"] == 2
    assert stats["revenue"] == {"EUR": "100.10"}

    dump = []
    for key in redis_server.client.scan_iter(count=1000):
        dump.append(key)
        kind = redis_server.client.type(key)
        if kind == "hash":
            dump.extend(f"{k}={v}" for k, v in redis_server.client.hgetall(key).items())
        elif kind == "string":
            dump.append(redis_server.client.get(key))
        elif kind == "zset":
            dump.extend(redis_server.client.zrange(key, 0, -1))
        elif kind == "set":
            dump.extend(redis_server.client.smembers(key))
    text = "\n".join(dump).lower()
    for secret in ("jane", "doe", "example.com", "customer-7781",
                   email_sha256(email), "127.0.0.1"):
        assert secret not in text, secret
