"""Fault injection under load: Redis killed, paused, put to sleep or
replaced by an empty one, and tallyd stopped or killed, while the bounded
load generator of loadtest/faultload.py sends pixels, clicks and checkouts.

Redis runs with appendonly yes and appendfsync always, so it loses nothing
it acknowledged. After each fault the test checks that every pixel got its
GIF and every click its redirect, and that the Redis counters equal exactly
what the generator got answered: nothing lost, nothing counted twice.

Each test sends a few thousand requests and takes seconds. The longer
variant is marked `slow` and skipped unless TALLY_SLOW_TESTS=1 is set.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis as redis_client

from conftest import TALLYCTL, TALLYD, RedisServer, free_port, path_of, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../loadtest"))
import faultload  # noqa: E402

REQUESTS = 3000
RATE = 1500            # requests per second: the load lasts about 2 s
LOAD_DEADLINE = 30     # seconds; the generator stops by then in any case
SETTLE_SECONDS = 30    # time given to replays to reach Redis
STABLE_SECONDS = 1.0   # counters must stay put this long: no late doubles
REDIS_TIMEOUT = "300ms"
CAMPAIGN = "fault"


class AofRedis:
    """A redis-server on a unix socket that persists every write before
    acknowledging it, and can be killed and restarted on the same files."""

    def __init__(self, directory, debug=False):
        self.dir = directory
        self.socket = os.path.join(directory, "redis.sock")
        self.url = "unix://" + self.socket
        self.debug = debug
        self.proc = None
        self.client = redis_client.Redis(unix_socket_path=self.socket,
                                         decode_responses=True)
        self.start()

    def start(self):
        args = ["redis-server", "--port", "0", "--unixsocket", self.socket,
                "--dir", self.dir, "--save", "", "--appendonly", "yes",
                "--appendfsync", "always", "--logfile",
                os.path.join(self.dir, "redis.log")]
        if self.debug:
            args += ["--enable-debug-command", "yes"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(self._pings, "redis-server to start")

    def _pings(self):
        try:
            return self.client.ping()
        except (redis_client.exceptions.ConnectionError,
                redis_client.exceptions.BusyLoadingError):
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def wipe(self):
        """Deletes the persisted data, as a failover to a fresh node would."""
        for name in os.listdir(self.dir):
            if name.startswith("appendonly") or name == "dump.rdb":
                path = os.path.join(self.dir, name)
                subprocess.run(["rm", "-rf", path], check=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class RestartableTallyd:
    """tallyd on a fixed port, keys file and state_dir, so that a restart
    finds the journal of the run before."""

    def __init__(self, directory, redis_url, extra_args=()):
        self.dir = directory
        self.keys = os.path.join(directory, "keys.conf")
        with open(self.keys, "w") as f:
            subprocess.run([TALLYCTL, "keygen"], stdout=f, check=True)
        os.chmod(self.keys, 0o600)
        self.port = free_port()
        self.state_dir = os.path.join(directory, "state")
        self.redis_url = redis_url
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(directory, "tallyd.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        # The load comes from one address, far above the per-client beacon
        # limit, so the limit is off.
        self.proc = subprocess.Popen(
            [TALLYD, "--listen", f"127.0.0.1:{self.port}", "--redis", self.redis_url,
             "--keys", self.keys, "--threads", "2", "--state-dir", self.state_dir,
             "--redis-timeout", REDIS_TIMEOUT, "--beacon-rate", "0", *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, "tallyd to serve /healthz")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"tallyd exited with {self.proc.returncode}: "
                                 + self.read_log())
        try:
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)

    def journal_files(self):
        if not os.path.isdir(self.state_dir):
            return []
        return [n for n in os.listdir(self.state_dir) if n.endswith(".journal")]


@pytest.fixture
def aof_redis(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    server = AofRedis(str(directory), debug=True)
    yield server
    server.stop()


def start_tallyd(tmp_path, redis, extra_args=()):
    directory = tmp_path / "tallyd"
    directory.mkdir(exist_ok=True)
    return RestartableTallyd(str(directory), redis.url, extra_args)


def counters(client):
    campaign = client.hgetall(f"c:{{{CAMPAIGN}}}")
    shop = client.hgetall("s:{default}")
    return {
        "opens": int(campaign.get("opens", 0)),
        "unique_opens": int(campaign.get("unique_opens", 0)),
        "clicks": int(campaign.get("clicks", 0)),
        "unique_clicks": int(campaign.get("unique_clicks", 0)),
        "orders": int(shop.get("orders", 0)),
        "conversions": int(campaign.get("conversions", 0)),
    }


def assert_all_answered(plan, kinds=("open", "click", "checkout")):
    for req in plan:
        if req.kind in kinds:
            assert req.status is not None, f"request {req.index} ({req.kind}) " \
                f"not answered: {req.error}"
            assert req.correct, f"request {req.index} ({req.kind}) got {req.status}"


def assert_counted_exactly(redis, expected):
    """Waits until Redis contains the expected counters, then checks that they
    stay there, so a late replay cannot double-count unseen."""
    last = {}

    def matches():
        nonlocal last
        try:
            last = counters(redis.client)
        except redis_client.exceptions.ConnectionError:
            return False
        return last == expected

    try:
        wait_until(matches, f"counters {expected}", SETTLE_SECONDS)
    except AssertionError:
        raise AssertionError(f"Redis contains {last}, expected {expected}")
    time.sleep(STABLE_SECONDS)
    assert counters(redis.client) == expected


def assert_counted_between(redis, low, high):
    """Like assert_counted_exactly for a crash, where requests cut off
    before their answer may or may not have been recorded."""
    last = {}

    def settled():
        nonlocal last
        last = counters(redis.client)
        return all(low[k] <= last[k] <= high[k] for k in low)

    try:
        wait_until(settled, f"counters between {low} and {high}", SETTLE_SECONDS)
    except AssertionError:
        raise AssertionError(f"Redis contains {last}, expected {low} to {high}")
    time.sleep(STABLE_SECONDS)
    assert counters(redis.client) == last


def run_load_with(tally, plan, faults):
    """Runs plan and, from this thread, calls each fault(progress) action
    once the generator has taken that many requests."""
    load = faultload.Load(tally.port, plan, RATE, deadline=LOAD_DEADLINE)
    load.start()
    for at, action in faults:
        wait_until(lambda: load.progress() >= at, f"{at} requests sent", LOAD_DEADLINE)
        action()
    return load.wait()


def make_plan(tally, requests=REQUESTS, run_id="r"):
    return faultload.build_plan(TALLYCTL, tally.keys, tally.port, requests,
                                campaign=CAMPAIGN, run_id=run_id)


def wait_journal_drained(tally):
    wait_until(lambda: "store.journal_drained" in tally.read_log(), "journal drained",
               SETTLE_SECONDS)


def check_under_load(tmp_path, redis, faults):
    """Runs the standard plan against a new tallyd with faults (a list of
    (requests sent, action)), checks every answer and the exact counters,
    stops tallyd and checks it exited 0. Returns tallyd, for more checks
    of its log."""
    tally = start_tallyd(tmp_path, redis)
    try:
        plan, setup_clicks = make_plan(tally)
        plan = run_load_with(tally, plan, faults)
        assert_all_answered(plan)
        assert_counted_exactly(redis, faultload.expected_counts(plan, setup_clicks))
    finally:
        tally.stop()
    assert tally.proc.returncode == 0
    return tally


def admin_client(redis):
    return redis_client.Redis(unix_socket_path=redis.socket)


def test_redis_killed_and_restarted_under_load(tmp_path, aof_redis):
    tally = check_under_load(tmp_path, aof_redis, [
        (REQUESTS // 4, aof_redis.kill),
        (REQUESTS * 3 // 5, aof_redis.start),
    ])
    assert "store.spooling" in tally.read_log()
    assert tally.journal_files() == []


def test_redis_paused_under_load(tmp_path, aof_redis):
    admin = admin_client(aof_redis)
    tally = check_under_load(tmp_path, aof_redis, [
        (REQUESTS // 4, lambda: admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")),
    ])
    assert "redis.timeout" in tally.read_log()


def run_fast_load_with_pause(tmp_path, redis, pause_ms, extra_args):
    """Sends 4,000 requests at 4,000 a second and pauses Redis for pause_ms
    once 200 are sent. Checks that every request got its response, the
    exact counters and the drained journal, stops tallyd and returns its
    log."""
    admin = admin_client(redis)
    tally = start_tallyd(tmp_path, redis, extra_args=extra_args)
    try:
        plan, setup_clicks = make_plan(tally, requests=4000)
        load = faultload.Load(tally.port, plan, rate=4000, connections=8,
                              deadline=LOAD_DEADLINE)
        load.start()
        wait_until(lambda: load.progress() >= 200, "200 requests sent", LOAD_DEADLINE)
        admin.execute_command("CLIENT", "PAUSE", pause_ms, "ALL")
        plan = load.wait()
        assert_all_answered(plan)
        assert_counted_exactly(redis, faultload.expected_counts(plan, setup_clicks))
        wait_journal_drained(tally)
    finally:
        tally.stop()
    assert tally.proc.returncode == 0
    return tally.read_log()


def test_queued_events_spill_to_journal(tmp_path, aof_redis):
    """Redis paused for longer than redis_timeout while events arrive faster
    than the 512 that each loop keeps in flight: the events queued behind
    that bound go to the journal with the ones in flight, and every event
    is counted once."""
    log = run_fast_load_with_pause(tmp_path, aof_redis, 4000, ("--redis-timeout", "1500ms"))
    assert "redis.timeout" in log
    assert "store.queue_spooled" in log


def test_full_queue_spills_to_journal(tmp_path, aof_redis):
    """Redis falls behind for 2 s, well within redis_timeout, while events
    arrive faster than it applies them. Once a loop has max_queued_events
    waiting in memory, the queue and the events after it go to the
    journal, and every event is counted once."""
    log = run_fast_load_with_pause(tmp_path, aof_redis, 2000,
                                   ("--redis-timeout", "20s", "--max-queued-events", "300"))
    assert "store.queue_full" in log
    assert "redis.timeout" not in log


def test_redis_debug_sleep_under_load(tmp_path, aof_redis):
    def sleep_redis():
        # DEBUG SLEEP blocks its own client too, so it runs on a thread.
        threading.Thread(target=admin_client(aof_redis).execute_command,
                         args=("DEBUG", "SLEEP", "1.5"), daemon=True).start()

    tally = check_under_load(tmp_path, aof_redis, [(REQUESTS // 4, sleep_redis)])
    assert "redis.timeout" in tally.read_log()


def test_redis_out_of_memory_under_load(tmp_path, aof_redis):
    """Redis rejects every write with OOM for a while: the events are
    journaled, and replayed once writes are allowed again."""
    admin = admin_client(aof_redis)
    tally = check_under_load(tmp_path, aof_redis, [
        (REQUESTS // 4, lambda: admin.config_set("maxmemory", 1)),
        (REQUESTS * 3 // 5, lambda: admin.config_set("maxmemory", 0)),
    ])
    log = tally.read_log()
    assert "OOM command not allowed" in log
    assert "journal.record_skipped" not in log


def test_redis_scripts_flushed_under_load(tmp_path, aof_redis):
    """SCRIPT FLUSH makes every EVALSHA fail with NOSCRIPT until tallyd
    reconnects and loads its scripts again."""
    admin = admin_client(aof_redis)
    tally = check_under_load(tmp_path, aof_redis, [
        (REQUESTS // 3, admin.script_flush),
    ])
    assert "NOSCRIPT" in tally.read_log()


# Spins for ARGV[1] milliseconds of Redis time without writing anything.
BUSY_SCRIPT = """
local start = redis.call('TIME')
local limit = tonumber(ARGV[1]) * 1000
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > limit then return 1 end
end
"""


def test_redis_busy_script_under_load(tmp_path, aof_redis):
    """A long script makes Redis reject everyone else's commands with BUSY
    and ends by itself, so writes that straddle its end fail and succeed
    out of order."""
    admin_client(aof_redis).config_set("busy-reply-threshold", 50)

    def run_busy_script():
        threading.Thread(target=admin_client(aof_redis).eval,
                         args=(BUSY_SCRIPT, 0, 800), daemon=True).start()

    tally = check_under_load(tmp_path, aof_redis, [(REQUESTS // 4, run_busy_script)])
    assert "BUSY" in tally.read_log()


def test_campaign_rejected_then_allowed(tmp_path, aof_redis):
    """An ACL rejects the writes of one campaign (NOPERM) while another
    campaign's writes succeed on the same connection, so failed campaign
    writes are followed by successful ones of the same writer. The failed
    events need new campaign identities, and all count once after the ACL
    is fixed."""
    admin = redis_client.Redis(unix_socket_path=aof_redis.socket)
    allowed = ["~r:*", f"~c:{{{CAMPAIGN}}}*", "~campaigns", "~o:*", "~s:*", "~k:*"]
    admin.execute_command("ACL", "SETUSER", "tally", "on", ">test-password", "+@all",
                          *allowed)
    url = aof_redis.url.replace("unix://", "unix://tally:test-password@")
    directory = tmp_path / "tallyd"
    directory.mkdir()
    tally = RestartableTallyd(str(directory), url)
    try:
        plan, setup_clicks = make_plan(tally, requests=2000)
        blocked_plan, blocked_setup = faultload.build_plan(
            TALLYCTL, tally.keys, tally.port, 600, campaign="blocked", run_id="b")
        # Only opens and clicks: a rejected checkout would hold up the
        # replay by itself, and no record behind it would be sent.
        blocked_plan = [r for r in blocked_plan if r.kind != "checkout"]
        mixed = []
        for i, req in enumerate(plan):
            mixed.append(req)
            if i % 3 == 0 and i // 3 < len(blocked_plan):
                mixed.append(blocked_plan[i // 3])

        def allow_after_renumbering():
            # Renumbering needs a replay window with a rejected record and a
            # later applied one of the same writer. Whether such a window ran
            # by mid-load depends on tallyd's reconnect backoff, so the ACL
            # stays until the log shows a renumbered record.
            try:
                wait_until(lambda: "journal.event_renumbered" in tally.read_log(),
                           "a replay to renumber a rejected record", LOAD_DEADLINE)
            except AssertionError as e:
                # NOTE: this wait timed out once in CI, for a reason not
                # known; the log shows which step did not happen.
                raise AssertionError(f"{e}; tallyd's log ends with:\n"
                                     + tally.read_log()[-6000:]) from None
            admin.execute_command("ACL", "SETUSER", "tally", "allkeys")

        run_load_with(tally, mixed, [(len(mixed) // 2, allow_after_renumbering)])
        assert_all_answered(mixed)
        expected = faultload.expected_counts(blocked_plan, blocked_setup)
        fields = ("opens", "clicks", "unique_opens", "unique_clicks")
        expected_blocked = {field: expected[field] for field in fields}
        last = {}

        def blocked_counts():
            nonlocal last
            counts = admin.hgetall("c:{blocked}")
            last = {field: int(counts.get(field.encode(), 0)) for field in fields}
            return last

        # The last rejected records may still be replaying when the load ends.
        try:
            wait_until(lambda: blocked_counts() == expected_blocked,
                       "the blocked campaign's counters", SETTLE_SECONDS)
        except AssertionError:
            raise AssertionError(f"c:{{blocked}} contains {last}, "
                                 f"expected {expected_blocked}")
        assert_counted_exactly(aof_redis, faultload.expected_counts(plan, setup_clicks))
        assert blocked_counts() == expected_blocked
        log = tally.read_log()
        assert "NOPERM" in log
    finally:
        tally.stop()
    assert tally.proc.returncode == 0


def keys_except_reader(reader_hex):
    """ACL key patterns for every tally key except those of readers whose
    id starts with reader_hex's first four digits (one reader in a test's
    handful: the odds of another sharing them are 1 in 65,536 each)."""
    patterns = ["~c:*", "~campaigns", "~o:*", "~s:*", "~k:*", "~d:*"]
    for k in range(4):
        patterns += [f"~r:{{{reader_hex[:k]}{c}*" for c in "0123456789abcdef"
                     if c != reader_hex[k]]
    return patterns


def test_reader_rejected_then_allowed(tmp_path, aof_redis):
    """An ACL rejects one reader's keys (NOPERM) in the middle of the load,
    so that reader's opens and clicks fail before their campaign write
    while later events of the same campaign and writer go through, live
    and in replays. The rejected events must not be skipped by the
    writer's high-water mark once the ACL is fixed: all count once."""
    admin = redis_client.Redis(unix_socket_path=aof_redis.socket, decode_responses=True)
    admin.execute_command("ACL", "SETUSER", "tally", "on", ">test-password", "+@all",
                          "allkeys")
    url = aof_redis.url.replace("unix://", "unix://tally:test-password@")
    directory = tmp_path / "tallyd"
    directory.mkdir()
    tally = RestartableTallyd(str(directory), url)

    def reject_one_reader():
        touches = sorted(admin.scan_iter(match="r:*:t"))
        reader = touches[0][len("r:{"):-len("}:t")]
        admin.execute_command("ACL", "SETUSER", "tally", "resetkeys",
                              *keys_except_reader(reader))

    try:
        plan, setup_clicks = make_plan(tally)
        run_load_with(tally, plan, [
            (REQUESTS // 4, reject_one_reader),
            (REQUESTS * 3 // 5,
             lambda: admin.execute_command("ACL", "SETUSER", "tally", "allkeys")),
        ])
        assert_all_answered(plan)
        assert_counted_exactly(aof_redis, faultload.expected_counts(plan, setup_clicks))
        assert "NOPERM" in tally.read_log()
    finally:
        tally.stop()
    assert tally.proc.returncode == 0


def test_tallyd_sigterm_mid_load_replays_on_restart(tmp_path, aof_redis):
    """tallyd is stopped while Redis is down, so its events wait in the
    journal; the next tallyd adopts the journal and replays it."""
    tally = start_tallyd(tmp_path, aof_redis)
    stop_codes = []

    def stop_tallyd():
        stop_codes.append(tally.signal(signal.SIGTERM))

    try:
        plan, setup_clicks = make_plan(tally)
        plan = run_load_with(tally, plan, [
            (REQUESTS // 5, aof_redis.kill),
            (REQUESTS * 2 // 5, stop_tallyd),
            (REQUESTS * 3 // 5, tally.start),
            (REQUESTS * 4 // 5, aof_redis.start),
        ])
        assert stop_codes == [0]
        # Requests sent while tallyd was down were refused, never answered.
        for req in plan:
            if req.status is not None:
                assert req.correct, f"request {req.index} ({req.kind}) got {req.status}"
        assert sum(1 for r in plan if r.status is None) > 0
        assert_counted_exactly(aof_redis, faultload.expected_counts(plan, setup_clicks))
        assert "journal.adopted" in tally.read_log()
    finally:
        tally.stop()
    assert tally.proc.returncode == 0
    assert tally.journal_files() == []


def test_tallyd_sigterm_while_redis_paused(tmp_path, aof_redis):
    """With redis_timeout longer than the 10 s stop deadline, writes still
    waiting on a paused Redis at the deadline go to the journal when the
    loops close, and the next tallyd replays them."""
    admin = admin_client(aof_redis)
    tally = start_tallyd(tmp_path, aof_redis, ["--redis-timeout", "60s"])
    stop_codes = []

    def stop_tallyd():
        started = time.monotonic()
        stop_codes.append(tally.signal(signal.SIGTERM))
        stop_codes.append(time.monotonic() - started)

    try:
        plan, setup_clicks = make_plan(tally, requests=1500)
        plan = run_load_with(tally, plan, [
            (300, lambda: admin.execute_command("CLIENT", "PAUSE", 14000, "ALL")),
            (600, stop_tallyd),
            (700, tally.start),
        ])
        assert stop_codes[0] == 0
        assert 9 < stop_codes[1] < 20, f"stopped after {stop_codes[1]:.1f} s"
        log = tally.read_log()
        assert "worker.stop_deadline" in log
        assert "journal.adopted" in log
        for req in plan:
            if req.status is not None:
                assert req.correct, f"request {req.index} ({req.kind}) got {req.status}"
        assert_counted_exactly(aof_redis, faultload.expected_counts(plan, setup_clicks))
    finally:
        tally.stop()
    assert tally.proc.returncode == 0
    assert tally.journal_files() == []


def test_tallyd_sigkill_with_fsync_always_loses_nothing(tmp_path, aof_redis):
    """With Redis down every event is journaled before its response leaves
    tallyd, so SIGKILL loses no answered event. Requests cut off by the
    kill may have been journaled without being answered."""
    tally = start_tallyd(tmp_path, aof_redis, ["--journal-fsync", "always"])
    try:
        plan, setup_clicks = make_plan(tally)
        plan = run_load_with(tally, plan, [
            (REQUESTS // 10, aof_redis.kill),
            (REQUESTS // 2, lambda: tally.signal(signal.SIGKILL)),
        ])
        assert len(tally.journal_files()) > 0
        aof_redis.start()
        tally.start()
        assert_counted_between(
            aof_redis, faultload.expected_counts(plan, setup_clicks),
            faultload.expected_counts(plan, setup_clicks, include_unanswered=True))
        assert "journal.adopted" in tally.read_log()
    finally:
        tally.stop()
    assert tally.journal_files() == []


def traced_by(pid):
    """Tells whether every thread of pid has a tracer attached."""
    tasks = f"/proc/{pid}/task"
    for tid in os.listdir(tasks):
        with open(f"{tasks}/{tid}/status") as f:
            if "TracerPid:\t0\n" in f.read():
                return False
    return True


def answer_and_journal_order(trace_path):
    """Reads an strace -y log of tallyd and returns, in order, "J" for each
    journal record written and "A" for each HTTP response sent."""
    order = []
    with open(trace_path) as f:
        for line in f:
            if ".journal>" in line and "TALLYJ1" not in line and "write(" in line:
                order.append("J")
            elif ("sendto(" in line or "writev(" in line) and "HTTP/1.1 " in line:
                order.append("A")
    return order


def test_spooled_event_journaled_before_response(tmp_path, aof_redis):
    """The SIGKILL promise rests on an order of system calls: while Redis
    is down, each event's journal record is written before its response
    is sent. strace shows that order for a pixel, a click and a checkout,
    the first of them being the event that finds Redis gone."""
    tally = start_tallyd(tmp_path, aof_redis, ["--threads", "1"])
    trace_path = str(tmp_path / "strace.log")
    tracer = None
    try:
        base = f"http://127.0.0.1:{tally.port}"
        pixel = faultload.mint(TALLYCTL, tally.keys, base, "open", CAMPAIGN, 1)
        click = faultload.mint(TALLYCTL, tally.keys, base, "click", CAMPAIGN, 1)
        checkout = json.dumps({"type": "checkout", "order_id": "traced-1",
                               "revenue": "1.00", "currency": "EUR"})
        aof_redis.kill()

        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-y", "-s", "16", "-o", trace_path,
             "-e", "trace=write,writev,sendto,sendmsg", "-p", str(tally.proc.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: traced_by(tally.proc.pid), "strace to attach")
        for method, path, body in (("GET", pixel, None), ("GET", click, None),
                                   ("POST", "/b", checkout)):
            conn = http.client.HTTPConnection("127.0.0.1", tally.port, timeout=10)
            conn.request(method, path, body=body,
                         headers={"Content-Type": "text/plain"} if body else {})
            assert conn.getresponse().status in (200, 302, 204)
            conn.close()
        tracer.terminate()
        tracer.wait(timeout=10)
        tracer = None

        assert answer_and_journal_order(trace_path) == ["J", "A"] * 3
    finally:
        if tracer is not None:
            tracer.kill()
            tracer.wait()
        tally.stop()


def test_redis_comes_back_empty(tmp_path, aof_redis):
    """A failover to a fresh node: what the old node held is gone, and
    tallyd neither crashes nor counts an event twice on the new one."""
    tally = start_tallyd(tmp_path, aof_redis)
    try:
        plan, setup_clicks = make_plan(tally, run_id="empty")
        third = REQUESTS // 3
        before, outage, after = plan[:third], plan[third:2 * third], plan[2 * third:]

        faultload.Load(tally.port, before, RATE, deadline=LOAD_DEADLINE).run()
        assert_all_answered(before)
        # Opens and clicks both: a click's reader step takes longer than an
        # open's, so its campaign batch can still be waiting when every open
        # is counted. Such a click fails with the old node, and its replay
        # counts it on the new one.
        first = faultload.expected_counts(before, setup_clicks)
        wait_until(lambda: all(counters(aof_redis.client)[kind] == first[kind]
                               for kind in ("opens", "clicks")), "first third counted")

        aof_redis.kill()
        aof_redis.wipe()
        faultload.Load(tally.port, outage, RATE, deadline=LOAD_DEADLINE).run()
        aof_redis.start()
        faultload.Load(tally.port, after, RATE, deadline=LOAD_DEADLINE).run()
        assert_all_answered(outage + after)

        # Every event answered after the old node's last write reaches the
        # new node once. The orders are left out: a repeat of an order
        # first claimed on the old node counts again on the new one,
        # because the claim was lost with the old node.
        expected = faultload.expected_counts(outage + after)
        wait_until(lambda: counters(aof_redis.client)["opens"] == expected["opens"],
                   f"opens == {expected['opens']}", SETTLE_SECONDS)
        time.sleep(STABLE_SECONDS)
        got = counters(aof_redis.client)
        assert got["opens"] == expected["opens"]
        assert got["clicks"] == expected["clicks"]
        assert tally.proc.poll() is None
    finally:
        tally.stop()
    assert tally.proc.returncode == 0


def test_journal_full_drops_events_but_answers(tmp_path, aof_redis):
    tally = start_tallyd(tmp_path, aof_redis, ["--journal-max-size", "4K", "--threads", "1"])
    try:
        plan, setup_clicks = make_plan(tally, requests=400, run_id="full")
        aof_redis.kill()
        faultload.Load(tally.port, plan, RATE, deadline=LOAD_DEADLINE).run()
        assert_all_answered(plan)
        log = tally.read_log()
        assert "journal.event_dropped" in log
        assert "journal_max_size reached" in log

        aof_redis.start()
        wait_journal_drained(tally)
        got = counters(aof_redis.client)
        expected = faultload.expected_counts(plan, setup_clicks)
        # Some events fitted and were replayed; the rest were dropped.
        assert 0 < got["opens"] < expected["opens"]
    finally:
        tally.stop()


@pytest.mark.slow
def test_repeated_redis_kills_long_load(tmp_path, aof_redis):
    """Five outages in 20 000 requests: about 15 s of load."""
    tally = start_tallyd(tmp_path, aof_redis)
    n = 20000
    faults = []
    for k in range(5):
        faults.append((n * (2 * k + 1) // 11, aof_redis.kill))
        faults.append((n * (2 * k + 2) // 11, aof_redis.start))
    try:
        plan, setup_clicks = make_plan(tally, requests=n, run_id="long")
        load = faultload.Load(tally.port, plan, RATE, deadline=120)
        load.start()
        for at, action in faults:
            wait_until(lambda: load.progress() >= at, f"{at} sent", 120)
            action()
        plan = load.wait()
        assert_all_answered(plan)
        assert_counted_exactly(aof_redis, faultload.expected_counts(plan, setup_clicks))
    finally:
        tally.stop()


def test_restart_during_drain_adopts_old_journal(tmp_path):
    """A tallyd started with the same state_dir while the old one drains
    finds the old one's journal locked. It adopts the journal once the old
    tallyd exits, and replays it when Redis comes back."""
    keys = tmp_path / "keys.conf"
    with open(keys, "w") as f:
        subprocess.run([TALLYCTL, "keygen"], stdout=f, check=True)
    os.chmod(keys, 0o600)
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    state = tmp_path / "state"
    old_port, new_port = free_port(), free_port()
    # No Redis listens on the socket yet, so the old tallyd journals.
    common = ["--redis", "unix://" + str(redis_dir / "redis.sock"), "--keys", str(keys),
              "--threads", "1", "--state-dir", str(state)]
    old = subprocess.Popen([TALLYD, "--listen", f"127.0.0.1:{old_port}", *common],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    new = redis = None
    new_log = tmp_path / "new.log"
    try:
        wait_until(lambda: os.path.exists(state / "tallyd.pid"), "the old tallyd to start")
        pixel = subprocess.run(
            [TALLYCTL, "--keys", str(keys), "url", "open", "--base",
             f"http://127.0.0.1:{old_port}", "--campaign", "drainj", "--message", "a",
             "--email", "r@example.com"], capture_output=True, text=True,
            check=True).stdout.strip()
        wait_until(lambda: http_status(old_port, path_of(pixel)) == 200,
                   "the old tallyd's answer to the open")
        wait_until(lambda: any(n.endswith(".journal") for n in os.listdir(state)),
                   "the old tallyd's journal")

        # A request cut off in its headers keeps the old tallyd draining.
        with socket.create_connection(("127.0.0.1", old_port)) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            old.send_signal(signal.SIGTERM)
            wait_until(lambda: not os.path.exists(state / "tallyd.pid"), "the drain to start")
            with open(new_log, "w") as log:
                new = subprocess.Popen([TALLYD, "--listen", f"127.0.0.1:{new_port}",
                                        *common], stdout=log, stderr=subprocess.STDOUT)
            wait_until(lambda: "tallyd.ready" in new_log.read_text(), "the new tallyd")
            assert "journal.adopt_waiting" in new_log.read_text()
        assert old.wait(timeout=20) == 0

        redis = RedisServer(str(redis_dir))
        wait_until(lambda: redis.client.hget("c:{drainj}", "opens") == "1",
                   "the old tallyd's open to reach Redis", seconds=20)
        assert "journal.adopted" in new_log.read_text()
    finally:
        for proc in (old, new):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        if redis is not None:
            redis.stop()


def http_status(port, path):
    """Returns the status of GET path on tallyd at port, or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None
