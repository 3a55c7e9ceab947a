"""The dashboard in headless Chromium after a generated campaign: thousands
of opens, clicks and orders across three campaigns and several devices,
sent through the real tallyd. The page must show the numbers of the API
and of redis-cli, load nothing from elsewhere and log no console error."""
import http.client
import json
import os
import random
import subprocess
import time
import urllib.parse

import pytest

from integration_conftest import Tallyd, email_sha256, path_of, wait_until

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SCREENSHOT = os.path.join(ROOT, "build", "dashboard.png")
CAMPAIGNS = ("autumn", "spring", "summer")
READERS = 20
OPENS_PER_READER = 40
CLICKS_PER_READER = 10
DEADLINE_SECONDS = 60
SIGN_TOKEN = "5" * 64
AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
              "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.0 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
               "(KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "proxy": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
             "(via ggpht.com GoogleImageProxy)",
}


class Client:
    """One keep-alive connection to tallyd."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, path, agent):
        self.conn.request("GET", path, headers={"User-Agent": agent})
        response = self.conn.getresponse()
        response.read()
        return response

    def post(self, body, agent):
        self.conn.request("POST", "/b", body=json.dumps(body),
                          headers={"Content-Type": "text/plain", "User-Agent": agent})
        response = self.conn.getresponse()
        response.read()
        assert response.status == 204


def generate(tally, rng):
    """Sends the generated traffic; returns the events sent per campaign."""
    client = Client(tally.port)
    sent = {c: {"opens": 0, "clicks": 0, "orders": 0} for c in CAMPAIGNS}
    deadline = time.monotonic() + DEADLINE_SECONDS
    order = 0
    for campaign in CAMPAIGNS:
        for reader in range(READERS):
            assert time.monotonic() < deadline, "traffic generation took too long"
            email = f"reader{reader}@example.com"
            message = "a" if reader % 2 == 0 else "b"
            pixel = path_of(tally.open_url(campaign, message, email))
            link = path_of(tally.click_url(campaign, message, email, "https://shop.example/p",
                                           link=reader % 3 + 1))
            for _ in range(OPENS_PER_READER):
                client.get(pixel, AGENTS[rng.choice(list(AGENTS))])
                sent[campaign]["opens"] += 1
            tly = None
            for _ in range(CLICKS_PER_READER):
                response = client.get(link, AGENTS[rng.choice(("mobile", "tablet"))])
                assert response.status == 302
                query = urllib.parse.urlsplit(response.getheader("Location")).query
                tly = urllib.parse.parse_qs(query)["tly"][0]
                sent[campaign]["clicks"] += 1
            order += 1
            if reader % 3 == 0:  # same device: the landing page kept the token
                client.post({"type": "checkout", "order_id": str(order), "revenue": "19.99",
                             "currency": "EUR", "token": tly}, AGENTS["mobile"])
            elif reader % 3 == 1:  # cross-device: a guest checkout on a laptop
                client.post({"type": "checkout", "order_id": str(order), "revenue": "45.50",
                             "currency": "EUR", "email_sha256": email_sha256(email)},
                            AGENTS["desktop"])
            else:
                continue
            sent[campaign]["orders"] += 1
    return sent


@pytest.fixture
def tally(tmp_path, redis_server):
    """tallyd with a sign token too, to mint the emails that count as sent."""
    server = Tallyd(str(tmp_path), redis_server.url,
                    extra_keys=f"api_token.mailer = sign {SIGN_TOKEN}\n")
    yield server
    server.stop()


def mint(tally, campaign, message, emails):
    """Mints the emails of one message with POST /v1/sign, as a mailer does."""
    status, _, body = tally.request(
        "POST", "/v1/sign",
        body=json.dumps({"campaign": campaign, "message": message,
                         "destinations": ["https://shop.example/p"],
                         "recipients": [{"email": e} for e in emails]}),
        headers={"Authorization": f"Bearer {SIGN_TOKEN}",
                 "Content-Type": "application/json"})
    assert status == 200, body


def redis_cli(redis_server, *args):
    out = subprocess.run(["redis-cli", "-s", redis_server.socket, *args],
                         capture_output=True, text=True, check=True, timeout=10)
    return out.stdout.strip()


def api(tally, path):
    status, _, body = tally.request("GET", path, headers={
        "Authorization": f"Bearer {tally.read_token}"})
    assert status == 200, body
    return json.loads(body)


def send_campaigns(tally, redis_server, seed, quiet):
    """Mints spring's emails (message a to the even readers, b to the odd
    ones, plus quiet readers per message who never open), sends the
    generated traffic and waits until Redis has every order. Returns the
    events sent per campaign."""
    for message, parity in (("a", 0), ("b", 1)):
        mint(tally, "spring", message,
             [f"reader{r}@example.com" for r in range(READERS) if r % 2 == parity]
             + [f"quiet{r}-{message}@example.com" for r in range(quiet)])
    sent = generate(tally, random.Random(seed))
    for campaign in CAMPAIGNS:
        wait_until(lambda: redis_cli(redis_server, "HGET", f"c:{{{campaign}}}", "conversions")
                   == str(sent[campaign]["orders"]), f"orders of {campaign} written",
                   seconds=20)
    return sent


def load_dashboard(tally, message):
    """Runs dashboard.mjs on spring, then on its message; returns what the
    page showed."""
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "dashboard.mjs"),
                          tally.base, tally.read_token, "spring", SCREENSHOT, message],
                         capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_dashboard_matches_api_and_redis(tally, redis_server):
    sent = send_campaigns(tally, redis_server, seed=7, quiet=15)
    assert sum(s["opens"] + s["clicks"] + s["orders"] for s in sent.values()) >= 3000
    page = load_dashboard(tally, "b")

    assert page["problems"] == []
    assert page["title"] == "Campaign spring"
    assert page["stored"] == ["tally.token"] and page["kept"] == []
    assert page["charts"] == 2

    totals = api(tally, "/v1/campaigns/spring/stats")["totals"]["counters"]
    for field in ("opens", "unique_opens", "clicks", "unique_clicks", "conversions",
                  "cross_device_conversions"):
        in_redis = int(redis_cli(redis_server, "HGET", "c:{spring}", field) or 0)
        assert int(page["cards"][field]) == totals[field] == in_redis, field
    assert totals["opens"] == sent["spring"]["opens"]
    assert totals["clicks"] == sent["spring"]["clicks"]
    assert totals["conversions"] == sent["spring"]["orders"]
    revenue = redis_cli(redis_server, "HGET", "c:{spring}", "revenue:EUR")
    assert page["cards"]["revenue:EUR"] == f"{int(revenue) / 100:.2f} EUR"
    # Counters split by verdict get readable names, not their field names.
    assert page["cardLabels"]["opens:human"] == "Opens: people"
    for field, label in page["cardLabels"].items():
        assert "_" not in label, (field, label)

    in_redis = int(redis_cli(redis_server, "PFCOUNT", "c:{spring}:sent"))
    assert int(page["funnel"]["funnel-sent"]) == totals["sent"] == in_redis
    assert int(page["cards"]["sent"]) == in_redis
    messages = {m["message"]: m for m in api(tally, "/v1/campaigns/spring/stats")["messages"]}
    for message in ("a", "b"):
        in_redis = int(redis_cli(redis_server, "PFCOUNT", f"c:{{spring}}:m:{message}:sent"))
        assert int(page["messageSent"][message]) == \
            messages[message]["counters"]["sent"] == in_redis, message
    assert int(page["funnel"]["funnel-opens"]) == totals["unique_opens"]
    assert int(page["funnel"]["funnel-clicks"]) == totals["unique_clicks"]
    assert int(page["funnel"]["funnel-orders"]) == totals["conversions"]
    assert int(page["devices"]["cross-device"]) == totals["cross_device_conversions"]
    assert int(page["devices"]["same-device"]) == \
        totals["conversions"] - totals["cross_device_conversions"]
    assert page["journeys"] == min(20, sent["spring"]["orders"])
    assert page["touches"] > page["journeys"]
    assert os.path.getsize(SCREENSHOT) > 10000


def hourly_sums(hourly):
    """Returns the sums of the hourly opens, clicks and orders as the
    chart containers keep them (strings)."""
    counters = hourly["counters"]
    return {"opens": str(sum(counters["opens"])), "clicks": str(sum(counters["clicks"])),
            "orders": str(sum(counters["conversions"]))}


def test_dashboard_shows_one_message(tally, redis_server):
    """Picking message b shows b's own totals and hourly charts, as the API
    and redis-cli have them, next to the table of both messages."""
    send_campaigns(tally, redis_server, seed=11, quiet=0)
    page = load_dashboard(tally, "b")
    picked = page["message"]
    assert page["problems"] == []

    now = int(time.time())
    query = f"from={now - 47 * 3600}&to={now}"
    campaign = api(tally, f"/v1/campaigns/spring/stats?{query}")
    one = api(tally, f"/v1/campaigns/spring/stats?message=b&{query}")
    assert picked["title"] == "Campaign spring · message b"
    assert picked["selected"] == ["b"]
    for field in ("opens", "unique_opens", "clicks", "unique_clicks", "conversions",
                  "cross_device_conversions", "sent"):
        in_redis = int(redis_cli(redis_server, "HGET", "c:{spring}:m:b", field) or 0) \
            if field != "sent" else int(redis_cli(redis_server, "PFCOUNT", "c:{spring}:m:b:sent"))
        assert int(picked["cards"][field]) == one["totals"]["counters"][field] == in_redis, field
    assert int(picked["cards"]["conversions"]) < int(page["cards"]["conversions"])
    assert int(picked["funnel"]["funnel-orders"]) == one["totals"]["counters"]["conversions"]

    assert page["chartSums"] == {**hourly_sums(campaign["hourly"]), "revenue": page["chartSums"]["revenue"]}
    assert {k: picked["chartSums"][k] for k in ("opens", "clicks", "orders")} == \
        hourly_sums(one["hourly"])
    hour = now - now % 3600
    opens_b = sum(int(redis_cli(redis_server, "HGET",
                                time.strftime("c:{spring}:m:b:h:%Y%m%d%H",
                                              time.gmtime(hour - h * 3600)), "opens") or 0)
                  for h in range(3))
    assert int(picked["chartSums"]["opens"]) == opens_b == one["totals"]["counters"]["opens"]

    for message in ("a", "b"):
        in_redis = redis_cli(redis_server, "HGET", f"c:{{spring}}:m:{message}", "conversions")
        assert picked["messageOrders"][message] == in_redis, message
    assert picked["journeyMessages"]
    assert set(picked["journeyMessages"]) == {"b"}
