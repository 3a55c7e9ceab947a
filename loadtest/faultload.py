#!/usr/bin/python3
"""Bounded loopback load of pixels, clicks and checkouts for fault tests.

Sends a fixed list of requests to one tallyd on 127.0.0.1 at a fixed rate
from a few keep-alive connections, and records for every request whether
it was answered and whether the answer was right: the 43-byte GIF for a
pixel, a 302 to the signed destination for a click, 204 for a beacon. The
run ends when every request was sent or the deadline passed, whichever
comes first, so it always stops by itself.

The fault tests import it; as a program it prints a JSON summary:

    loadtest/faultload.py --port 8080 --keys keys.conf --requests 3000
"""
import argparse
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse

GIF_LENGTH = 43
DESTINATION = "https://shop.example/landing"
HOST = "127.0.0.1"  # loopback only: the generator takes no host argument


class Request:
    """One planned request and, after the run, its outcome."""

    __slots__ = ("index", "kind", "method", "path", "body", "order_id", "attributed",
                 "reader", "status", "correct", "error")

    def __init__(self, index, kind, method, path, body=None, order_id=None,
                 attributed=False, reader=None):
        self.index = index
        self.kind = kind  # "open", "click" or "checkout"
        self.reader = reader  # opens and clicks: the reader's number
        self.method = method
        self.path = path
        self.body = body
        self.order_id = order_id
        self.attributed = attributed
        self.status = None  # None: never answered
        self.correct = False
        self.error = None


def mint(tallyctl, keys, base, kind, campaign, reader):
    """Returns the path of a signed open or click URL for one reader."""
    cmd = [tallyctl, "--keys", keys, "url", kind, "--base", base, "--campaign", campaign,
           "--message", "a", "--email", f"reader{reader}@example.com"]
    if kind == "click":
        cmd += ["--to", DESTINATION]
    url = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return "/" + url.split("/", 3)[3]


def click_token(port, click_path):
    """Follows one click and returns the tly token of its redirect. The
    click is recorded like any other."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", click_path)
        resp = conn.getresponse()
        resp.read()
        query = urllib.parse.urlsplit(resp.getheader("Location")).query
        return urllib.parse.parse_qs(query)["tly"][0]
    finally:
        conn.close()


def build_plan(tallyctl, keys, port, requests, campaign="fault", readers=8, run_id="r"):
    """Mints URLs for a few readers and returns (plan, setup_clicks): a list
    of Request, about half pixels, a third clicks and the rest checkouts.
    Every tenth checkout repeats an earlier order id; half of the orders
    carry a click token and are credited to the campaign. The plan's
    tokens come from setup_clicks clicks, which tallyd records too."""
    base = f"http://{HOST}:{port}"
    opens = [mint(tallyctl, keys, base, "open", campaign, r) for r in range(readers)]
    clicks = [mint(tallyctl, keys, base, "click", campaign, r) for r in range(readers)]
    tokens = [click_token(port, clicks[r]) for r in range(2)]

    plan = []
    orders = []
    for i in range(requests):
        slot = i % 20
        if slot < 10:
            plan.append(Request(i, "open", "GET", opens[i % readers], reader=i % readers))
        elif slot < 16:
            plan.append(Request(i, "click", "GET", clicks[i % readers], reader=i % readers))
        else:
            if orders and len(orders) % 10 == 9:
                order_id, token = orders[len(orders) // 2]
            else:
                order_id = f"{run_id}-{i}"
                token = tokens[i % 2] if i % 2 == 0 else None
            orders.append((order_id, token))
            beacon = {"type": "checkout", "order_id": order_id, "revenue": "1.00",
                      "currency": "EUR"}
            if token is not None:
                beacon["token"] = token
            plan.append(Request(i, "checkout", "POST", "/b", json.dumps(beacon), order_id,
                                token is not None))
    return plan, len(tokens)


def _setup_readers(setup_clicks):
    """Readers whose click build_plan followed to get a token."""
    return set(range(setup_clicks))


def _answer_is_correct(req, status, headers, body):
    if req.kind == "open":
        return status == 200 and len(body) == GIF_LENGTH and body.startswith(b"GIF89a")
    if req.kind == "click":
        location = headers.get("location", "")
        return status == 302 and location.startswith(DESTINATION) and "tly=" in location
    return status == 204


class Load:
    """Runs a plan at rate requests per second over `connections` threads,
    stopping at the deadline (seconds from start). progress() returns how
    many requests have been taken so far."""

    def __init__(self, port, plan, rate=1500, connections=4, deadline=60):
        self.port = port
        self.plan = plan
        self.rate = rate
        self.connections = connections
        self.deadline = deadline
        self._next = 0
        self._lock = threading.Lock()
        self._threads = []
        self._start = None

    def progress(self):
        with self._lock:
            return self._next

    def start(self):
        self._start = time.monotonic()
        for _ in range(self.connections):
            t = threading.Thread(target=self._worker, daemon=True)
            t.start()
            self._threads.append(t)

    def wait(self):
        for t in self._threads:
            t.join(self.deadline + 15)
        return self.plan

    def run(self):
        self.start()
        return self.wait()

    def _take(self):
        """Returns the next request and its position in the plan, which
        sets when it is due."""
        with self._lock:
            if self._next >= len(self.plan):
                return None, 0
            position = self._next
            self._next += 1
            return self.plan[position], position

    def _worker(self):
        conn = None
        while True:
            req, position = self._take()
            if req is None:
                break
            due = self._start + position / self.rate
            now = time.monotonic()
            if now - self._start > self.deadline:
                req.error = "deadline"
                continue
            if due > now:
                time.sleep(due - now)
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            try:
                headers = {"Content-Type": "text/plain"} if req.body else {}
                conn.request(req.method, req.path, body=req.body, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                resp_headers = {k.lower(): v for k, v in resp.getheaders()}
                req.status = resp.status
                req.correct = _answer_is_correct(req, resp.status, resp_headers, body)
                if resp_headers.get("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                req.error = type(e).__name__
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


def _maybe_processed(req):
    """Tells whether an unanswered request may still have reached tallyd:
    it was sent, and the connection broke before the answer arrived."""
    return req.status is None and req.error not in (None, "deadline",
                                                    "ConnectionRefusedError")


def expected_counts(plan, setup_clicks=0, include_unanswered=False):
    """Counters that Redis must hold for the answered requests of plan.
    With include_unanswered, also counts the requests that may have reached
    tallyd without being answered: the upper bound after a crash."""
    answered = [r for r in plan if r.status is not None or
                (include_unanswered and _maybe_processed(r))]
    orders = {}
    for r in answered:
        if r.kind == "checkout" and r.order_id not in orders:
            orders[r.order_id] = r.attributed
    return {
        "opens": sum(1 for r in answered if r.kind == "open"),
        "unique_opens": len({r.reader for r in answered if r.kind == "open"}),
        "clicks": setup_clicks + sum(1 for r in answered if r.kind == "click"),
        "unique_clicks": len({r.reader for r in answered if r.kind == "click"} |
                             _setup_readers(setup_clicks)),
        "orders": len(orders),
        "conversions": sum(1 for attributed in orders.values() if attributed),
    }


def summary(plan):
    """Counts per kind: planned, answered, answered correctly, errors."""
    out = {}
    for r in plan:
        s = out.setdefault(r.kind, {"planned": 0, "answered": 0, "correct": 0, "errors": {}})
        s["planned"] += 1
        if r.status is not None:
            s["answered"] += 1
        if r.correct:
            s["correct"] += 1
        if r.error:
            s["errors"][r.error] = s["errors"].get(r.error, 0) + 1
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="tallyd's port on 127.0.0.1")
    parser.add_argument("--keys", required=True, help="tallyd's keys file, to mint URLs")
    parser.add_argument("--tallyctl", default=os.path.join(here, "../bin/tallyctl"))
    parser.add_argument("--requests", type=int, default=3000, help="requests to send")
    parser.add_argument("--rate", type=float, default=1500, help="requests per second")
    parser.add_argument("--deadline", type=float, default=60, help="seconds before stopping")
    args = parser.parse_args()
    if args.requests > 1_000_000:
        parser.error("--requests is limited to 1000000")

    plan, setup_clicks = build_plan(args.tallyctl, args.keys, args.port, args.requests,
                                    run_id=str(int(time.time())))
    Load(args.port, plan, args.rate, deadline=args.deadline).run()
    print(json.dumps({"summary": summary(plan),
                      "expected": expected_counts(plan, setup_clicks)}, indent=2))


if __name__ == "__main__":
    main()
