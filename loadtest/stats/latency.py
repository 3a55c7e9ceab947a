"""Stats API latency for a campaign with a million events.

Starts a private redis-server (unix socket) and tallyd (loopback), sends a
few hundred real events through tallyd so that every key has its real
shape. It then raises the campaign's counters to one million events
spread over 31 days of hourly keys (the campaign's and each message's),
4 messages and 60 links, counts 40,000 emails as sent (dense
HyperLogLogs, as after a real send), and fills the recent-conversions
list. It then requests each stats endpoint a fixed number of times over
one keep-alive connection and reports the client round trip (p50, p99)
and the server-side time from tallyd's own tally_http_response_seconds
histogram.

With --busy N it also runs N CPU-bound processes (shell loops, stopped
after --busy-seconds at the latest) during the measurement, so that the
2 cores are contended as when builds and tests run beside tallyd.

    /usr/bin/python3 loadtest/stats/latency.py [--busy N]   (after make)
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from conftest import RedisServer, Tallyd, path_of  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

CAMPAIGN = "million"
EVENTS = 1_000_000
HOURS = 31 * 24
REQUESTS = 200
SENT = 40_000


def seed_real(tally):
    for reader in range(50):
        email = f"r{reader}@example.com"
        message = "abcd"[reader % 4]
        tally.request("GET", path_of(tally.open_url(CAMPAIGN, message, email)))
        status, headers, _ = tally.request("GET", path_of(tally.click_url(
            CAMPAIGN, message, email, "https://shop.example/", link=reader % 60)))
        tly = headers["location"].split("tly=")[1]
        tally.beacon({"type": "checkout", "order_id": f"o{reader}", "revenue": "12.50",
                      "currency": "EUR", "token": tly})
    time.sleep(1)


def scale_up(client):
    """Adds counters for EVENTS events: 70 % opens, 25 % clicks, 5 % orders."""
    now = int(time.time())
    first = now - now % 3600 - (HOURS - 1) * 3600
    per_hour = EVENTS // HOURS
    pipe = client.pipeline(transaction=False)
    for i in range(HOURS):
        hour = time.strftime("%Y%m%d%H", time.gmtime(first + i * 3600))
        keys = [(f"c:{{{CAMPAIGN}}}:h:{hour}", 1)]
        keys += [(f"c:{{{CAMPAIGN}}}:m:{m}:h:{hour}", 4) for m in "abcd"]
        for key, share in keys:
            events = per_hour // share
            pipe.hincrby(key, "opens", events * 70 // 100)
            pipe.hincrby(key, "opens:human", events * 50 // 100)
            pipe.hincrby(key, "opens:privacy_proxy", events * 20 // 100)
            pipe.hincrby(key, "clicks", events * 25 // 100)
            pipe.hincrby(key, "clicks:human", events * 24 // 100)
            pipe.hincrby(key, "clicks:scanner", events * 1 // 100)
            pipe.hincrby(key, "conversions", events * 5 // 100)
            pipe.hincrby(key, "cross_device_conversions", events * 2 // 100)
            pipe.hincrby(key, "revenue:EUR", events * 5 // 100 * 4990)
    for field, share in (("opens", 70), ("clicks", 25), ("conversions", 5)):
        pipe.hincrby(f"c:{{{CAMPAIGN}}}", field, EVENTS * share // 100)
        for m in "abcd":
            pipe.hincrby(f"c:{{{CAMPAIGN}}}:m:{m}", field, EVENTS * share // 400)
    for link in range(60):
        pipe.hincrby(f"c:{{{CAMPAIGN}}}:l", f"{'abcd'[link % 4]}:{link}", EVENTS // 4 // 60)
    for m in "abcd":
        readers = [f"{m}{i:06d}" for i in range(SENT // 4)]
        pipe.pfadd(f"c:{{{CAMPAIGN}}}:m:{m}:sent", *readers)
        pipe.pfadd(f"c:{{{CAMPAIGN}}}:sent", *[f"{m}|{r}" for r in readers])
    entry = client.lindex(f"c:{{{CAMPAIGN}}}:r", 0)
    for _ in range(100):
        pipe.lpush(f"c:{{{CAMPAIGN}}}:r", entry)
    pipe.ltrim(f"c:{{{CAMPAIGN}}}:r", 0, 99)
    pipe.execute()


def measure(port, token, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    size = 0
    for _ in range(REQUESTS):
        start = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - start)
        assert response.status == 200, body
        size = len(body)
    conn.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1], size


def server_side(tally):
    """Returns {route: (sum of seconds, count, count under 10 ms)} of
    tallyd's tally_http_response_seconds histogram."""
    _, _, body = tally.request("GET", "/metrics")
    result = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name != "tally_http_response_seconds":
            continue
        sums = {s.labels["route"]: s.value for s in family.samples if s.name.endswith("_sum")}
        counts = {s.labels["route"]: s.value for s in family.samples if s.name.endswith("_count")}
        buckets = [s for s in family.samples if s.name.endswith("_bucket")]
        for route, count in counts.items():
            under_10ms = next(s.value for s in buckets if s.labels["route"] == route
                              and s.labels["le"] == "0.01")
            result[route] = (sums[route], count, under_10ms)
    return result


def start_busy(n, seconds):
    """Starts n CPU-bound shell loops that end by themselves after seconds."""
    return [subprocess.Popen(["timeout", str(seconds), "sh", "-c", "while :; do :; done"])
            for _ in range(n)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=0,
                        help="CPU-bound processes to run during the measurement")
    parser.add_argument("--busy-seconds", type=int, default=120,
                        help="maximum seconds the busy processes run")
    args = parser.parse_args()
    busy = []
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(directory)
        # All beacons come from 127.0.0.1, so the per-client limit is off.
        tally = Tallyd(directory, redis.url, ["--beacon-rate", "0"])
        try:
            seed_real(tally)
            scale_up(redis.client)
            total = sum(int(v) for k, v in redis.client.hgetall(f"c:{{{CAMPAIGN}}}").items()
                        if k in ("opens", "clicks", "conversions"))
            print(f"campaign {CAMPAIGN}: {total} events, {HOURS} hour keys, "
                  f"{redis.client.dbsize()} keys in Redis")
            now = int(time.time())
            full_range = f"from={now - (HOURS - 1) * 3600}&to={now}"
            paths = {
                "api_stats (744 h)": f"/v1/campaigns/{CAMPAIGN}/stats?{full_range}",
                "api_stats (message, 744 h)":
                    f"/v1/campaigns/{CAMPAIGN}/stats?message=a&{full_range}",
                "api_stats (48 h)": f"/v1/campaigns/{CAMPAIGN}/stats",
                "api_conversions (100)": f"/v1/campaigns/{CAMPAIGN}/conversions?limit=100",
                "api_campaigns": "/v1/campaigns",
            }
            busy = start_busy(args.busy, args.busy_seconds)
            for name, path in paths.items():
                route = name.split()[0]
                before = server_side(tally).get(route, (0, 0, 0))
                p50, p99, size = measure(tally.port, tally.read_token, path)
                after = server_side(tally)[route]
                seconds, count, under = (a - b for a, b in zip(after, before))
                print(f"{name:27} client p50 {p50 * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms"
                      f"  body {size} bytes  server mean {seconds / count * 1000:6.2f} ms"
                      f"  {under / count * 100:5.1f} % under 10 ms")
            print(json.dumps({"requests_per_path": REQUESTS, "busy": args.busy}))
        finally:
            for process in busy:
                process.terminate()
                process.wait(timeout=10)
            tally.stop()
            redis.stop()


if __name__ == "__main__":
    main()
