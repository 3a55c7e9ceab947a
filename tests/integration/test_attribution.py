"""Attribution end to end: models and windows, device links, guards
against false merges, refunds, the signed conversions API, CORS and the
image fallback. Real tallyd, real Redis, real HTTP over loopback."""
import json
import os
import signal
import time
import urllib.parse

import pytest

from conftest import conversion_headers, email_sha256, path_of, wait_until

SHOP_SECRET = "5a" * 32
SHOP_KEYS = f"shop_secret.default = {SHOP_SECRET}\n"
ORIGIN = "https://shop.example"
DEVICE = "dev-0123456789abcdef"
SETTLE_SECONDS = 0.5


def click_through(tally, campaign, message, email, link=None):
    url = tally.click_url(campaign, message, email, "https://shop.example/p", link=link)
    status, headers, _ = tally.request("GET", path_of(url))
    assert status == 302
    query = urllib.parse.urlsplit(headers["location"]).query
    return urllib.parse.parse_qs(query)["tly"][0]


def open_pixel(tally, campaign, message, email):
    status, _, _ = tally.request("GET", path_of(tally.open_url(campaign, message, email)))
    assert status == 200


def checkout(tally, order, **fields):
    body = {"type": "checkout", "order_id": order, "revenue": "10.00",
            "currency": "EUR"}
    body.update(fields)
    status, _, text = tally.beacon(body)
    assert status == 204, text


def order_record(redis_server, order, shop="default"):
    key = f"o:{{{shop}}}:{order}"
    wait_until(lambda: redis_server.client.exists(key), f"order record {key}")
    return redis_server.client.hgetall(key)


def wait_field(redis_server, key, field, value):
    wait_until(lambda: redis_server.client.hget(key, field) == str(value),
               f"{key} {field} == {value}")


def post_conversion(tally, payload, secret=SHOP_SECRET, timestamp=None):
    body = json.dumps(payload).encode()
    return tally.request("POST", "/v1/conversions", body=body,
                         headers=conversion_headers(body, secret, timestamp))


# ---- models and windows --------------------------------------------------

def test_last_click_credits_latest_click(make_tally, redis_server):
    tally = make_tally()
    click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(1.1)
    click_through(tally, "beta", "a", "r@example.com")
    wait_field(redis_server, "c:{beta}", "clicks", 1)
    checkout(tally, "m1", email_sha256=email_sha256("r@example.com"))
    record = order_record(redis_server, "m1")
    assert record["campaign"] == "beta"
    assert record["model"] == "last_click"
    assert record["path"] == "email"
    assert record["alt_first_touch"].startswith("alpha|a|")
    assert record["alt_last_click"].startswith("beta|a|")


def test_first_touch_credits_earliest(make_tally, redis_server):
    tally = make_tally(["--attribution-model", "first_touch"])
    click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(1.1)
    click_through(tally, "beta", "a", "r@example.com")
    wait_field(redis_server, "c:{beta}", "clicks", 1)
    checkout(tally, "m2", email_sha256=email_sha256("r@example.com"))
    record = order_record(redis_server, "m2")
    assert record["campaign"] == "alpha"
    assert record["model"] == "first_touch"
    wait_field(redis_server, "c:{alpha}", "conversions", 1)


def test_token_wins_under_every_model(make_tally, redis_server):
    tally = make_tally(["--attribution-model", "first_touch"])
    click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(1.1)
    tly = click_through(tally, "beta", "a", "r@example.com")
    checkout(tally, "m3", token=tly)
    record = order_record(redis_server, "m3")
    assert record["campaign"] == "beta"
    assert record["path"] == "token"
    assert record["cross_device"] == "0"


def test_opens_ignored_by_default(make_tally, redis_server):
    tally = make_tally()
    open_pixel(tally, "alpha", "a", "r@example.com")
    wait_field(redis_server, "c:{alpha}", "opens", 1)
    checkout(tally, "o1", email_sha256=email_sha256("r@example.com"))
    record = order_record(redis_server, "o1")
    assert record["path"] == "none"
    assert record["reason"] == "no_touch_in_window"
    assert record["trail"] == "email:no_touch"


def test_open_credited_when_enabled(make_tally, redis_server):
    tally = make_tally(["--attribute-opens", "on", "--open-window", "1h"])
    open_pixel(tally, "alpha", "a", "r@example.com")
    wait_field(redis_server, "c:{alpha}", "opens", 1)
    checkout(tally, "o2", email_sha256=email_sha256("r@example.com"))
    record = order_record(redis_server, "o2")
    assert record["campaign"] == "alpha"
    assert record["touch"] == "open"
    assert record["attribute_opens"] == "1"


def test_last_click_prefers_click_to_later_open(make_tally, redis_server):
    tally = make_tally(["--attribute-opens", "on"])
    click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(1.1)
    open_pixel(tally, "beta", "a", "r@example.com")
    wait_field(redis_server, "c:{beta}", "opens", 1)
    checkout(tally, "o3", email_sha256=email_sha256("r@example.com"))
    record = order_record(redis_server, "o3")
    assert record["campaign"] == "alpha"
    assert record["alt_last_touch"].startswith("beta|a|0|open|")


def test_last_touch_takes_later_open(make_tally, redis_server):
    tally = make_tally(["--attribute-opens", "on", "--attribution-model", "last_touch"])
    click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(1.1)
    open_pixel(tally, "beta", "a", "r@example.com")
    wait_field(redis_server, "c:{beta}", "opens", 1)
    checkout(tally, "o4", email_sha256=email_sha256("r@example.com"))
    assert order_record(redis_server, "o4")["campaign"] == "beta"


def test_open_window_is_separate(make_tally, redis_server):
    tally = make_tally(["--attribute-opens", "on", "--open-window", "1s"])
    open_pixel(tally, "alpha", "a", "r@example.com")
    wait_field(redis_server, "c:{alpha}", "opens", 1)
    time.sleep(2.2)
    checkout(tally, "o5", email_sha256=email_sha256("r@example.com"))
    assert order_record(redis_server, "o5")["reason"] == "no_touch_in_window"


def test_click_window_limits_token(make_tally, redis_server):
    tally = make_tally(["--click-window", "1s"])
    tly = click_through(tally, "alpha", "a", "r@example.com")
    time.sleep(2.2)
    checkout(tally, "w1", token=tly)
    record = order_record(redis_server, "w1")
    assert record["path"] == "none"
    assert record["reason"] == "token_outside_window"
    assert record["trail"] == "token:outside_window"
    assert record["click_window"] == "1"


def test_credited_record_is_complete(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com", link=3)
    checkout(tally, "rec1", token=tly)
    wait_field(redis_server, "c:{alpha}", "conversions", 1)
    record = redis_server.client.hgetall("c:{alpha}:o:default:rec1")
    for field, value in {"path": "token", "cross_device": "0", "touch": "click",
                         "model": "last_click", "link": "3", "message": "a",
                         "click_window": "604800", "verified": "0",
                         "revenue": "1000", "currency": "EUR",
                         "trail": "token:credited", "reason": ""}.items():
        assert record[field] == value, field
    assert 0 <= int(record["lag"]) <= 5
    assert int(record["time"]) - int(record["touch_time"]) == int(record["lag"])


# ---- device links --------------------------------------------------------

def test_device_resolves_without_token(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com")
    assert tally.beacon({"type": "identify", "token": tly, "device_id": DEVICE})[0] == 204
    wait_until(lambda: len(redis_server.client.keys("d:*")) == 1, "device link")
    checkout(tally, "d1", device_id=DEVICE)
    record = order_record(redis_server, "d1")
    assert record["path"] == "device"
    assert record["cross_device"] == "0"
    assert record["campaign"] == "alpha"


def test_checkout_with_token_links_device(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "d2", token=tly, device_id=DEVICE)
    wait_until(lambda: len(redis_server.client.keys("d:*")) == 1, "device link")
    checkout(tally, "d3", device_id=DEVICE)
    assert order_record(redis_server, "d3")["path"] == "device"


def test_customer_linked_through_device(tally, redis_server):
    """Logged in on a device that a token linked earlier: the customer gets
    the device's reader, so a later checkout elsewhere resolves."""
    tly = click_through(tally, "alpha", "a", "r@example.com")
    tally.beacon({"type": "identify", "token": tly, "device_id": DEVICE})
    wait_until(lambda: len(redis_server.client.keys("d:*")) == 1, "device link")
    tally.beacon({"type": "identify", "customer_id": "c-77", "device_id": DEVICE})
    wait_until(lambda: len(redis_server.client.keys("k:*")) == 1, "customer link")
    checkout(tally, "d4", customer_id="c-77")
    record = order_record(redis_server, "d4")
    assert record["path"] == "customer"
    assert record["cross_device"] == "1"


def test_identify_links_customer_to_email(tally, redis_server):
    click_through(tally, "alpha", "a", "r@example.com")
    tally.beacon({"type": "identify", "customer_id": "c-5",
                  "email_sha256": email_sha256("r@example.com")})
    wait_until(lambda: len(redis_server.client.keys("k:*")) == 1, "customer link")
    checkout(tally, "e1", customer_id="c-5")
    assert order_record(redis_server, "e1")["path"] == "customer"


def test_later_link_wins(tally, redis_server):
    tly_a = click_through(tally, "alpha", "a", "first@example.com")
    tally.beacon({"type": "identify", "token": tly_a, "customer_id": "c-9"})
    wait_until(lambda: redis_server.client.zcard(
        redis_server.client.keys("k:*")[0]) == 1 if redis_server.client.keys("k:*")
        else False, "first link")
    time.sleep(1.1)
    tly_b = click_through(tally, "beta", "a", "second@example.com")
    tally.beacon({"type": "identify", "token": tly_b, "customer_id": "c-9"})
    wait_until(lambda: redis_server.client.zcard(redis_server.client.keys("k:*")[0]) == 2,
               "second link")
    checkout(tally, "e2", customer_id="c-9")
    assert order_record(redis_server, "e2")["campaign"] == "beta"


# ---- guards --------------------------------------------------------------

def test_placeholders_never_linked(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com")
    for placeholder in ("guest", "GUEST", "0", "-1", "null", "undefined",
                        "Anonymous", " "):
        assert tally.beacon({"type": "identify", "token": tly,
                             "customer_id": placeholder})[0] == 204
    wait_field(redis_server, "s:{default}", "identifies", 8)
    assert redis_server.client.hget("s:{default}", "ignored_placeholders") == "8"
    assert redis_server.client.keys("k:*") == []

    checkout(tally, "p1", customer_id="Guest", device_id="undefined",
             email_sha256=email_sha256(""))
    record = order_record(redis_server, "p1")
    assert record["path"] == "none"
    assert record["reason"] == "placeholder_only"
    assert record["trail"] == ("device:placeholder customer:placeholder "
                               "email:placeholder")
    assert redis_server.client.hget("s:{default}", "ignored_placeholder") == "1"
    assert redis_server.client.keys("d:*") == []


def test_shared_identifier_stops_attribution(make_tally, redis_server):
    tally = make_tally(["--max-readers-per-identifier", "3"])
    for i in range(4):
        tly = click_through(tally, "alpha", "a", f"r{i}@example.com")
        assert tally.beacon({"type": "identify", "token": tly,
                             "customer_id": "tablet"})[0] == 204
    wait_until(lambda: redis_server.client.scard("s:{default}:shared") == 1,
               "shared identifier recorded")
    checkout(tally, "f1", customer_id="tablet")
    record = order_record(redis_server, "f1")
    assert record["path"] == "none"
    assert record["reason"] == "shared_identifier"
    assert record["trail"] == "customer:shared"
    assert redis_server.client.hget("s:{default}", "ignored_shared") == "1"
    assert redis_server.client.hget("s:{default}", "unattributed:shared_identifier") == "1"


def test_shared_identifier_falls_back_to_email(make_tally, redis_server):
    tally = make_tally(["--max-readers-per-identifier", "1"])
    for i in range(2):
        tly = click_through(tally, "alpha", "a", f"r{i}@example.com")
        tally.beacon({"type": "identify", "token": tly, "device_id": DEVICE})
    wait_until(lambda: redis_server.client.scard("s:{default}:shared") == 1, "shared")
    checkout(tally, "f2", device_id=DEVICE, email_sha256=email_sha256("r0@example.com"))
    record = order_record(redis_server, "f2")
    assert record["path"] == "email"
    assert record["trail"] == "device:shared email:credited"


@pytest.mark.parametrize("pause, timed_out", [(0.2, False), (1.0, True)])
def test_checkout_sees_click_parked_behind_open(make_tally, redis_server, pause, timed_out):
    """A reader's open waits for Redis with its plain commands, so the
    click behind it waits in tallyd too. The checkout that follows on the
    same loop must read the reader's touchpoints after that click, and
    credit it rather than the reader's older click of another campaign.
    The same holds when Redis stays silent past redis_timeout and all three
    events go through the journal."""
    redis = redis_server.client
    tally = make_tally(["--threads", "1", "--redis-timeout", "500ms"])
    email = "park@example.com"
    click_through(tally, "older", "a", email)
    open_pixel(tally, "newer", "a", email)
    wait_field(redis_server, "c:{newer}", "opens", 1)
    time.sleep(1.1)  # a later second, so the repeated open moves its time
    repeat = path_of(tally.open_url("newer", "a", email))
    click = path_of(tally.click_url("newer", "a", email, "https://shop.example/p"))

    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        assert tally.request("GET", repeat)[0] == 200
        assert tally.request("GET", click)[0] == 302
        checkout(tally, "p1", email_sha256=email_sha256(email))
        time.sleep(pause)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)

    record = order_record(redis_server, "p1")
    assert record["campaign"] == "newer"
    assert record["path"] == "email"
    wait_field(redis_server, "c:{newer}", "conversions", 1)
    assert redis.hget("c:{older}", "conversions") is None
    wait_field(redis_server, "c:{newer}", "clicks", 1)
    assert ("store.spooling" in tally.log_text()) == timed_out


def test_stranger_never_credited(tally, redis_server):
    click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "s1", customer_id="nobody", device_id="stranger-device-0001",
             email_sha256=email_sha256("stranger@example.com"))
    record = order_record(redis_server, "s1")
    assert record["path"] == "none"
    assert record["reason"] == "no_touch_in_window"
    assert record["trail"] == "device:not_linked customer:not_linked email:no_touch"


# ---- refunds -------------------------------------------------------------

def test_refunds_reverse_once_never_below_zero(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "R1", token=tly, revenue="100.00")
    wait_field(redis_server, "c:{alpha}", "conversions", 1)

    partial = {"type": "refund", "order_id": "R1", "currency": "EUR",
               "amount": "30.00", "refund_id": "r-1"}
    for _ in range(3):
        assert tally.beacon(partial)[0] == 204
    wait_field(redis_server, "c:{alpha}", "refunded:EUR", 3000)
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.hget("c:{alpha}", "revenue:EUR") == "7000"
    assert redis_server.client.hget("s:{default}", "revenue:EUR") == "7000"

    full = {"type": "refund", "order_id": "R1", "currency": "EUR"}
    too_much = dict(partial, refund_id="r-2", amount="500.00")
    for body in (full, full, too_much):
        assert tally.beacon(body)[0] == 204
    wait_field(redis_server, "c:{alpha}", "revenue:EUR", 0)
    time.sleep(SETTLE_SECONDS)
    stats = redis_server.client.hgetall("c:{alpha}")
    assert stats["refunded:EUR"] == "10000"
    assert stats["refunds"] == "3"
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["revenue:EUR"] == "0"
    assert shop["attributed_revenue:EUR"] == "0"
    assert shop["refunded:EUR"] == "10000"
    assert order_record(redis_server, "R1")["refunded"] == "10000"


def test_money_overflow_keeps_order_whole(tally, redis_server):
    """A revenue sum at the 64-bit limit of HINCRBY cannot take another
    order. The order still counts in every other total, the full sum stays
    where it was, and money_overflows counts the addition it lost."""
    near_max = str(2**63 - 500)
    redis_server.client.hset("c:{alpha}", "revenue:EUR", near_max)
    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "big1", token=tly, revenue="10.00")
    wait_field(redis_server, "c:{alpha}", "conversions", 1)

    campaign = redis_server.client.hgetall("c:{alpha}")
    assert campaign["revenue:EUR"] == near_max
    assert campaign["money_overflows"] == "1"
    message = redis_server.client.hgetall("c:{alpha}:m:a")
    assert message["conversions"] == "1"
    assert message["revenue:EUR"] == "1000"
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["orders"] == "1"
    assert shop["attributed_revenue:EUR"] == "1000"
    assert "money_overflows" not in shop
    assert order_record(redis_server, "big1")["campaign"] == "alpha"
    assert "journal.record_skipped" not in tally.log_text()


def test_refund_rules(tally, redis_server):
    bad = [({"type": "refund", "order_id": "X", "currency": "EUR", "amount": "1.00"},
            "refund_id"),
           ({"type": "refund", "order_id": "X", "currency": "EUR", "amount": "-1"},
            "amount"),
           ({"type": "refund", "currency": "EUR"}, "order_id")]
    for body, word in bad:
        status, _, text = tally.beacon(body)
        assert status == 400, text
        assert word.encode() in text, text
    assert tally.beacon({"type": "refund", "order_id": "unknown",
                         "currency": "EUR"})[0] == 204
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.exists("o:{default}:unknown") == 0


def test_early_refund_applied_at_claim(tally, redis_server):
    early = "s:{default}:early:E1"
    partial = {"type": "refund", "order_id": "E1", "currency": "EUR",
               "amount": "30.00", "refund_id": "r-1"}
    other_currency = dict(partial, currency="USD", refund_id="r-9", amount="5.00")
    for body in (partial, partial, other_currency):
        assert tally.beacon(body)[0] == 204
    wait_field(redis_server, "s:{default}", "early_refunds", 2)
    assert redis_server.client.hgetall(early) == {"refund:id:r-1": "3000 EUR",
                                                  "refund:id:r-9": "500 USD"}
    assert redis_server.client.ttl(early) > 0
    assert redis_server.client.exists("o:{default}:E1") == 0

    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "E1", token=tly, revenue="100.00")
    wait_field(redis_server, "c:{alpha}", "refunded:EUR", 3000)
    time.sleep(SETTLE_SECONDS)
    campaign = redis_server.client.hgetall("c:{alpha}")
    assert campaign["conversions"] == "1"
    assert campaign["revenue:EUR"] == "7000"
    assert campaign["refunds"] == "1"
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["revenue:EUR"] == "7000"
    assert shop["attributed_revenue:EUR"] == "7000"
    assert shop["refunded:EUR"] == "3000"
    assert shop["refunds"] == "1"
    assert shop["early_refunds_rejected"] == "1"
    record = order_record(redis_server, "E1")
    assert record["refunded"] == "3000"
    assert record["refund:id:r-1"] == "3000"
    credited = redis_server.client.hgetall("c:{alpha}:o:default:E1")
    assert credited["refunded"] == "3000"
    assert credited["refund:id:r-1"] == "3000"
    assert redis_server.client.exists(early) == 0

    # The same refund again, now that the order is known, changes nothing.
    assert tally.beacon(partial)[0] == 204
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.hget("c:{alpha}", "refunded:EUR") == "3000"
    assert redis_server.client.hget("s:{default}", "refunded:EUR") == "3000"
    assert redis_server.client.hget("s:{default}", "early_refunds") == "2"


def test_early_full_refund_takes_all(tally, redis_server):
    assert tally.beacon({"type": "refund", "order_id": "E2", "currency": "EUR"})[0] == 204
    wait_field(redis_server, "s:{default}", "early_refunds", 1)
    checkout(tally, "E2", revenue="40.00")
    wait_field(redis_server, "s:{default}", "refunded:EUR", 4000)
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["revenue:EUR"] == "0"
    assert shop["unattributed_orders"] == "1"
    assert order_record(redis_server, "E2")["refund:full"] == "4000"


# ---- the conversions API -------------------------------------------------

def test_conversions_api_authentication(make_tally, redis_server):
    tally = make_tally(extra_keys=SHOP_KEYS)
    order = {"type": "checkout", "order_id": "v1", "revenue": "5.00", "currency": "EUR"}
    body = json.dumps(order).encode()
    good = conversion_headers(body, SHOP_SECRET)
    assert tally.request("POST", "/v1/conversions", body=body, headers=good)[0] == 204

    status, _, text = post_conversion(tally, order, secret="00" * 32)
    assert status == 401
    assert b"does not match" in text
    status, _, text = post_conversion(tally, order, timestamp=int(time.time()) - 3600)
    assert status == 401
    assert b"too far" in text
    stale_body = dict(order, order_id="v2")
    status, _, _ = post_conversion(tally, stale_body, timestamp=int(time.time()) + 3600)
    assert status == 401
    status, _, text = tally.request("POST", "/v1/conversions", body=body,
                                    headers={"Content-Type": "application/json"})
    assert status == 401
    assert b"required" in text
    status, _, text = post_conversion(tally, dict(order, shop="other"))
    assert status == 401
    assert b"shop_secret" in text
    tampered = body.replace(b"5.00", b"9.00")
    assert tally.request("POST", "/v1/conversions", body=tampered, headers=good)[0] == 401

    # A replay inside the window is accepted and changes nothing.
    assert tally.request("POST", "/v1/conversions", body=body, headers=good)[0] == 204
    wait_field(redis_server, "s:{default}", "verified_orders", 1)
    time.sleep(SETTLE_SECONDS)
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["orders"] == "1"
    assert shop["revenue:EUR"] == "500"
    assert redis_server.client.exists("o:{default}:v2") == 0


def test_browser_then_server_counts_once(make_tally, redis_server):
    tally = make_tally(extra_keys=SHOP_KEYS)
    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "b1", token=tly, revenue="10.00")
    wait_field(redis_server, "c:{alpha}", "conversions", 1)
    status, _, _ = post_conversion(tally, {"type": "checkout", "order_id": "b1",
                                           "revenue": "12.00", "currency": "EUR"})
    assert status == 204
    wait_field(redis_server, "c:{alpha}", "verified_conversions", 1)
    checkout(tally, "b1", token=tly, revenue="10.00")
    time.sleep(SETTLE_SECONDS)
    stats = redis_server.client.hgetall("c:{alpha}")
    assert stats["conversions"] == "1"
    assert stats["revenue:EUR"] == "1200"
    assert stats["verified_revenue:EUR"] == "1200"
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["orders"] == "1"
    assert shop["verified_orders"] == "1"
    assert shop["revenue:EUR"] == "1200"
    assert shop["verified_revenue:EUR"] == "1200"
    assert order_record(redis_server, "b1")["verified"] == "1"


def test_server_then_browser_counts_once(make_tally, redis_server):
    tally = make_tally(extra_keys=SHOP_KEYS)
    tly = click_through(tally, "alpha", "a", "r@example.com")
    assert post_conversion(tally, {"type": "checkout", "order_id": "b2",
                                   "revenue": "7.00", "currency": "EUR",
                                   "token": tly})[0] == 204
    wait_field(redis_server, "c:{alpha}", "verified_conversions", 1)
    checkout(tally, "b2", token=tly, revenue="99.00")
    time.sleep(SETTLE_SECONDS)
    stats = redis_server.client.hgetall("c:{alpha}")
    assert stats["conversions"] == "1"
    assert stats["revenue:EUR"] == "700"


def test_verified_refund_reduces_verified_revenue(make_tally, redis_server):
    tally = make_tally(extra_keys=SHOP_KEYS)
    tly = click_through(tally, "alpha", "a", "r@example.com")
    post_conversion(tally, {"type": "checkout", "order_id": "b3", "revenue": "8.00",
                            "currency": "EUR", "token": tly})
    wait_field(redis_server, "c:{alpha}", "verified_conversions", 1)
    assert post_conversion(tally, {"type": "refund", "order_id": "b3",
                                   "currency": "EUR"})[0] == 204
    wait_field(redis_server, "c:{alpha}", "verified_revenue:EUR", 0)
    assert redis_server.client.hget("s:{default}", "verified_revenue:EUR") == "0"


def test_confirmation_cuts_campaign_refunds(make_tally, redis_server):
    tally = make_tally(extra_keys=SHOP_KEYS)
    tly = click_through(tally, "alpha", "a", "r@example.com")
    checkout(tally, "b4", token=tly, revenue="100.00")
    wait_field(redis_server, "c:{alpha}", "conversions", 1)
    assert tally.beacon({"type": "refund", "order_id": "b4", "currency": "EUR",
                         "amount": "80.00", "refund_id": "r-1"})[0] == 204
    wait_field(redis_server, "c:{alpha}", "refunded:EUR", 8000)

    # The shop's backend confirms 50.00 for the order: refunds stop at 50.00
    # in the shop and in the campaign alike, and a repeat changes nothing.
    confirm = {"type": "checkout", "order_id": "b4", "revenue": "50.00",
               "currency": "EUR"}
    for _ in range(2):
        assert post_conversion(tally, confirm)[0] == 204
    wait_field(redis_server, "c:{alpha}", "verified_conversions", 1)
    time.sleep(SETTLE_SECONDS)
    campaign = redis_server.client.hgetall("c:{alpha}")
    shop = redis_server.client.hgetall("s:{default}")
    assert shop["refunded:EUR"] == "5000"
    assert campaign["refunded:EUR"] == "5000"
    assert campaign["revenue:EUR"] == shop["revenue:EUR"] == "0"
    assert campaign["verified_revenue:EUR"] == shop["verified_revenue:EUR"] == "0"
    assert order_record(redis_server, "b4")["verify_cut"] == "3000"
    assert redis_server.client.hget("c:{alpha}:o:default:b4", "refunded") == "5000"


# ---- CORS and the image fallback ----------------------------------------

def test_cors_preflight_allowed_and_denied(make_tally, redis_server):
    tally = make_tally(["--shop-origins", ORIGIN + ", https://www.shop.example"])
    status, headers, _ = tally.request(
        "OPTIONS", "/b", headers={"Origin": ORIGIN,
                                  "Access-Control-Request-Method": "POST",
                                  "Access-Control-Request-Headers": "content-type"})
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "POST"
    assert "content-type" in headers["access-control-allow-headers"].lower()
    assert headers["vary"] == "Origin"

    status, headers, _ = tally.request("OPTIONS", "/b",
                                       headers={"Origin": "https://evil.example"})
    assert status == 403
    assert "access-control-allow-origin" not in headers

    body = json.dumps({"type": "checkout", "order_id": "c1", "revenue": "1.00",
                       "currency": "EUR"})
    status, headers, _ = tally.request("POST", "/b", body=body,
                                       headers={"Origin": ORIGIN,
                                                "Content-Type": "application/json"})
    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = tally.request("POST", "/b", body=body,
                                       headers={"Origin": "https://evil.example",
                                                "Content-Type": "text/plain"})
    assert status == 403
    wait_field(redis_server, "s:{default}", "orders", 1)


def test_beacon_gif_records_and_tolerates_junk(tally, redis_server):
    tly = click_through(tally, "alpha", "a", "r@example.com")
    query = urllib.parse.urlencode({"type": "checkout", "order_id": "g 1",
                                    "revenue": "5.00", "currency": "EUR",
                                    "token": tly, "device_id": DEVICE})
    status, headers, body = tally.request("GET", "/b.gif?flag&=x&" + query + "&%zz=1")
    assert status == 200
    assert headers["content-type"] == "image/gif"
    assert body.startswith(b"GIF89a")
    wait_field(redis_server, "c:{alpha}", "conversions", 1)
    assert order_record(redis_server, "g 1")["path"] == "token"

    for bad in ("/b.gif", "/b.gif?type=checkout", "/b.gif?%00=1"):
        status, _, body = tally.request("GET", bad)
        assert status == 200, bad
        assert body.startswith(b"GIF89a"), bad
    status, _, body = tally.request("HEAD", "/b.gif?" + query.replace("g+1", "g2"))
    assert status == 200
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.hget("s:{default}", "orders") == "1"


# ---- recount -------------------------------------------------------------

def test_recount_under_other_model(make_tally, redis_server):
    tally = make_tally()
    for i in range(3):
        email = f"r{i}@example.com"
        click_through(tally, "alpha", "a", email)
    time.sleep(1.1)
    for i in range(2):
        click_through(tally, "beta", "a", f"r{i}@example.com")
    wait_field(redis_server, "c:{beta}", "clicks", 2)
    for i in range(3):
        checkout(tally, f"rc{i}", email_sha256=email_sha256(f"r{i}@example.com"))
    wait_field(redis_server, "s:{default}", "orders", 3)
    wait_field(redis_server, "c:{beta}", "conversions", 2)

    result = tally.ctl("recount", "--campaign", "alpha", "--model", "first_touch",
                       "--json", redis_url=redis_server.url)
    recount = json.loads(result.stdout)
    assert recount["conversions"] == 3
    assert recount["revenue"] == {"EUR": "30.00"}
    assert recount["orders_read"] == 3
    result = tally.ctl("recount", "--campaign", "alpha", "--model", "last_click",
                       "--json", redis_url=redis_server.url)
    assert json.loads(result.stdout)["conversions"] == 1
    assert redis_server.client.hget("c:{alpha}", "conversions") == "1"

    # The text form names the campaign first and ends with the revenue.
    lines = tally.ctl("recount", "--campaign", "alpha", "--model", "first_touch",
                      redis_url=redis_server.url).stdout.splitlines()
    assert lines[0].split() == ["campaign", "alpha"]
    assert lines[-1].split() == ["revenue", "EUR", "30.00"]


def test_conversions_media_types_and_log_quotes(make_tally):
    tally = make_tally(extra_keys=SHOP_KEYS)
    order = {"type": "checkout", "order_id": "mt1", "revenue": "5.00", "currency": "EUR"}
    body = json.dumps(order).encode()
    for content_type, status in (("application/jsonx", 415), ("application/json-seq", 415),
                                 ("text/plain", 415),
                                 ("Application/JSON; charset=utf-8", 204)):
        headers = dict(conversion_headers(body, SHOP_SECRET), **{"Content-Type": content_type})
        assert tally.request("POST", "/v1/conversions", body=body,
                             headers=headers)[0] == status, content_type

    # Reasons quote field values; the log line must keep reason="..." whole.
    identify = json.dumps({"type": "identify", "customer_id": "c-1",
                           "email_sha256": email_sha256("c1@example.com")}).encode()
    assert tally.request("POST", "/v1/conversions", body=identify,
                         headers=conversion_headers(identify, SHOP_SECRET))[0] == 400
    assert tally.request("GET", "/b.gif?type=x")[0] == 200
    # GET /b.gif sends the image before it logs the rejection.
    wait_until(lambda: "event=beacon.rejected" in tally.log_text(), "the rejection's log line")
    log = tally.log_text().splitlines()
    conversions = [line for line in log if "event=conversions.rejected" in line]
    beacons = [line for line in log if "event=beacon.rejected" in line]
    assert any("'checkout' or 'refund'" in line for line in conversions), conversions
    assert any("'identify', 'checkout' or 'refund'" in line for line in beacons), beacons
    for line in conversions + beacons:
        reason = line.split('reason="', 1)[1]
        assert reason.endswith('"'), line
        assert '"' not in reason[:-1], line
