#!/usr/bin/python3
"""Ground-truth simulation of attribution through the real tallyd and Redis.

Generates readers, their phones and laptops, logins, guest checkouts,
strangers, shared tablets, placeholder ids, repeated beacons, server-side
confirmations and refunds. Drives them through a private tallyd and
redis-server on loopback and unix sockets. Then reads every order's
decision record from Redis and compares it with the truth the simulation
kept. It reports precision and recall of attribution, orders credited to a
campaign the buyer never touched, and whether campaign revenue equals the
expected net revenue exactly.

    /usr/bin/python3 loadtest/attribution_sim.py --orders 10000

The run is bounded: --orders caps the work and --max-seconds the time;
every wait has a deadline, and the servers it starts are stopped at exit.
Exit status 0 only when precision and recall are 100%, nothing is credited
to an untouched campaign and every total matches.
"""
import argparse
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import redis as redis_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TALLY_BIN", os.path.join(ROOT, "bin"))
SHOP = "default"
SHOP_SECRET = "3c" * 32
CAMPAIGNS = [f"camp{i}" for i in range(8)]
MAX_READERS = 3

# Share of orders per journey; the rest are plain token checkouts.
JOURNEYS = [
    ("token", 0.20),        # same device, tly kept by the snippet
    ("device", 0.15),       # same phone later, no token: device link
    ("customer", 0.15),     # click on phone while logged in, buy on laptop
    ("email", 0.12),        # guest checkout on laptop with the same address
    ("two_clicks", 0.08),   # two campaigns clicked; last click wins
    ("open_only", 0.05),    # opened, never clicked: not attributable
    ("stranger", 0.12),     # never saw an email
    ("placeholder", 0.05),  # stranger logged in as "guest"
    ("shared", 0.04),       # stranger on a tablet shared by 4 readers
    ("shared_email", 0.04), # a tablet reader who also gives the email
]


def log(msg):
    print(msg, flush=True)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise SystemExit(f"attribution_sim: out of time during {what}")


def wait_until(predicate, what, deadline, seconds=120):
    end = min(time.monotonic() + seconds, deadline.end)
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"attribution_sim: timed out waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def email_sha256(address):
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


class Client(threading.local):
    """One keep-alive connection per thread."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, resp.getheader("Location"), data
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


class Sim:
    def __init__(self, args, workdir):
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = workdir
        self.deadline = Deadline(args.max_seconds)
        self.procs = []
        self.orders = {}       # order id -> dict(truth, touched, revenue, refunded)
        self.clicks_sent = 0
        self.refunds_expected = 0
        self.lock = threading.Lock()

    # ---- servers --------------------------------------------------------

    def start(self):
        sock = os.path.join(self.workdir, "redis.sock")
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", sock, "--dir", self.workdir,
             "--save", "", "--appendonly", "no", "--logfile",
             os.path.join(self.workdir, "redis.log")]))
        self.redis = redis_client.Redis(unix_socket_path=sock, decode_responses=True)
        wait_until(self._pings, "redis-server", self.deadline, 10)

        self.keys = os.path.join(self.workdir, "keys.conf")
        with open(self.keys, "w") as f:
            subprocess.run([os.path.join(BIN, "tallyctl"), "keygen"], stdout=f, check=True)
            f.write(f"shop_secret.{SHOP} = {SHOP_SECRET}\n")
        self.reader_secret = None
        for line in open(self.keys):
            if line.startswith("reader_secret"):
                self.reader_secret = bytes.fromhex(line.split("=")[1].strip())
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tallyd_log = open(os.path.join(self.workdir, "tallyd.log"), "w")
        self.procs.append(subprocess.Popen(
            [os.path.join(BIN, "tallyd"), "--listen", f"127.0.0.1:{self.port}",
             "--redis", "unix://" + sock, "--keys", self.keys, "--threads", "2",
             "--max-readers-per-identifier", str(MAX_READERS), "--log-level", "warn"],
            stdout=self.tallyd_log, stderr=subprocess.STDOUT))
        self.client = Client(self.port)
        wait_until(self._healthy, "tallyd", self.deadline, 10)

    def _pings(self):
        try:
            return self.redis.ping()
        except redis_client.exceptions.ConnectionError:
            return False

    def _healthy(self):
        try:
            return self.client.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()

    # ---- helpers ----------------------------------------------------------

    def run_all(self, jobs, what):
        """Runs callables on 4 threads; every one must succeed."""
        self.deadline.check(what)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for result in pool.map(lambda job: job(), jobs):
                if result is False:
                    raise SystemExit(f"attribution_sim: a request failed during {what}")

    def mint_click(self, campaign, email):
        out = subprocess.run(
            [os.path.join(BIN, "tallyctl"), "--keys", self.keys, "url", "click",
             "--base", self.base, "--campaign", campaign, "--message", "m", "--email",
             email, "--to", "https://shop.example/p"],
            capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def mint_open(self, campaign, email):
        out = subprocess.run(
            [os.path.join(BIN, "tallyctl"), "--keys", self.keys, "url", "open",
             "--base", self.base, "--campaign", campaign, "--message", "m", "--email",
             email], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def click(self, url):
        status, location, _ = self.client.request("GET", "/" + url.split("/", 3)[3])
        if status != 302:
            return None
        return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["tly"][0]

    def beacon(self, body):
        status, _, _ = self.client.request("POST", "/b", body=json.dumps(body),
                                           headers={"Content-Type": "text/plain"})
        return status == 204

    def conversion(self, body):
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        mac = hmac.new(bytes.fromhex(SHOP_SECRET), ts.encode() + b"." + raw,
                       hashlib.sha256).hexdigest()
        status, _, _ = self.client.request(
            "POST", "/v1/conversions", body=raw,
            headers={"Content-Type": "application/json", "X-Tally-Timestamp": ts,
                     "X-Tally-Signature": "sha256=" + mac})
        return status == 204

    def link_key(self, prefix, label, ident):
        msg = label + b"\0" + SHOP.encode() + b"\0" + ident.encode()
        return prefix + ":{" + hmac.new(self.reader_secret, msg,
                                        hashlib.sha256).digest()[:12].hex() + "}"

    # ---- the simulation --------------------------------------------------

    def plan(self):
        """Assigns a journey to each order and creates its people."""
        plans = []
        n = self.args.orders
        counts = {name: int(share * n) for name, share in JOURNEYS}
        counts["token"] += n - sum(counts.values())
        tablets = []
        for name, count in counts.items():
            for i in range(count):
                p = {"journey": name, "order": f"{name}-{i}",
                     "email": f"{name}.{i}@sim.example",
                     "customer": f"cust-{name}-{i}",
                     "phone": f"phone-{name}-{i:08d}", "laptop": f"laptop-{name}-{i:08d}",
                     "campaigns": [self.rng.choice(CAMPAIGNS)],
                     "revenue": self.rng.randint(100, 50000)}
                if name == "two_clicks":
                    p["campaigns"].append(self.rng.choice(
                        [c for c in CAMPAIGNS if c != p["campaigns"][0]]))
                if name in ("shared", "shared_email"):
                    if not tablets or len(tablets[-1]) == MAX_READERS + 1:
                        tablets.append([])
                    p["tablet"] = f"tablet-{len(tablets):012d}"
                    tablets[-1].append(p)
                plans.append(p)
        # The tablet's readers: each group of 4 people links 4 readers.
        for group in tablets:
            for p in group:
                p["tablet_readers"] = [q["email"] for q in group]
        self.rng.shuffle(plans)
        return plans

    def touches(self, plans):
        """Phase 1: clicks and opens; the second click of two_clicks waits a
        second so that 'last' is well defined at Redis's 1 s resolution."""
        jobs, second = [], []
        for p in plans:
            j = p["journey"]
            if j in ("stranger", "placeholder", "shared"):
                p["touched"] = set()
                continue
            if j == "open_only":
                p["touched"] = {p["campaigns"][0]}
                jobs.append(lambda p=p: self.do_open(p))
                continue
            p["touched"] = set(p["campaigns"])
            jobs.append(lambda p=p: self.do_click(p, 0))
            if j == "two_clicks":
                second.append(lambda p=p: self.do_click(p, 1))
        # Readers behind a shared tablet click too (they are real readers).
        self.run_all(jobs, "clicks and opens")
        time.sleep(1.1)
        self.run_all(second, "second clicks")
        wait_until(lambda: self.total("clicks") == self.clicks_sent, "clicks in Redis",
                   self.deadline)

    def do_click(self, p, index):
        url = self.mint_click(p["campaigns"][index], p["email"])
        tly = self.click(url)
        if tly is None:
            return False
        p.setdefault("tly", []).append(tly)
        with self.lock:
            self.clicks_sent += 1
        return True

    def do_open(self, p):
        url = self.mint_open(p["campaigns"][0], p["email"])
        return self.client.request("GET", "/" + url.split("/", 3)[3])[0] == 200

    def total(self, field):
        return sum(int(self.redis.hget(f"c:{{{c}}}", field) or 0) for c in CAMPAIGNS)

    def identities(self, plans):
        """Phase 2: identify beacons that build device and customer links,
        and the placeholder and tablet links that must never be used."""
        jobs, expected = [], []
        for p in plans:
            j = p["journey"]
            tly = p.get("tly", [None])[-1]
            if j == "device":
                jobs.append(lambda p=p, t=tly: self.beacon(
                    {"type": "identify", "token": t, "device_id": p["phone"]}))
                expected.append(self.link_key("d", b"tally/device/v1", p["phone"]))
            elif j == "customer":
                jobs.append(lambda p=p, t=tly: self.beacon(
                    {"type": "identify", "token": t, "customer_id": p["customer"]}))
                expected.append(self.link_key("k", b"tally/customer/v1", p["customer"]))
            elif j == "placeholder":
                # A real reader logs in as "guest": the link must be refused.
                jobs.append(lambda p=p: self.placeholder_reader(p))
            elif j == "shared_email":
                jobs.append(lambda p=p, t=tly: self.beacon(
                    {"type": "identify", "token": t, "device_id": p["tablet"]}))
        self.run_all(jobs, "identifies")
        wait_until(lambda: all(self.redis.exists(*expected[i:i + 500]) ==
                               len(expected[i:i + 500])
                               for i in range(0, len(expected), 500)),
                   "identity links in Redis", self.deadline)

    def placeholder_reader(self, p):
        url = self.mint_click(self.rng.choice(CAMPAIGNS), "guest." + p["email"])
        tly = self.click(url)
        with self.lock:
            self.clicks_sent += 1
        return tly is not None and self.beacon(
            {"type": "identify", "token": tly, "customer_id": "Guest"})

    def tablets(self, plans):
        """Link MAX_READERS + 1 readers to each tablet, so it is shared."""
        jobs = []
        groups = {}
        for p in plans:
            if "tablet" in p:
                groups.setdefault(p["tablet"], p["tablet_readers"])
        for tablet, emails in groups.items():
            for k in range(MAX_READERS + 1):
                jobs.append(lambda t=tablet, k=k: self.tablet_reader(t, k))
        self.run_all(jobs, "tablet links")
        wait_until(lambda: self.total("clicks") == self.clicks_sent, "tablet clicks",
                   self.deadline)
        wait_until(lambda: self.redis.scard(f"s:{{{SHOP}}}:shared") >= len(groups),
                   "shared tablets", self.deadline)

    def tablet_reader(self, tablet, k):
        url = self.mint_click(CAMPAIGNS[k % len(CAMPAIGNS)], f"tablet{k}.{tablet}@sim.example")
        tly = self.click(url)
        with self.lock:
            self.clicks_sent += 1
        return tly is not None and self.beacon(
            {"type": "identify", "token": tly, "device_id": tablet})

    def checkout_body(self, p):
        j = p["journey"]
        body = {"type": "checkout", "order_id": p["order"], "currency": "EUR",
                "revenue": f"{p['revenue'] // 100}.{p['revenue'] % 100:02d}"}
        if j == "token":
            body["token"] = p["tly"][-1]
            body["device_id"] = p["phone"]
        elif j == "device":
            body["device_id"] = p["phone"]
        elif j == "customer":
            body["customer_id"] = p["customer"]
            body["device_id"] = p["laptop"]
        elif j in ("email", "two_clicks", "open_only"):
            body["email_sha256"] = email_sha256(p["email"])
        elif j == "stranger":
            body["email_sha256"] = email_sha256(p["email"])
            body["customer_id"] = p["customer"]
        elif j == "placeholder":
            body["customer_id"] = "guest"
            body["email_sha256"] = email_sha256("")
        elif j == "shared":
            body["device_id"] = p["tablet"]
        elif j == "shared_email":
            body["device_id"] = p["tablet"]
            body["email_sha256"] = email_sha256(p["email"])
        return body

    def truth(self, p):
        """The campaign last_click must credit, or None."""
        if p["journey"] in ("stranger", "placeholder", "shared", "open_only"):
            return None
        return p["campaigns"][-1]

    def checkouts(self, plans):
        """Phase 3: checkouts, some repeated, some also confirmed by the
        shop's backend (before or after the browser)."""
        jobs = []
        for p in plans:
            body = self.checkout_body(p)
            p["verified"] = self.rng.random() < 0.10
            repeats = 1 + (self.rng.random() < 0.15) * self.rng.randint(1, 2)
            self.orders[p["order"]] = p
            for _ in range(repeats):
                jobs.append(lambda b=body: self.beacon(b))
            if p["verified"]:
                jobs.append(lambda b=body: self.conversion(b))
        self.rng.shuffle(jobs)
        self.run_all(jobs, "checkouts")
        n = len(plans)
        wait_until(lambda: int(self.redis.hget(f"s:{{{SHOP}}}", "orders") or 0) == n,
                   "order claims", self.deadline)
        credited = sum(1 for p in plans if self.truth(p) is not None)
        wait_until(lambda: self.total("conversions") >= credited, "campaign credits",
                   self.deadline)
        verified = sum(p["verified"] for p in plans)
        wait_until(lambda: int(self.redis.hget(f"s:{{{SHOP}}}", "verified_orders") or 0)
                   == verified, "verifications", self.deadline)

    def refunds(self, plans):
        """Phase 4: refunds of about 8% of orders, partial or full, each sent
        up to three times."""
        jobs = []
        for p in plans:
            p["refunded"] = 0
            if self.rng.random() >= 0.08:
                continue
            bodies = []
            if self.rng.random() < 0.5:
                part = self.rng.randint(1, p["revenue"])
                bodies.append({"type": "refund", "order_id": p["order"], "currency": "EUR",
                               "amount": f"{part // 100}.{part % 100:02d}",
                               "refund_id": "r1"})
                p["refunded"] = part
            else:
                bodies.append({"type": "refund", "order_id": p["order"], "currency": "EUR"})
                p["refunded"] = p["revenue"]
            self.refunds_expected += 1
            for body in bodies:
                for _ in range(self.rng.randint(1, 3)):
                    jobs.append(lambda b=body: self.beacon(b))
        self.rng.shuffle(jobs)
        self.run_all(jobs, "refunds")
        wait_until(lambda: int(self.redis.hget(f"s:{{{SHOP}}}", "refunds") or 0)
                   == self.refunds_expected, "refunds", self.deadline)
        expected = sum(p["refunded"] for p in plans if self.truth(p) is not None)
        wait_until(lambda: self.total("refunded:EUR") == expected, "campaign refunds",
                   self.deadline)

    # ---- scoring --------------------------------------------------------

    def score(self, plans):
        pipe = self.redis.pipeline()
        for p in plans:
            pipe.hmget(f"o:{{{SHOP}}}:{p['order']}", "campaign", "path", "verified")
        records = pipe.execute()

        credited = correct = resolvable = untouched = 0
        by_journey = {}
        for p, (campaign, path, verified) in zip(plans, records):
            truth = self.truth(p)
            stats = by_journey.setdefault(p["journey"], [0, 0, 0])
            stats[0] += 1
            if truth is not None:
                resolvable += 1
            if campaign:
                credited += 1
                stats[1] += 1
                if campaign == truth:
                    correct += 1
                    stats[2] += 1
                if campaign not in p["touched"]:
                    untouched += 1

        expected_revenue = {c: 0 for c in CAMPAIGNS}
        expected_conversions = {c: 0 for c in CAMPAIGNS}
        for p in plans:
            truth = self.truth(p)
            if truth is not None:
                expected_revenue[truth] += p["revenue"] - p["refunded"]
                expected_conversions[truth] += 1
        revenue_ok = all(int(self.redis.hget(f"c:{{{c}}}", "revenue:EUR") or 0)
                         == expected_revenue[c] for c in CAMPAIGNS)
        conversions_ok = all(int(self.redis.hget(f"c:{{{c}}}", "conversions") or 0)
                             == expected_conversions[c] for c in CAMPAIGNS)
        shop = self.redis.hgetall(f"s:{{{SHOP}}}")
        shop_revenue = sum(p["revenue"] - p["refunded"] for p in plans)
        verified = sum(p["verified"] for p in plans)

        precision = correct / credited if credited else 1.0
        recall = correct / resolvable if resolvable else 1.0
        result = {
            "orders": len(plans), "resolvable": resolvable, "credited": credited,
            "correct": correct, "precision": round(precision * 100, 3),
            "recall": round(recall * 100, 3),
            "credited_to_untouched_campaign": untouched,
            "campaign_revenue_exact": revenue_ok,
            "campaign_conversions_exact": conversions_ok,
            "shop_orders": int(shop.get("orders", 0)),
            "shop_revenue_exact": int(shop.get("revenue:EUR", 0)) == shop_revenue,
            "verified_orders": int(shop.get("verified_orders", 0)),
            "verified_expected": verified,
            "refunds": int(shop.get("refunds", 0)),
            "ignored_placeholder": int(shop.get("ignored_placeholder", 0)),
            "ignored_shared": int(shop.get("ignored_shared", 0)),
            "shared_identifiers": self.redis.scard(f"s:{{{SHOP}}}:shared"),
            "by_journey": {j: {"orders": s[0], "credited": s[1], "correct": s[2]}
                           for j, s in sorted(by_journey.items())},
        }
        ok = (precision == 1.0 and recall == 1.0 and untouched == 0 and revenue_ok and
              conversions_ok and result["shop_revenue_exact"] and
              result["shop_orders"] == len(plans) and verified == result["verified_orders"])
        return result, ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10000,
                        help="orders to simulate (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--max-seconds", type=float, default=600,
                        help="give up after this many seconds (default 600)")
    args = parser.parse_args()
    if not 10 <= args.orders <= 200000:
        parser.error("--orders must be 10 to 200000")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tally-sim-") as workdir:
        sim = Sim(args, workdir)
        try:
            sim.start()
            plans = sim.plan()
            log(f"simulating {len(plans)} orders")
            sim.touches(plans)
            log(f"touches done: {sim.clicks_sent} clicks")
            sim.identities(plans)
            sim.tablets(plans)
            log("identities done")
            sim.checkouts(plans)
            log("checkouts done")
            sim.refunds(plans)
            log("refunds done")
            result, ok = sim.score(plans)
        finally:
            sim.stop()
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
