#!/usr/bin/python3
"""Benchmark tallyd against nginx serving a static GIF (make bench).

Starts a private redis-server, on loopback and unix sockets only. Then, for
each worker count (1, then 2) and each scenario (pixel, click, beacon), it
runs nginx and tallyd in alternation (A B A B ...) under wrk with equal
connections and duration. Each server is started fresh for each run and
stopped after it.

After every tallyd run it checks that no event was lost: tallyd's own
counts (logged when a worker stops) of events recorded in Redis and of
events left in its journal must add up to between wrk's count of answered
requests and that count plus the number of connections (wrk stops at its
deadline with up to one request per connection in flight, which tallyd may
still answer and record). The increase of the campaign or shop counter in
Redis must lie between the recorded count and that count plus the
journaled one, since Redis may have applied a journaled event whose reply
was lost when tallyd closed the connection. Journaled events are replayed
when tallyd starts again; each run has its own state directory, so no run
replays an earlier one's journal.

It then measures the cost per event (tallyd and Redis CPU seconds, Redis
commands), the instructions per pixel request under callgrind, and Redis
memory per touchpoint after loading touchpoints through the store's own
Lua scripts (loadtest/touch_load.c).

Every wrk run is bounded by -d, every wait has a deadline, and every process
started here is stopped before exit.
"""
import argparse
import contextlib
import datetime
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis as redis_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TALLY_BIN", os.path.join(ROOT, "bin"))
WRK_SCRIPT = os.path.join(ROOT, "loadtest", "wrk", "tally.lua")
TOUCH_LOAD = os.environ.get("TALLY_TOUCH_LOAD",
                            os.path.join(ROOT, "build", "release", "loadtest", "touch_load"))
CAMPAIGN = "bench"
# The User-Agent of every request, as loadtest/wrk/tally.lua sends it.
USER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
              "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")
START_SECONDS = 10
DRAIN_SECONDS = 20

NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {prefix}/access.log combined buffer=64k flush=1s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location /o/ {{
            empty_gif;
            add_header Cache-Control "no-store, no-cache, must-revalidate, max-age=0";
            add_header Pragma no-cache;
            add_header X-Content-Type-Options nosniff;
        }}
        location /c/ {{
            add_header Cache-Control no-store;
            return 302 https://shop.example/p/42?tly=x;
        }}
        location = /b {{
            return 204;
        }}
    }}
}}
"""


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {seconds}s waiting for {what}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_process(proc, sig=signal.SIGTERM, seconds=DRAIN_SECONDS):
    """Signals proc and waits for it, and kills it after the deadline."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise RuntimeError(f"pid {proc.pid} did not stop within {seconds}s")


def process_cpu_seconds(pid):
    """Returns user + system CPU seconds of pid (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Redis:
    """A private redis-server on a unix socket, no persistence."""

    def __init__(self, directory):
        self.socket = os.path.join(directory, "redis.sock")
        self.url = "unix://" + self.socket
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket,
             "--unixsocketperm", "700", "--dir", directory, "--save", "",
             "--appendonly", "no", "--logfile", os.path.join(directory, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis_client.Redis(unix_socket_path=self.socket,
                                         decode_responses=True)
        self.hget_calls = 0
        wait_until(self._pings, "redis-server to start", START_SECONDS)

    def _pings(self):
        try:
            return self.client.ping()
        except redis_client.exceptions.ConnectionError:
            return False

    def cpu_seconds(self):
        return redis_cpu_seconds(self.client)

    def calls(self):
        """Returns the calls Redis has run so far, as INFO commandstats
        counts them: every command a client sent and every redis.call
        inside a script, less the commands this harness sends (INFO, PING,
        CONFIG, and HGET, which it counts itself)."""
        total = 0
        for name, stats in self.client.info("commandstats").items():
            command = name.split("_", 1)[1]
            calls = int(stats["calls"])
            if command == "hget":
                calls -= self.hget_calls
            if command not in ("info", "ping", "config"):
                total += calls
        return total

    def stop(self):
        stop_process(self.proc)


def redis_cpu_seconds(client):
    """Returns the CPU time, user and system, that the Redis behind client
    has used since it started."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@contextlib.contextmanager
def private_redis(prefix):
    """Yields a new temporary directory (named with prefix) and a Redis
    started in it. Stops that Redis and removes the directory on exit."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    redis = None
    try:
        redis = Redis(tmp)
        yield tmp, redis
    finally:
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def harness_after_first_events(prefix, args):
    """Yields a Bench on a private Redis (see private_redis) after one
    tallyd run with args.workers loops has made every reader's first
    args.scenario event, so that the runs that follow measure repeated
    events. Raises when that run fails its loss check."""
    with private_redis(prefix) as (tmp, redis):
        harness = Bench(args, tmp, redis)
        if not harness.run_tallyd(args.workers, args.scenario)["ok"]:
            raise RuntimeError("the first run's loss check failed (see the line above)")
        yield harness


# The email the bench mints its URLs from: five links to five products.
BENCH_TEMPLATE = "<html><body>" + "".join(
    f'<a href="https://shop.example/p/{n}?ref=mail">{n}</a>' for n in range(1, 6)) + \
    "</body></html>"


def mint_paths(keys, tmp, count, pixel_path, click_path):
    """Writes the pixel and click request targets of count readers, one
    line each per file: reader i gets message m(i % 4) and link 1 + i % 5.
    One `tallyctl rewrite --stream` per message mints them all, which takes
    seconds where one `tallyctl url` per URL would take minutes."""
    template = os.path.join(tmp, "bench.html")
    with open(template, "w") as f:
        f.write(BENCH_TEMPLATE)
    pixels, clicks = [None] * count, [None] * count
    for message in range(4):
        readers = list(range(message, count, 4))
        emails = "".join(f"reader{i}@example.com\n" for i in readers).encode()
        out = subprocess.run([os.path.join(BIN, "tallyctl"), "--keys", keys, "rewrite",
                              "--base", "http://127.0.0.1", "--campaign", CAMPAIGN,
                              "--message", f"m{message}", "--template", template,
                              "--stream"],
                             input=emails, capture_output=True, check=True, timeout=120).stdout
        pos = 0
        for number, i in enumerate(readers, 1):
            header_end = out.index(b"\n", pos)
            header = out[pos:header_end].split()
            if len(header) != 3 or header[0] != b"ok" or int(header[1]) != number:
                raise RuntimeError(f"tallyctl rewrite: record {number} (reader{i}) failed "
                                   f"or is out of order: {header}")
            length = int(header[2])
            html = out[header_end + 1:header_end + 1 + length].decode()
            pos = header_end + 1 + length + 1
            if out[pos - 1:pos] != b"\n":
                raise RuntimeError(f"tallyctl rewrite: record {number} (reader{i}) "
                                   "does not end with a newline")
            links = re.findall(r'href="http://127\.0\.0\.1(/c/[^"]+)"', html)
            pixel = re.search(r'src="http://127\.0\.0\.1(/o/[^"]+)"', html)
            if len(links) != 5 or pixel is None:
                raise RuntimeError(f"tallyctl rewrite: record {number} (reader{i}) has "
                                   f"{len(links)} click URLs and {0 if pixel is None else 1} "
                                   f"pixels, expected 5 and 1: {html}")
            pixels[i], clicks[i] = pixel.group(1), links[i % 5]
        if pos != len(out):
            raise RuntimeError(f"tallyctl rewrite: {len(out) - pos} bytes after the last record")
    for path, lines in ((pixel_path, pixels), (click_path, clicks)):
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in lines))


def run_wrk(port, workers, args, scenario, extra):
    """Runs one bounded wrk and returns the parsed BENCH line."""
    if scenario == "beacon":
        target, script_args = f"http://127.0.0.1:{port}/b", ["beacon"] + extra
    else:
        target, script_args = f"http://127.0.0.1:{port}/", ["paths"] + extra + [str(workers)]
    cmd = ["wrk", f"-t{workers}", f"-c{args.connections}", f"-d{args.duration}s",
           "-s", WRK_SCRIPT, target, "--"] + script_args
    res = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=args.duration + 30)
    m = re.search(r"^BENCH (.*)$", res.stdout, re.M)
    if res.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed: {res.stdout}{res.stderr}")
    out = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
    out["answered"] = int(out["requests"] - out["status_errors"])
    return out


class Bench:
    def __init__(self, args, tmp, redis):
        self.args = args
        self.tmp = tmp
        self.redis = redis
        self.keys = os.path.join(tmp, "keys.conf")
        with open(self.keys, "w") as f:
            subprocess.run([os.path.join(BIN, "tallyctl"), "keygen"], stdout=f,
                           check=True, timeout=10)
        os.chmod(self.keys, 0o600)
        self.paths = {scenario: os.path.join(tmp, scenario + ".paths")
                      for scenario in ("pixel", "click")}
        mint_paths(self.keys, tmp, args.tokens, self.paths["pixel"], self.paths["click"])
        self.run_id = 0

    # ---- counters in Redis ----------------------------------------------

    def counter(self, scenario, shop):
        if scenario == "beacon":
            key, field = "s:{" + shop + "}", "orders"
        else:
            key = "c:{" + CAMPAIGN + "}"
            field = "opens" if scenario == "pixel" else "clicks"
        self.redis.hget_calls += 1
        return int(self.redis.client.hget(key, field) or 0)

    # ---- one run of each server -----------------------------------------

    def run_nginx(self, workers, scenario):
        prefix = os.path.join(self.tmp, "nginx")
        shutil.rmtree(prefix, ignore_errors=True)
        os.makedirs(prefix)
        port = free_port()
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(workers=workers, prefix=prefix, port=port))
        proc = subprocess.Popen(["nginx", "-p", prefix, "-c", conf, "-e",
                                 os.path.join(prefix, "error.log")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: port_open(port), "nginx to listen", START_SECONDS)
            extra = self.wrk_extra(scenario)
            result = run_wrk(port, workers, self.args, scenario, extra)
        finally:
            stop_process(proc, signal.SIGQUIT)
        result["ok"] = True
        return result

    def wrk_extra(self, scenario):
        self.run_id += 1
        if scenario == "beacon":
            return ["bench" + str(self.run_id), "r" + str(self.run_id)]
        # tally.lua creates the second file once wrk's threads are ready.
        return [self.paths[scenario], self.ready_path(self.run_id)]

    def ready_path(self, run_id):
        """Returns the file that wrk creates once its threads are ready for
        the pixel or click run numbered run_id (see wrk_extra)."""
        return os.path.join(self.tmp, f"wrk-ready.{run_id}")

    def start_tallyd(self, workers, log_path, wrapper=(), extra=()):
        port = free_port()
        logf = open(log_path, "w")
        proc = subprocess.Popen(
            list(wrapper) + [os.path.join(BIN, "tallyd"), "--listen", f"127.0.0.1:{port}",
                             "--redis", self.redis.url, "--keys", self.keys,
                             "--threads", str(workers), "--log-level", "notice",
                             # One wrk client sends every beacon: no per-client limit.
                             "--beacon-rate", "0",
                             "--state-dir", tempfile.mkdtemp(prefix="state", dir=self.tmp)]
            + list(extra),
            stdout=logf, stderr=subprocess.STDOUT)
        logf.close()

        def healthy():
            if proc.poll() is not None:
                raise RuntimeError(f"tallyd exited; see {log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            except OSError:
                return False

        wait_until(healthy, "tallyd to serve /healthz",
                   START_SECONDS * (6 if wrapper else 1))
        return proc, port

    def run_tallyd(self, workers, scenario):
        extra = self.wrk_extra(scenario)
        shop = extra[0] if scenario == "beacon" else None
        before = self.counter(scenario, shop)
        redis_cpu = self.redis.cpu_seconds()
        calls = self.redis.calls()
        log_path = os.path.join(self.tmp, "tallyd.log")

        proc, port = self.start_tallyd(workers, log_path)
        try:
            cpu = process_cpu_seconds(proc.pid)
            result = run_wrk(port, workers, self.args, scenario, extra)
            cpu = process_cpu_seconds(proc.pid) - cpu
            load_ended = time.monotonic()
        finally:
            rc = stop_process(proc)
        stopped = parse_stopped(log_path)
        if rc != 0 or len(stopped) != workers:
            raise RuntimeError(f"tallyd exited with {rc}; see {log_path}")
        recorded = sum(s["events_written"] + s["events_replayed"] for s in stopped)
        failed = sum(s["events_failed"] for s in stopped)
        # Journaled and not replayed, or still in flight at the stop
        # deadline, which the store journals as it closes.
        journaled = sum(s["events_journaled"] - s["events_replayed"] + s["events_in_flight"]
                        for s in stopped)

        # tallyd drained its store before exiting, so this only waits for
        # Redis to apply what it has read; the deadline catches a loss.
        counted = before
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            counted = self.counter(scenario, shop) - before
            if counted >= recorded:
                break
            time.sleep(0.05)
        # tallyd responds before it writes, so Redis may still be applying
        # a backlog when wrk stops. The rate into Redis counts the time
        # until the last write, which bounds what tallyd sustains for
        # longer than a run. The drain runs with the machine otherwise
        # idle, so this rate is an upper bound on the sustained one.
        result["drain_s"] = time.monotonic() - load_ended
        result["into_redis_rps"] = recorded / (self.args.duration + result["drain_s"])

        result["tallyd_cpu"] = cpu
        result["redis_cpu"] = self.redis.cpu_seconds() - redis_cpu
        # A plain ZADD and one inside a script count alike in commandstats.
        # So the commands tallyd sent are the replies its stores got, one
        # per command Redis ran, and the rest are script calls.
        replies = sum(s["redis_replies"] for s in stopped)
        result["commands"] = replies
        result["script_calls"] = self.redis.calls() - calls - replies
        result["recorded"] = recorded
        result["journaled"] = journaled
        # Events that reached Redis through the journal rather than directly.
        result["replayed"] = sum(s["events_replayed"] for s in stopped)
        result["counted"] = counted
        answered = result["answered"]
        settled = recorded + journaled
        result["ok"] = (failed == 0 and recorded <= counted <= settled and
                        answered <= settled <= answered + self.args.connections)
        if not result["ok"]:
            log(f"  LOSS CHECK FAILED: wrk answered {answered}, tallyd recorded "
                f"{recorded}, journaled {journaled}, failed {failed}, "
                f"Redis counted {counted}")
        return result

    # ---- the side-by-side table -------------------------------------------

    def compare(self, workers, scenario):
        rows = []
        for i in range(self.args.runs):
            a = self.run_nginx(workers, scenario)
            print_row(workers, scenario, i + 1, "nginx", a)
            b = self.run_tallyd(workers, scenario)
            print_row(workers, scenario, i + 1, "tallyd", b)
            rows.append((a, b))
        return rows


def parse_stopped(log_path):
    stopped = []
    with open(log_path) as f:
        for line in f:
            if "event=worker.stopped" in line:
                stopped.append({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)
                                if k != "worker"})
    return stopped


def print_row(workers, scenario, run, server, r):
    extra = ""
    if server == "tallyd":
        extra = (f" answered={r['answered']} recorded={r['recorded']} "
                 f"journaled={r['journaled']} in_redis={r['counted']} "
                 f"drain={r['drain_s']:.2f}s {'ok' if r['ok'] else 'LOST'}")
    log(f"{workers:>2} {scenario:<7} {run:>3} {server:<7} {r['rps']:>10.0f} "
        f"{r['p50_us'] / 1000:>8.3f} {r['p99_us'] / 1000:>8.3f} "
        f"{r['p999_us'] / 1000:>8.3f}{extra}")


def summarize(workers, scenario, rows):
    ratio = statistics.median(b["rps"] / a["rps"] for a, b in rows)
    into_redis = statistics.median(b["into_redis_rps"] / a["rps"] for a, b in rows)
    drain = statistics.median(b["drain_s"] for _, b in rows)
    p99 = statistics.median(b["p99_us"] / a["p99_us"] for a, b in rows)
    events = sum(b["recorded"] for _, b in rows)
    tallyd_cpu = sum(b["tallyd_cpu"] for _, b in rows)
    redis_cpu = sum(b["redis_cpu"] for _, b in rows)
    commands = sum(b["commands"] for _, b in rows)
    script_calls = sum(b["script_calls"] for _, b in rows)
    lost = sum(not b["ok"] for _, b in rows)
    return (f"{workers:>2} {scenario:<7} ratio={ratio:.3f} p99_ratio={p99:.2f} "
            f"into_redis_ratio={into_redis:.3f} drain_s={drain:.2f} "
            f"nginx_rps={statistics.median(a['rps'] for a, _ in rows):.0f} "
            f"tallyd_rps={statistics.median(b['rps'] for _, b in rows):.0f} "
            f"tallyd_us_per_event={1e6 * tallyd_cpu / max(events, 1):.2f} "
            f"redis_us_per_event={1e6 * redis_cpu / max(events, 1):.2f} "
            f"commands_per_1000={1000 * commands / max(events, 1):.0f} "
            f"script_calls_per_1000={1000 * script_calls / max(events, 1):.0f} "
            f"runs_with_loss={lost}")


def callgrind_total(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


def measure_callgrind(bench, requests):
    """Returns instructions per pixel request: tallyd under callgrind, once
    with no pixel request and once with `requests` of them on one keep-alive
    connection, the difference divided by the count."""
    totals = []
    with open(bench.paths["pixel"]) as f:
        paths = [line.strip() for line in f if line.strip()]
    for count in (0, requests):
        out = os.path.join(bench.tmp, f"callgrind.{count}")
        proc, port = bench.start_tallyd(
            1, os.path.join(bench.tmp, "callgrind.log"),
            wrapper=("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for i in range(count):
                conn.request("GET", paths[i % len(paths)],
                             headers={"User-Agent": USER_AGENT})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"pixel answered {resp.status}")
            conn.close()
        finally:
            stop_process(proc, seconds=60)
        totals.append(callgrind_total(out))
    return (totals[1] - totals[0]) / requests


def measure_memory(bench, readers, touches):
    """Loads touches touchpoints for readers readers through the store's
    scripts and returns used_memory bytes per touchpoint and per reader."""
    client = bench.redis.client
    client.flushall()
    settings = {}
    for pattern in ("hash-max-listpack-*", "zset-max-listpack-*"):
        settings.update(client.config_get(pattern))
    before = int(client.info("memory")["used_memory"])
    gen = subprocess.Popen([TOUCH_LOAD, str(readers), str(touches)], stdout=subprocess.PIPE)
    pipe = subprocess.run(["redis-cli", "-s", bench.redis.socket, "--pipe"],
                          stdin=gen.stdout, capture_output=True, text=True, timeout=600)
    gen.stdout.close()
    if gen.wait(timeout=60) != 0 or pipe.returncode != 0 or "errors: 0" not in pipe.stdout:
        raise RuntimeError(f"loading touchpoints failed: {pipe.stdout}{pipe.stderr}")
    after = int(client.info("memory")["used_memory"])
    stored = sum(client.zcard(k) for k in client.scan_iter("r:*:t", count=1000))
    used = after - before
    return used / stored, used / readers, stored, settings


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n"
            f"nproc: {os.cpu_count()}\ncpu: {model}\n"
            f"load average at start: {os.getloadavg()[0]:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    p.add_argument("--scenarios", default="pixel,click,beacon")
    p.add_argument("--runs", type=int, default=3, help="A B pairs per table row")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--tokens", type=int, default=200000,
                   help="readers, each with one pixel and one click URL")
    p.add_argument("--callgrind-requests", type=int, default=2000,
                   help="pixel requests under callgrind; 0 skips")
    p.add_argument("--memory-readers", type=int, default=200000,
                   help="readers loaded for the memory figure; 0 skips")
    p.add_argument("--memory-touches", type=int, default=1000000)
    args = p.parse_args()

    for tool in ("wrk", "nginx", "redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: run sh scripts/install-deps.sh bench")

    log(machine())
    log(f"wrk -c{args.connections} -d{args.duration}s, -t = workers, "
        f"{args.runs} A/B pairs (nginx, tallyd)")
    with private_redis("tally-bench.") as (tmp, redis):
        bench = Bench(args, tmp, redis)
        summaries = []
        log("workers scenario run server req/s p50_ms p99_ms p99.9_ms")
        for workers in (int(w) for w in args.workers.split(",") if args.runs > 0):
            for scenario in args.scenarios.split(","):
                rows = bench.compare(workers, scenario)
                summaries.append(summarize(workers, scenario, rows))
        log("\nmedians over pairs, cost per recorded event:")
        for line in summaries:
            log(line)
        if args.callgrind_requests > 0 and shutil.which("valgrind"):
            ir = measure_callgrind(bench, args.callgrind_requests)
            log(f"\ncallgrind: {ir:.0f} instructions per pixel request "
                f"({args.callgrind_requests} requests, minus a start/stop baseline)")
        if args.memory_readers > 0:
            per_touch, per_reader, stored, settings = measure_memory(
                bench, args.memory_readers, args.memory_touches)
            log(f"\nmemory: {per_touch:.1f} bytes per touchpoint, {per_reader:.1f} per "
                f"reader ({stored} touchpoints, {args.memory_readers} readers)")
            log("encoding settings: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
        failed = any("runs_with_loss=0" not in s for s in summaries)
        if failed:
            log("\nFAILED: events were lost")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
