"""The stats API, /metrics, /readyz, the dashboard's files and tallyctl
stats, against a real tallyd and Redis."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import RedisServer, Tallyd, email_sha256, path_of, wait_until
from test_attribution import SHOP_KEYS, post_conversion

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")
IPHONE_SAFARI = IPHONE + " Version/17.0 Safari/604.1"
WINDOWS_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
SIGN_TOKEN = "5" * 64


@pytest.fixture
def tally(tmp_path, redis_server):
    server = Tallyd(str(tmp_path), redis_server.url,
                    extra_keys=f"api_token.mailer = sign {SIGN_TOKEN}\n")
    yield server
    server.stop()


def api(tally, path, token=None):
    token = tally.read_token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, body = tally.request("GET", path, headers=headers)
    return status, json.loads(body) if body else None


def click(tally, campaign, message, email, link, agent):
    url = tally.click_url(campaign, message, email, "https://shop.example/p", link=link)
    status, headers, _ = tally.request("GET", path_of(url), headers={"User-Agent": agent})
    assert status == 302
    query = urllib.parse.urlsplit(headers["location"]).query
    return urllib.parse.parse_qs(query)["tly"][0]


def checkout(tally, order, revenue, agent, **fields):
    body = {"type": "checkout", "order_id": order, "revenue": revenue,
            "currency": "EUR", **fields}
    status, _, _ = tally.request("POST", "/b", body=json.dumps(body),
                                 headers={"Content-Type": "text/plain",
                                          "User-Agent": agent})
    assert status == 204


def journey(tally, redis_server):
    """Two readers of campaign spring: a same-device and a cross-device
    sale. Returns when both are credited."""
    opened = tally.open_url("spring", "a", "one@example.com")
    tally.request("GET", path_of(opened), headers={"User-Agent": IPHONE})
    tly = click(tally, "spring", "a", "one@example.com", 1, IPHONE_SAFARI)
    checkout(tally, "1001", "89.95", IPHONE_SAFARI, token=tly)

    click(tally, "spring", "b", "two@example.com", 2, IPHONE_SAFARI)
    # Another worker thread may take the checkout; it can only find the
    # click once the click is in Redis.
    wait_until(lambda: redis_server.client.hget("c:{spring}", "clicks") == "2",
               "both clicks recorded")
    checkout(tally, "1002", "10.05", WINDOWS_CHROME,
             email_sha256=email_sha256("two@example.com"))
    wait_until(lambda: redis_server.client.hget("c:{spring}", "conversions") == "2",
               "two conversions")


def test_api_rejects_missing_and_bad_tokens(tally):
    assert api(tally, "/v1/campaigns", token="")[0] == 401
    assert api(tally, "/v1/campaigns", token="ab" * 32)[0] == 401
    assert api(tally, "/v1/campaigns", token="short")[0] == 401
    status, body = api(tally, "/v1/campaigns", token=SIGN_TOKEN)
    assert status == 403
    assert "scope" in body["error"]
    assert api(tally, "/v1/campaigns")[0] == 200


def test_api_never_logs_tokens(tally):
    api(tally, "/v1/campaigns", token="ab" * 32)
    api(tally, "/v1/campaigns", token=SIGN_TOKEN)
    with open(tally.log_path) as f:
        log = f.read()
    assert "ab" * 32 not in log
    assert SIGN_TOKEN not in log
    assert "token=mailer" in log


def test_campaigns_list_matches_redis(tally, redis_server):
    journey(tally, redis_server)
    status, body = api(tally, "/v1/campaigns")
    assert status == 200
    assert [c["id"] for c in body["campaigns"]] == ["spring"]
    counters = body["campaigns"][0]["counters"]
    stored = redis_server.client.hgetall("c:{spring}")
    for field in ("opens", "unique_opens", "clicks", "unique_clicks", "conversions",
                  "cross_device_conversions"):
        assert counters[field] == int(stored.get(field, 0)), field
    assert body["campaigns"][0]["amounts"]["revenue"] == {"EUR": "100.00"}


def test_stats_totals_links_paths_buckets(tally, redis_server):
    journey(tally, redis_server)
    status, body = api(tally, "/v1/campaigns/spring/stats")
    assert status == 200
    totals = body["totals"]
    assert totals["counters"]["conversions"] == 2
    assert totals["counters"]["cross_device_conversions"] == 1
    assert totals["amounts"]["revenue"]["EUR"] == "100.00"
    assert totals["rates"]["conversion_rate"] == 1.0
    assert totals["rates"]["cross_device_share"] == 0.5
    assert totals["rates"]["open_rate"] is None  # sent is not known
    assert sorted((l["message"], l["link"], l["clicks"]) for l in body["links"]) == \
        [("a", 1, 1), ("b", 2, 1)]
    assert body["conversions_by_path"] == {"token": 1, "email": 1}
    buckets = {b["bucket"]: b["conversions"] for b in body["time_to_conversion"]}
    assert buckets["lt_5m"] == 2
    assert sum(buckets.values()) == 2
    messages = {m["message"]: m for m in body["messages"]}
    assert sorted(messages) == ["a", "b"]
    assert messages["a"]["counters"]["conversions"] == 1
    assert messages["b"]["amounts"]["revenue"]["EUR"] == "10.05"


def test_stats_hourly_series_over_range(tally, redis_server):
    journey(tally, redis_server)
    now = int(time.time())
    hour = now - now % 3600
    status, body = api(tally, f"/v1/campaigns/spring/stats?from={hour - 7200}&to={now}")
    assert status == 200
    hourly = body["hourly"]
    assert len(hourly["hours"]) == 3
    assert hourly["hours"][-1] == time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(hour))
    assert hourly["counters"]["opens"] == [0, 0, 1]
    assert hourly["counters"]["clicks"] == [0, 0, 2]
    assert hourly["counters"]["conversions"] == [0, 0, 2]
    assert hourly["amounts"]["revenue"]["EUR"] == [None, None, "100.00"]
    iso = urllib.parse.quote(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hour)))
    status, body = api(tally, f"/v1/campaigns/spring/stats?from={iso}&to={iso}")
    assert status == 200
    assert body["hourly"]["counters"]["opens"] == [1]


def test_stats_hourly_full_range_every_hour(tally, redis_server):
    r = redis_server.client
    now = int(time.time())
    last = now - now % 3600
    first = last - 743 * 3600

    def hour_key(t):
        return time.strftime("c:{long}:h:%Y%m%d%H", time.gmtime(t))

    r.sadd("campaigns", "long")
    r.hset(hour_key(first), mapping={"opens": 5, "opens:human": 4, "revenue:JPY": 1200})
    r.hset(hour_key(first + 3600), mapping={"opens": "not a number", "revenue:EUR": 250})
    r.hset(hour_key(last), mapping={"clicks": 3, "clicks:scanner": 3})
    status, body = api(tally, f"/v1/campaigns/long/stats?from={first}&to={now}")
    assert status == 200
    hourly = body["hourly"]
    assert len(hourly["hours"]) == 744
    assert hourly["from"] == time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(first))
    counters = hourly["counters"]
    assert all(len(column) == 744 for column in counters.values())
    assert counters["opens"][:2] == [5, 0]
    assert sum(counters["opens"]) == 5
    assert counters["opens:human"][0] == 4
    assert counters["clicks"][-1] == 3
    assert counters["clicks:scanner"][-1] == 3
    assert sum(counters["conversions"]) == 0
    amounts = hourly["amounts"]["revenue"]
    assert amounts["JPY"][0] == "1200"
    assert amounts["JPY"].count(None) == 743
    assert amounts["EUR"][1] == "2.50"


def sign_emails(tally, message, emails):
    status, _, _ = tally.request(
        "POST", "/v1/sign",
        body=json.dumps({"campaign": "spring", "message": message,
                         "destinations": ["https://shop.example/p"],
                         "recipients": [{"email": e} for e in emails]}),
        headers={"Authorization": f"Bearer {SIGN_TOKEN}",
                 "Content-Type": "application/json"})
    assert status == 200


def sends_counted(tally, redis, key, expected):
    """Waits until every event tallyd took is in Redis, then returns the
    HyperLogLog count of key: expected, or one less when two of the sends
    share one of its 16,384 registers. With 12 random elements PFCOUNT
    returned 11 in 76 of 20,000 trials, so tests compare with the count,
    not with the number of sends."""
    def settled():
        samples = metric_samples(tally)
        written = samples[("tally_events_written_total", ())]
        return written > 0 and written == samples[("tally_events_submitted_total", ())]

    wait_until(settled, "the sends to reach Redis")
    count = redis.client.pfcount(key)
    assert count in (expected - 1, expected)
    return count


def test_stats_sent_and_rates_per_message(tally, redis_server):
    r = redis_server.client
    sign_emails(tally, "a", ["one@example.com"] + [f"a{i}@example.com" for i in range(3)])
    sign_emails(tally, "b", ["two@example.com"] + [f"b{i}@example.com" for i in range(9)])
    sign_emails(tally, "c", ["three@example.com"])
    sent = sends_counted(tally, redis_server, "c:{spring}:sent", 15)
    sent_a = sends_counted(tally, redis_server, "c:{spring}:m:a:sent", 4)
    sent_b = sends_counted(tally, redis_server, "c:{spring}:m:b:sent", 10)
    assert sends_counted(tally, redis_server, "c:{spring}:m:c:sent", 1) == 1
    journey(tally, redis_server)

    status, body = api(tally, "/v1/campaigns/spring/stats")
    assert status == 200
    totals = body["totals"]
    assert totals["counters"]["sent"] == sent
    assert totals["rates"]["open_rate"] == pytest.approx(1 / sent)
    assert totals["rates"]["click_rate"] == pytest.approx(2 / sent)
    assert totals["rates"]["conversion_rate_of_sent"] == pytest.approx(2 / sent)
    messages = {m["message"]: m for m in body["messages"]}
    # c was only minted: it is listed with its sends and no open.
    assert sorted(messages) == ["a", "b", "c"]
    assert r.smembers("c:{spring}:m") == {"a", "b", "c"}
    a, b, c = messages["a"], messages["b"], messages["c"]
    assert c["counters"]["sent"] == 1
    assert c["counters"]["unique_opens"] == 0
    assert c["rates"]["open_rate"] == 0
    assert c["links"] == []
    assert a["counters"]["sent"] == sent_a
    assert b["counters"]["sent"] == sent_b
    assert a["rates"]["open_rate"] == pytest.approx(1 / sent_a)
    assert a["rates"]["click_rate"] == pytest.approx(1 / sent_a)
    assert b["rates"]["open_rate"] == 0
    assert b["rates"]["conversion_rate_of_sent"] == pytest.approx(1 / sent_b)
    assert a["links"] == [{"message": "a", "link": 1, "clicks": 1}]
    assert b["links"] == [{"message": "b", "link": 2, "clicks": 1}]


def test_stats_per_message_side_by_side(tally, redis_server):
    journey(tally, redis_server)
    status, body = api(tally, "/v1/campaigns/spring/stats")
    assert status == 200
    messages = {m["message"]: m for m in body["messages"]}
    a, b = messages["a"], messages["b"]
    assert a["conversions_by_path"] == {"token": 1}
    assert b["conversions_by_path"] == {"email": 1}
    assert [x["conversions"] for x in a["time_to_conversion"]] == [1, 0, 0, 0, 0, 0, 0]
    assert [x["bucket"] for x in b["time_to_conversion"]] == \
        [x["bucket"] for x in body["time_to_conversion"]]
    assert sum(x["conversions"] for x in b["time_to_conversion"]) == 1
    assert a["counters"]["unique_opens"] == 1
    assert b["counters"]["unique_clicks"] == 1
    r = redis_server.client
    assert r.hgetall("c:{spring}:m:a:p") == {"token": "1"}
    assert r.hgetall("c:{spring}:m:b:ttc") == {"lt_5m": "1"}


def test_stats_of_one_message(tally, redis_server):
    journey(tally, redis_server)
    now = int(time.time())
    hour = now - now % 3600
    status, body = api(tally, f"/v1/campaigns/spring/stats?message=a&from={hour - 3600}&to={now}")
    assert status == 200
    assert body["campaign"] == "spring"
    assert body["message"] == "a"
    assert "messages" not in body
    totals = body["totals"]
    assert totals["counters"]["opens"] == 1
    assert totals["counters"]["clicks"] == 1
    assert totals["counters"]["conversions"] == 1
    assert totals["counters"]["cross_device_conversions"] == 0
    assert totals["amounts"]["revenue"] == {"EUR": "89.95"}
    assert totals["rates"]["conversion_rate"] == 1.0
    assert body["links"] == [{"message": "a", "link": 1, "clicks": 1}]
    assert body["conversions_by_path"] == {"token": 1}
    assert sum(x["conversions"] for x in body["time_to_conversion"]) == 1
    hourly = body["hourly"]
    assert len(hourly["hours"]) == 2
    assert hourly["counters"]["opens"] == [0, 1]
    assert hourly["counters"]["clicks"] == [0, 1]
    assert hourly["counters"]["clicks:human"] == [0, 1]
    assert hourly["counters"]["conversions"] == [0, 1]
    assert hourly["amounts"]["revenue"] == {"EUR": [None, "89.95"]}

    status, body = api(tally, f"/v1/campaigns/spring/stats?message=b&from={hour}&to={now}")
    assert status == 200
    assert body["hourly"]["counters"]["opens"] == [0]
    assert body["hourly"]["counters"]["clicks"] == [1]
    assert body["hourly"]["counters"]["cross_device_conversions"] == [1]
    assert body["hourly"]["amounts"]["revenue"] == {"EUR": ["10.05"]}
    key = time.strftime("c:{spring}:m:b:h:%Y%m%d%H", time.gmtime(hour))
    assert redis_server.client.hget(key, "revenue:EUR") == "1005"


def test_message_series_add_up_to_campaign(tally, redis_server):
    journey(tally, redis_server)
    now = int(time.time())
    query = f"from={now - 5 * 3600}&to={now}"
    campaign = api(tally, f"/v1/campaigns/spring/stats?{query}")[1]["hourly"]
    per_message = [api(tally, f"/v1/campaigns/spring/stats?message={m}&{query}")[1]["hourly"]
                   for m in ("a", "b")]
    for field in ("opens", "clicks", "conversions", "cross_device_conversions"):
        summed = [x + y for x, y in zip(*(h["counters"][field] for h in per_message))]
        assert summed == campaign["counters"][field], field


@pytest.mark.parametrize("query, status", [
    ("message=zz", 404),
    ("message=bad%20id", 400),
    ("message=" + "m" * 33, 400),
    ("message=", 400),
])
def test_stats_rejects_unknown_and_bad_messages(tally, redis_server, query, status):
    journey(tally, redis_server)
    code, body = api(tally, f"/v1/campaigns/spring/stats?{query}")
    assert code == status
    assert "message" in body["error"]


def test_stats_sent_absent_when_unknown(tally, redis_server):
    journey(tally, redis_server)
    status, body = api(tally, "/v1/campaigns/spring/stats")
    assert status == 200
    assert "sent" not in body["totals"]["counters"]
    assert all("sent" not in m["counters"] for m in body["messages"])
    assert all(m["rates"]["open_rate"] is None for m in body["messages"])


@pytest.mark.parametrize("query, status", [
    ("from=7200&to=0", 400),
    ("from=0&to=9999999", 400),
    ("from=yesterday", 400),
    ("to=2026-13-01", 400),
])
def test_stats_rejects_bad_ranges(tally, query, status):
    code, body = api(tally, f"/v1/campaigns/spring/stats?{query}")
    assert code == status
    assert "error" in body


def test_stats_unknown_and_invalid_campaign(tally):
    assert api(tally, "/v1/campaigns/nope/stats")[0] == 404
    assert api(tally, "/v1/campaigns/nope/conversions")[0] == 404
    assert api(tally, "/v1/campaigns/x/unknown")[0] == 404


@pytest.mark.parametrize("path", [
    "/v1/campaigns/bad:id/stats",
    "/v1/campaigns/bad%20id/stats",
    "/v1/campaigns/" + "c" * 33 + "/stats",
    "/v1/campaigns//stats",
    "/v1/campaigns/a/b/stats",
    "/v1/campaigns/bad:id/conversions",
    "/v1/campaigns/bad:id/stats?message=a",
])
def test_invalid_campaign_id_is_400(tally, path):
    status, headers, body = tally.request(
        "GET", path, headers={"Authorization": f"Bearer {tally.read_token}"})
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["error"].startswith("campaign id is invalid")


@pytest.mark.parametrize("method, path, allow", [
    ("POST", "/v1/campaigns", "GET, HEAD"),
    ("DELETE", "/v1/campaigns/spring/stats", "GET, HEAD"),
    ("PUT", "/v1/campaigns/spring/conversions", "GET, HEAD"),
    ("GET", "/v1/readers/" + "a" * 64, "DELETE"),
    ("HEAD", "/v1/readers/" + "a" * 64, "DELETE"),
    ("POST", "/v1/readers/abc", "DELETE"),
])
def test_api_wrong_method_is_405(tally, method, path, allow):
    # Without a token: the method is checked first.
    status, headers, body = tally.request(method, path)
    assert status == 405
    assert headers["allow"] == allow
    assert headers["cache-control"] == "no-store"
    if method != "HEAD":
        assert headers["content-type"] == "application/json"
        assert allow in json.loads(body)["error"]


@pytest.mark.parametrize("path, content_type", [
    ("/v1/sign", "application/json"),
    ("/v1/conversions", "text/plain; charset=utf-8"),
])
def test_post_only_paths_send_allow(tally, path, content_type):
    """The POST-only paths name their method in Allow, as RFC 9110 requires of
    every 405; each keeps the body format of its other errors."""
    status, headers, body = tally.request("GET", path)
    assert status == 405
    assert headers["allow"] == "POST"
    assert headers["content-type"] == content_type
    assert b"POST" in body


def test_api_unknown_path_is_404_for_any_method(tally):
    status, _, body = tally.request("POST", "/v1/nothing",
                                    headers={"Authorization": f"Bearer {tally.read_token}"})
    assert status == 404
    assert "no such API path" in json.loads(body)["error"]


def test_conversions_show_journeys_across_devices(tally, redis_server):
    journey(tally, redis_server)
    status, body = api(tally, "/v1/campaigns/spring/conversions")
    assert status == 200
    orders = {c["order"]: c for c in body["conversions"]}
    assert list(orders) == ["1002", "1001"]  # newest first

    same = orders["1001"]
    assert same["path"] == "token"
    assert same["cross_device"] is False
    assert same["device"] == "mobile"
    assert [(t["kind"], t["device"]) for t in same["journey"]] == \
        [("open", "mobile"), ("click", "mobile")]
    assert same["journey"][0]["client"] == "apple_mail"

    cross = orders["1002"]
    assert cross["path"] == "email"
    assert cross["cross_device"] is True
    assert cross["device"] == "desktop"
    assert [(t["kind"], t["device"]) for t in cross["journey"]] == [("click", "mobile")]
    assert cross["revenue"] == "10.05"
    text = json.dumps(body)
    assert "example.com" not in text
    assert redis_server.client.llen("c:{spring}:r") == 2

    assert api(tally, "/v1/campaigns/spring/conversions?limit=1")[1]["conversions"][0]["order"] == "1002"
    assert api(tally, "/v1/campaigns/spring/conversions?limit=0")[0] == 400
    assert api(tally, "/v1/campaigns/spring/conversions?limit=101")[0] == 400


def test_repeated_order_adds_no_recent_entry(tally, redis_server):
    journey(tally, redis_server)
    checkout(tally, "1002", "10.05", WINDOWS_CHROME,
             email_sha256=email_sha256("two@example.com"))
    time.sleep(0.3)
    assert redis_server.client.llen("c:{spring}:r") == 2
    assert redis_server.client.hgetall("c:{spring}:p") == {"token": "1", "email": "1"}


def test_refunds_and_verified_revenue_reach_api(tmp_path, redis_server):
    tally = Tallyd(str(tmp_path), redis_server.url,
                   extra_keys=f"api_token.mailer = sign {SIGN_TOKEN}\n{SHOP_KEYS}")
    try:
        journey(tally, redis_server)
        status, _, _ = tally.request("POST", "/b", body=json.dumps(
            {"type": "refund", "order_id": "1001", "currency": "EUR",
             "amount": "9.95", "refund_id": "r1"}))
        assert status == 204
        status, _, _ = post_conversion(tally, {"type": "checkout", "order_id": "1002",
                                               "revenue": "12.05", "currency": "EUR"})
        assert status == 204
        wait_until(lambda: redis_server.client.hget("c:{spring}", "refunds") == "1",
                   "the refund")
        wait_until(lambda: redis_server.client.hget("c:{spring}", "verified_conversions")
                   == "1", "the verified order")

        status, body = api(tally, "/v1/campaigns/spring/stats")
        assert status == 200
        totals = body["totals"]
        assert totals["counters"]["conversions"] == 2
        assert totals["counters"]["refunds"] == 1
        assert totals["counters"]["verified_conversions"] == 1
        # 89.95 - 9.95 refunded + 12.05 confirmed by the shop's server
        assert totals["amounts"]["revenue"] == {"EUR": "92.05"}
        assert totals["amounts"]["verified_revenue"] == {"EUR": "12.05"}
        assert totals["amounts"]["refunded"] == {"EUR": "9.95"}
        stored = redis_server.client.hgetall("c:{spring}")
        assert stored["revenue:EUR"] == "9205"
        assert stored["verified_revenue:EUR"] == "1205"
        messages = {m["message"]: m for m in body["messages"]}
        assert messages["a"]["amounts"]["revenue"]["EUR"] == "80.00"
        assert messages["b"]["amounts"]["verified_revenue"]["EUR"] == "12.05"
        assert body["conversions_by_path"] == {"token": 1, "email": 1}
        hour_a = api(tally, "/v1/campaigns/spring/stats?message=a")[1]["hourly"]
        assert hour_a["counters"]["refunds"][-1] == 1
        assert hour_a["amounts"]["refunded"]["EUR"][-1] == "9.95"
        assert hour_a["amounts"]["revenue"]["EUR"][-1] == "80.00"
        hour_b = api(tally, "/v1/campaigns/spring/stats?message=b")[1]["hourly"]
        assert hour_b["counters"]["verified_conversions"][-1] == 1
        assert hour_b["amounts"]["verified_revenue"]["EUR"][-1] == "12.05"
        assert hour_b["amounts"]["revenue"]["EUR"][-1] == "12.05"
        recent = api(tally, "/v1/campaigns/spring/conversions")[1]["conversions"]
        assert [c["order"] for c in recent] == ["1002", "1001"]
    finally:
        tally.stop()


def test_metrics_parse_and_count(tally, redis_server):
    journey(tally, redis_server)
    tally.request("GET", "/o/garbage.gif")
    api(tally, "/v1/campaigns", token="ab" * 32)
    status, _, _ = tally.request("POST", "/v1/sign", body="{not json",
                                 headers={"Authorization": f"Bearer {SIGN_TOKEN}",
                                          "Content-Type": "application/json"})
    assert status == 400
    status, headers, body = tally.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    def sample(family, suffix="", **labels):
        for s in families[family].samples:
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        return None

    assert sample("tally_http_responses", "_total", route="pixel", status="200") == 2
    assert sample("tally_http_responses", "_total", route="click", status="302") == 2
    assert sample("tally_http_responses", "_total", route="api_campaigns", status="401") == 1
    assert sample("tally_http_response_seconds", "_count", route="beacon") == 2
    assert sample("tally_invalid_tokens", "_total", kind="pixel") == 1
    assert sample("tally_invalid_tokens", "_total", kind="api") == 1
    assert sample("tally_events_written", "_total") == 5
    assert sample("tally_events_failed", "_total") == 0
    assert sample("tally_redis_connected", role="store", worker="0") == 1
    assert families["tally_http_response_seconds"].type == "histogram"
    for family in ("tally_journal_events_written", "tally_journal_events_replayed",
                   "tally_journal_events_dropped", "tally_journal_events_skipped",
                   "tally_redis_timeouts", "tally_tokens_retired"):
        assert families[family].type == "counter", family
        assert sample(family, "_total") == 0, family
    assert sample("tally_sign_rejected", "_total") == 1
    assert sample("tally_journal_bytes") == 0
    assert sample("tally_journal_spooling", worker="1") == 0


def metric_samples(tally):
    """Returns {(name, sorted label items): value} of one /metrics scrape."""
    status, _, body = tally.request("GET", "/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def store_disconnected(tally):
    samples = metric_samples(tally)
    return all(v == 0 for (name, labels), v in samples.items()
               if name == "tally_redis_connected" and ("role", "store") in labels)


def test_stats_503_on_silent_redis(make_tally, redis_server):
    """hiredis has no timeout of its own: a paused Redis held stats
    requests for as long as the pause lasted."""
    tally = make_tally(["--threads", "1", "--redis-timeout", "500ms"])
    assert tally.request("GET", path_of(tally.open_url("paused", "a", "r@example.com")))[0] == 200
    wait_until(lambda: redis_server.client.sismember("campaigns", "paused"), "the open")
    auth = {"Authorization": f"Bearer {tally.read_token}"}
    assert tally.request("GET", "/v1/campaigns/paused/stats", headers=auth)[0] == 200

    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        status, _, body = tally.request("GET", "/v1/campaigns/paused/stats", headers=auth)
        waited = time.monotonic() - started
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    assert status == 503, body
    assert waited < 5, waited  # one to two timeouts of 0.5 s, with slack
    assert "stats.redis_timeout" in tally.log_text()
    assert metric_samples(tally)[("tally_stats_redis_timeouts_total", ())] == 1

    # The next request opens a new connection.
    wait_until(lambda: tally.request("GET", "/v1/campaigns/paused/stats",
                                     headers=auth)[0] == 200, "stats to answer again")


def test_readyz_ready_while_journal_has_room(tmp_path):
    redis = RedisServer(str(tmp_path))
    tally = Tallyd(str(tmp_path), redis.url)
    try:
        wait_until(lambda: tally.request("GET", "/readyz")[0] == 200, "readyz 200")
        assert tally.request("GET", "/readyz")[2] == b"ready\n"
        redis.stop()
        wait_until(lambda: store_disconnected(tally), "stores to see Redis gone")

        status, _, body = tally.request("GET", "/readyz")
        assert status == 200
        assert b"journal" in body
        assert tally.request("GET", "/healthz")[0] == 200
        status, _, body = tally.request("GET", "/v1/campaigns",
                                        headers={"Authorization": f"Bearer {tally.read_token}"})
        assert status == 503
        assert b"Redis" in body

        tally.request("GET", path_of(tally.open_url("down", "a", "x@example.com")))
        wait_until(lambda: metric_samples(tally)[("tally_journal_events_written_total", ())] >= 1,
                   "the open to reach the journal")
        samples = metric_samples(tally)
        assert samples[("tally_journal_bytes", ())] > 0
        assert samples[("tally_journal_events_dropped_total", ())] == 0
        assert samples[("tally_journal_max_bytes", ())] == 256 * 1024 * 1024
        spooling = [v for (name, _), v in samples.items() if name == "tally_journal_spooling"]
        assert sorted(spooling) == [0, 1]
    finally:
        tally.stop()


def test_readyz_not_ready_with_full_journal(tmp_path):
    redis = RedisServer(str(tmp_path))
    tally = Tallyd(str(tmp_path), redis.url, extra_args=["--journal-max-size", "4K",
                                                         "--threads", "1"])
    try:
        wait_until(lambda: tally.request("GET", "/readyz")[0] == 200, "readyz 200")
        redis.stop()
        wait_until(lambda: store_disconnected(tally), "the store to see Redis gone")
        assert tally.request("GET", "/readyz")[0] == 200

        # Each open journals one record of well under 512 bytes, so 4 KB
        # fill up within 100 opens.
        for i in range(100):
            tally.request("GET", path_of(tally.open_url("full", "a", f"r{i}@example.com")))
            if tally.request("GET", "/readyz")[0] == 503:
                break
        status, _, body = tally.request("GET", "/readyz")
        assert status == 503
        assert b"journal is full" in body
        samples = metric_samples(tally)
        assert samples[("tally_journal_events_written_total", ())] >= 1
        assert 3 * 1024 < samples[("tally_journal_bytes", ())] <= 4096
        assert samples[("tally_journal_spooling", (("worker", "0"),))] == 1
    finally:
        tally.stop()


def test_dashboard_assets_are_self_contained(tally):
    status, headers, body = tally.request("GET", "/dashboard")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert b"http://" not in body
    assert b"https://" not in body
    for asset in ("/dashboard/app.js", "/dashboard/app.css", "/dashboard/uplot.js",
                  "/dashboard/uplot.css"):
        status, headers, body = tally.request("GET", asset)
        assert status == 200, asset
        assert len(body) > 100, asset
    assert tally.request("GET", "/dashboard/nope.js")[0] == 404
    assert tally.request("POST", "/dashboard")[0] == 405


def test_keygen_writes_read_token(tally):
    assert tally.read_token is not None
    assert len(tally.read_token) == 64
    int(tally.read_token, 16)


def test_tallyctl_stats_table_csv_json(tally, redis_server):
    journey(tally, redis_server)
    now = int(time.time())
    table = tally.ctl("stats", "--campaign", "spring", redis_url=redis_server.url).stdout
    assert "revenue EUR" in table
    assert "100.00" in table
    ranged = tally.ctl("stats", "--campaign", "spring", "--from", str(now - 3600),
                       "--to", str(now), redis_url=redis_server.url).stdout
    assert "hour (UTC)" in ranged
    csv = tally.ctl("stats", "--campaign", "spring", "--csv",
                    redis_url=redis_server.url).stdout.splitlines()
    assert csv[0] == "metric,value"
    assert "conversions,2" in csv
    assert "revenue:EUR,100.00" in csv
    hours = tally.ctl("stats", "--campaign", "spring", "--csv", "--from", str(now - 3600),
                      "--to", str(now), redis_url=redis_server.url).stdout.splitlines()
    assert hours[0] == "hour,opens,clicks,conversions,cross_device_conversions,revenue:EUR"
    assert hours[-1].endswith(",1,2,2,1,100.00")
    data = json.loads(tally.ctl("stats", "--campaign", "spring", "--json", "--from",
                                str(now - 3600), redis_url=redis_server.url).stdout)
    assert data["conversions"] == 2
    assert data["revenue"] == {"EUR": "100.00"}
    assert data["sent"] is None
    assert "sent," in csv
    assert re.search(r"^sent +unknown$", table, re.M)
    assert data["hourly"][-1]["clicks"] == 2
    bad = tally.ctl("stats", "--campaign", "spring", "--from", "0",
                    redis_url=redis_server.url, check=False)
    assert bad.returncode == 2
    assert "744" in bad.stderr


def test_tallyctl_table_groups_thousands(tally, redis_server):
    redis_server.client.hset("c:{big}", mapping={"opens": 1234567, "revenue:EUR": 123456789})
    redis_server.client.sadd("campaigns", "big")
    out = tally.ctl("stats", "--campaign", "big", redis_url=redis_server.url).stdout
    assert "1,234,567" in out
    assert "1,234,567.89" in out


def test_tallyctl_stats_unknown_name_fails(tally, redis_server):
    """A mistyped name must not look like a campaign without traffic."""
    status, _, _ = tally.request("GET", path_of(tally.open_url("known", "a", "r@example.com")))
    assert status == 200
    # The campaign set and the message set are written by different
    # commands, so the test waits for both.
    wait_until(lambda: redis_server.client.sismember("campaigns", "known") and
               redis_server.client.sismember("c:{known}:m", "a"), "the open")

    for args, words in ((["--campaign", "knwon"], "no such campaign knwon"),
                        (["--campaign", "known", "--message", "b"],
                         "no such message b in campaign known")):
        result = tally.ctl("stats", *args, redis_url=redis_server.url, check=False)
        assert result.returncode == 1, args
        assert words in result.stderr, (args, result.stderr)
        assert result.stdout == "", args
    assert tally.ctl("stats", "--campaign", "known", "--message", "a",
                     redis_url=redis_server.url).returncode == 0


def test_tallyctl_stats_shows_sent(tally, redis_server):
    sign_emails(tally, "a", [f"s{i}@example.com" for i in range(12)])
    sent = sends_counted(tally, redis_server, "c:{spring}:sent", 12)
    redis_server.client.pfadd("c:{big}:sent", *[f"m|{i}" for i in range(3000)])
    redis_server.client.sadd("campaigns", "big")
    sent_big = redis_server.client.pfcount("c:{big}:sent")
    assert sent_big > 1000

    table = tally.ctl("stats", "--campaign", "spring", redis_url=redis_server.url).stdout
    assert re.search(r"^sent +%d$" % sent, table, re.M)
    csv = tally.ctl("stats", "--campaign", "spring", "--csv",
                    redis_url=redis_server.url).stdout.splitlines()
    assert csv[2] == f"sent,{sent}"
    data = json.loads(tally.ctl("stats", "--campaign", "spring", "--json",
                                redis_url=redis_server.url).stdout)
    assert data["sent"] == sent
    big = tally.ctl("stats", "--campaign", "big", redis_url=redis_server.url).stdout
    assert re.search(r"^sent +%s$" % f"{sent_big:,}", big, re.M)


def test_tallyctl_stats_of_one_message(tally, redis_server):
    journey(tally, redis_server)
    now = int(time.time())
    data = json.loads(tally.ctl("stats", "--campaign", "spring", "--message", "b", "--json",
                                "--from", str(now - 3600), redis_url=redis_server.url).stdout)

    assert data["campaign"] == "spring"
    assert data["message"] == "b"
    assert data["clicks"] == 1
    assert data["opens"] == 0
    assert data["conversions"] == 1
    assert data["cross_device_conversions"] == 1
    assert data["revenue"] == {"EUR": "10.05"}
    assert data["hourly"][-1]["clicks"] == 1
    assert data["hourly"][-1]["revenue"] == {"EUR": "10.05"}
    assert sum(h["opens"] for h in data["hourly"]) == 0

    table = tally.ctl("stats", "--campaign", "spring", "--message", "a",
                      redis_url=redis_server.url).stdout
    assert re.search(r"^message +a$", table, re.M)
    assert re.search(r"^revenue EUR +89\.95$", table, re.M)

    csv = tally.ctl("stats", "--campaign", "spring", "--message", "a", "--csv",
                    redis_url=redis_server.url).stdout.splitlines()
    assert csv[:3] == ["metric,value", "campaign,spring", "message,a"]
    assert "opens,1" in csv

    hours = tally.ctl("stats", "--campaign", "spring", "--message", "a", "--csv",
                      "--from", str(now - 3600), "--to", str(now),
                      redis_url=redis_server.url).stdout.splitlines()
    assert hours[-1].endswith(",1,1,1,0,89.95")

    bad = tally.ctl("stats", "--campaign", "spring", "--message", "no:colon",
                    redis_url=redis_server.url, check=False)
    assert bad.returncode == 2
    assert "--message" in bad.stderr
