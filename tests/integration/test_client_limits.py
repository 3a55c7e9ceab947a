"""Client addresses end to end: per-client beacon limits (429 with
Retry-After), X-Forwarded-For and Forwarded honoured only from trusted
proxies, and IPv6 clients served on [::1]."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from conftest import (CLASSIFY_DATA, TALLYD, free_port, free_port_v6, namespaces_available,
                      path_of, wait_until)
from rawhttp import exchange, request, responses, status_of

SETTLE_SECONDS = 0.5


def beacon(server, order_id, headers=()):
    """Posts a checkout beacon; returns (status, headers, body)."""
    body = json.dumps({"type": "checkout", "order_id": order_id,
                       "revenue": "2.50", "currency": "EUR"}).encode()
    raw = exchange(server, request("POST", "/b", [
        ("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
        *headers], body))
    return responses(raw)[0]


def order_exists(redis_server, order_id):
    return redis_server.client.exists(f"o:{{default}}:{order_id}") == 1


def test_beacons_over_rate_get_429(make_tally, redis_server):
    server = make_tally(["--beacon-rate", "1", "--beacon-burst", "3",
                         "--threads", "1"])
    pixel = path_of(server.open_url("c", "m", "r@example.com"))
    click = path_of(server.click_url("c", "m", "r@example.com", "https://shop.example/"))
    for i in range(3):
        assert beacon(server, f"ok-{i}")[0] == 204
    status, headers, body = beacon(server, "limited-1")
    assert status == 429
    assert headers["retry-after"] == "1"
    assert b"retry" in body

    # Pixels and clicks are never limited.
    assert server.request("GET", pixel)[0] == 200
    assert server.request("GET", click)[0] == 302

    # The image form of a beacon shares the bucket: the GIF, and no order.
    status, headers, body = server.request(
        "GET", "/b.gif?type=checkout&order_id=limited-gif&revenue=1.00&currency=EUR")
    assert status == 200
    assert body.startswith(b"GIF89a")

    # A token refills each second; the bucket empties again at once.
    time.sleep(1.1)
    refilled = []
    for i in range(5):
        status = beacon(server, f"refill-{i}")[0]
        if status == 429:
            break
        assert status == 204
        refilled.append(f"refill-{i}")
    assert 1 <= len(refilled) < 5

    orders = str(3 + len(refilled))
    wait_until(lambda: redis_server.client.hget("s:{default}", "orders") == orders,
               f"{orders} orders")
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.hget("s:{default}", "orders") == orders
    assert not order_exists(redis_server, "limited-1")
    assert not order_exists(redis_server, "limited-gif")
    assert not order_exists(redis_server, f"refill-{len(refilled)}")

    log = server.log_text()
    assert "event=beacon.rate_limited" in log
    assert "client=127.0.0.0/24" in log
    metrics = server.request("GET", "/metrics")[2].decode()
    assert "\ntally_beacons_rate_limited_total 3\n" in metrics


def test_rate_limit_off_at_zero(make_tally):
    server = make_tally(["--beacon-rate", "0", "--beacon-burst", "1"])
    for i in range(60):
        assert beacon(server, f"free-{i}")[0] == 204


def test_forwarded_for_ignored_from_untrusted_peer(make_tally):
    server = make_tally(["--beacon-rate", "1", "--beacon-burst", "1", "--threads", "1"])
    assert beacon(server, "a", [("X-Forwarded-For", "198.51.100.7")])[0] == 204
    # Another invented address does not buy a new bucket.
    assert beacon(server, "b", [("X-Forwarded-For", "198.51.100.8")])[0] == 429
    assert beacon(server, "c", [("Forwarded", "for=198.51.100.9")])[0] == 429


def test_trusted_proxy_x_forwarded_for(make_tally):
    server = make_tally(["--beacon-rate", "1", "--beacon-burst", "1", "--threads", "1",
                         "--trusted-proxies", "127.0.0.0/8, 10.0.0.0/8"])
    xff = "X-Forwarded-For"
    assert beacon(server, "a1", [(xff, "198.51.100.7")])[0] == 204
    assert beacon(server, "a2", [(xff, "198.51.100.7")])[0] == 429
    assert beacon(server, "b1", [(xff, "198.51.100.8")])[0] == 204
    # The client invented the left entry; 198.51.100.7 is what a trusted
    # proxy (10.1.1.1) saw.
    assert beacon(server, "a3", [(xff, "203.0.113.1, 198.51.100.7, 10.1.1.1")])[0] == 429
    # IPv6 clients share a bucket per /64.
    assert beacon(server, "v1", [(xff, "2001:db8:1:2::1")])[0] == 204
    assert beacon(server, "v2", [(xff, "2001:db8:1:2::2")])[0] == 429
    assert beacon(server, "v3", [(xff, "2001:db8:1:3::1")])[0] == 204

    # A malformed header falls back to the peer, 127.0.0.1, and is counted
    # and logged.
    assert beacon(server, "m1", [(xff, "not an address")])[0] == 204
    assert beacon(server, "m2", [(xff, "198.51.100.9, garbage")])[0] == 429

    metrics = server.request("GET", "/metrics")[2].decode()
    assert "\ntally_client_addr_malformed_total 2\n" in metrics
    log = server.log_text()
    assert "event=client_addr.malformed" in log
    assert "client=198.51.100.0/24" in log
    assert "client=2001:db8:1::/48" in log
    assert "198.51.100.7" not in log
    assert "2001:db8:1:2::" not in log


def test_trusted_proxy_forwarded_header(make_tally):
    server = make_tally(["--beacon-rate", "1", "--beacon-burst", "1", "--threads", "1",
                         "--trusted-proxies", "127.0.0.1", "--proxy-header", "forwarded"])
    fwd = "Forwarded"
    assert beacon(server, "a1", [(fwd, 'for="[2001:db8::17]:4711";proto=https')])[0] == 204
    assert beacon(server, "a2", [(fwd, "for=198.51.100.7")])[0] == 204
    assert beacon(server, "a3", [(fwd, "for=198.51.100.7;by=127.0.0.1")])[0] == 429
    # With proxy_header forwarded, X-Forwarded-For is just another header.
    assert beacon(server, "b1", [("X-Forwarded-For", "198.51.100.50"),
                                 (fwd, "for=198.51.100.7")])[0] == 429


def test_bad_proxy_settings_stop_start(tmp_path):
    for flags, word in ((["--trusted-proxies", "10.0.0.1/8"], "10.0.0.1/8"),
                        (["--trusted-proxies", "proxy.example"], "proxy.example"),
                        (["--proxy-header", "x-real-ip"], "x-real-ip"),
                        (["--beacon-rate", "-1"], "beacon-rate"),
                        (["--beacon-burst", "0"], "beacon-burst")):
        result = subprocess.run([TALLYD, *flags], capture_output=True, text=True,
                                timeout=10)
        assert result.returncode == 2, flags
        assert word in result.stderr, (flags, result.stderr)


def test_unknown_option_hint_once():
    for flags in (["--bogus=1"], ["--bogus", "1"], ["--listen", "127.0.0.1:0", "--bogus"]):
        result = subprocess.run([TALLYD, *flags], capture_output=True, text=True,
                                timeout=10)
        assert result.returncode == 2, flags
        assert "unknown option --bogus" in result.stderr, (flags, result.stderr)
        assert result.stderr.count("--help") == 1, (flags, result.stderr)


def test_ipv6_client_journey(make_tally, redis_server):
    # One beacon a second: the burst of 2 stays spent while the test waits.
    server = make_tally(["--beacon-burst", "2", "--beacon-rate", "1", "--threads", "1"],
                        host="::1")
    assert server.base.startswith("http://[::1]:")

    status, _, body = server.request("GET", path_of(server.open_url("v6", "m", "r@example.com")))
    assert status == 200
    assert body.startswith(b"GIF89a")

    click = server.click_url("v6", "m", "r@example.com", "https://shop.example/p?q=1")
    status, headers, _ = server.request("GET", path_of(click))
    assert status == 302
    tly = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["location"]).query)["tly"][0]

    status, _, _ = server.beacon({"type": "checkout", "order_id": "v6-1",
                                  "revenue": "5.00", "currency": "EUR", "token": tly})
    assert status == 204
    # The open and the click reach c:{v6} in a campaign batch, which can
    # land after the checkout's conversion, so the test waits for all three.
    wait_until(lambda: redis_server.client.hmget("c:{v6}", "opens", "clicks", "conversions")
               == ["1", "1", "1"], "the IPv6 open, click and checkout to be counted")

    # The IPv6 peer has its own bucket: one more passes, the next is limited.
    assert beacon(server, "v6-2")[0] == 204
    assert beacon(server, "v6-3")[0] == 429
    assert "client=::/48" in server.log_text()


def test_listens_on_ipv4_and_ipv6_at_once(make_tally):
    port6 = free_port_v6()
    server = make_tally(["--threads", "2"], also_listen=[f"[::1]:{port6}"])
    assert status_of(exchange(server, request("GET", "/healthz"))) == 200
    server.host, server.port = "::1", port6
    assert status_of(exchange(server, request("GET", "/healthz"))) == 200
    status, _, body = server.request("GET", path_of(server.open_url("c", "m", "r@example.com")))
    assert status == 200
    assert body.startswith(b"GIF89a")


def second_tallyd(listen, redis_server, keys, state_dir, timeout=20):
    """Runs a tallyd that is expected to stop at start; returns its result."""
    return subprocess.run(
        [TALLYD, "--listen", listen, "--redis", redis_server.url, "--keys", keys,
         "--threads", "2", "--state-dir", str(state_dir)],
        capture_output=True, text=True, timeout=timeout)


def test_listen_busy_port_stops_start(make_tally, redis_server, tmp_path):
    """Every loop listens with SO_REUSEPORT, which lets a second tallyd
    bind a busy port and take part of its connections without an error.
    tallyd claims its addresses before its loops bind them."""
    first = make_tally(["--threads", "2"])
    for listen, words in ((first.netloc, "another tallyd listens on this address"),
                          (f"127.0.0.1:{free_port()},{first.netloc}",
                           "another tallyd listens on this address")):
        result = second_tallyd(listen, redis_server, first.keys, tmp_path / "second")
        output = result.stdout + result.stderr
        assert result.returncode != 0, listen
        assert words in output, output
        assert "tallyd.ready" not in output
    assert status_of(exchange(first, request("GET", "/healthz"))) == 200

    # Any other program listening there stops it too.
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = f"127.0.0.1:{other.getsockname()[1]}"
        result = second_tallyd(busy, redis_server, first.keys, tmp_path / "third")
    assert result.returncode != 0
    assert "another process listens on this address" in result.stdout + result.stderr


def test_listen_v4_mapped_same_lock(make_tally, redis_server, tmp_path):
    """[::ffff:127.0.0.1]:P binds the same socket address as 127.0.0.1:P,
    so it takes the same lock: the message names the other tallyd."""
    first = make_tally(["--threads", "2"])
    result = second_tallyd(f"[::ffff:127.0.0.1]:{first.port}", redis_server, first.keys,
                           tmp_path / "second")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "another tallyd listens on this address" in output, output


def read_pid_file(state_dir):
    with open(os.path.join(state_dir, "tallyd.pid")) as f:
        return f.read()


def test_pid_file_names_tallyd(make_tally):
    """state_dir/tallyd.pid names the tallyd that uses state_dir, so that
    SIGHUP reaches that one process, and it goes at a clean exit."""
    server = make_tally()
    assert read_pid_file(server.state_dir) == f"{server.proc.pid}\n"
    assert f"pid_file={server.state_dir}/tallyd.pid" in server.log_text()

    os.kill(int(read_pid_file(server.state_dir)), signal.SIGHUP)
    wait_until(lambda: "signal=SIGHUP" in server.log_text(), "the SIGHUP")
    server.stop()
    assert server.proc.returncode == 0
    assert not os.path.exists(os.path.join(server.state_dir, "tallyd.pid"))


def test_pid_file_of_live_tallyd_stops_start(make_tally, redis_server):
    """A second tallyd with the same state_dir stops at start and leaves
    the first one's pid file alone."""
    first = make_tally()
    result = second_tallyd(f"127.0.0.1:{free_port()}", redis_server, first.keys,
                           first.state_dir)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"is locked by the running tallyd pid {first.proc.pid}" in output, output
    assert "tallyd.ready" not in output
    assert read_pid_file(first.state_dir) == f"{first.proc.pid}\n"


def test_stale_pid_file_replaced(make_tally, redis_server):
    """The pid file of a tallyd that died is taken over, whatever pid it
    names."""
    dead = make_tally()
    dead.proc.kill()
    dead.proc.wait()
    assert read_pid_file(dead.state_dir) == f"{dead.proc.pid}\n"

    listen = f"127.0.0.1:{free_port()}"
    log_path = os.path.join(dead.state_dir, "tallyd.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [TALLYD, "--listen", listen, "--redis", redis_server.url,
             "--keys", dead.keys, "--threads", "2", "--state-dir", dead.state_dir],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "tallyd.ready" in read_log(dead.state_dir), "tallyd.ready")
        assert read_pid_file(dead.state_dir) == f"{proc.pid}\n"
    finally:
        stop_tallyd(proc)
    assert not os.path.exists(os.path.join(dead.state_dir, "tallyd.pid"))


def abstract_lock(name, listening=True):
    """A unix socket holding the abstract name, as a tallyd holds its locks
    (listening) or as some other program might (not listening)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(b"\0" + name.encode())
    if listening:
        sock.listen()
    return sock


def start_tallyd_at(listen, redis_server, keys, state_dir):
    """Starts a tallyd that is expected to serve listen; returns the process
    once /healthz returns 200, its output going to state_dir/tallyd.log."""
    os.makedirs(state_dir)
    log = open(os.path.join(state_dir, "tallyd.log"), "w")
    proc = subprocess.Popen(
        [TALLYD, "--listen", listen, "--redis", redis_server.url, "--keys", keys,
         "--threads", "2", "--state-dir", str(state_dir)],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    host, port = listen.rsplit(":", 1)

    def serves():
        if proc.poll() is not None:
            raise AssertionError("tallyd stopped: " + read_log(state_dir))
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    wait_until(serves, "tallyd to serve " + listen)
    return proc


def read_log(state_dir):
    with open(os.path.join(state_dir, "tallyd.log")) as f:
        return f.read()


def stop_tallyd(proc):
    proc.terminate()
    assert proc.wait(timeout=20) == 0


def test_listen_waits_for_port_lock(make_tally, redis_server, tmp_path):
    """From its claim until its loops have bound, a tallyd holds a lock on
    the port, so that another one naming the port another way (0.0.0.0
    beside 127.0.0.1) cannot find it free in between. A claim waits up to
    2 s for that lock, then gives up."""
    keys = make_tally().keys
    port = free_port()
    started = time.monotonic()
    with abstract_lock(f"tally.listen-port.{port}"):
        result = second_tallyd(f"127.0.0.1:{port}", redis_server, keys, tmp_path / "a")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "another tallyd has been starting on this port" in output, output
    assert time.monotonic() - started >= 2

    lock = abstract_lock(f"tally.listen-port.{port}")
    release = threading.Timer(0.5, lock.close)
    release.start()
    try:
        proc = start_tallyd_at(f"127.0.0.1:{port}", redis_server, keys, tmp_path / "b")
    finally:
        release.join()
    stop_tallyd(proc)
    assert "listen_lock_ignored" not in read_log(tmp_path / "b")


def test_listen_foreign_lock_ignored(make_tally, redis_server, tmp_path):
    """Any user can bind any abstract name. A lock that another user holds,
    or a program that does not listen on it, does not stop tallyd: such a
    process cannot share the port through SO_REUSEPORT, and the bind probe
    still finds any program that listens there."""
    if os.geteuid() != 0:
        pytest.skip("needs root to hold the lock as another user (setpriv)")
    keys = make_tally().keys
    port = free_port()

    # uid 65534 holds the address lock; this test holds the port lock
    # without listening on it.
    holder = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
         "-c", "import socket, sys, time\n"
               "s = socket.socket(socket.AF_UNIX)\n"
               "s.bind(b'\\0' + sys.argv[1].encode())\n"
               "s.listen()\n"
               "print('held', flush=True)\n"
               "time.sleep(60)\n",
         f"tally.listen.2.{port}.7f000001"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with abstract_lock(f"tally.listen-port.{port}", listening=False):
            proc = start_tallyd_at(f"127.0.0.1:{port}", redis_server, keys,
                                   tmp_path / "t")
        stop_tallyd(proc)
    finally:
        holder.kill()
        holder.wait()

    log = read_log(tmp_path / "t")
    assert 'holder_uid=65534 holder_pid=%d reason="held by another user"' % holder.pid in log
    assert 'reason="held by a program that does not listen on it"' in log


def test_listen_lock_with_full_queue_ignored(make_tally, redis_server, tmp_path):
    """Anyone can fill a lock socket's connection queue, so a full queue
    does not count as a tallyd holding the lock."""
    keys = make_tally().keys
    port = free_port()
    held = []
    try:
        for name in (f"tally.listen.2.{port}.7f000001", f"tally.listen-port.{port}"):
            lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lock.bind(b"\0" + name.encode())
            lock.listen(0)
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.connect(b"\0" + name.encode())
            held += [lock, filler]
        proc = start_tallyd_at(f"127.0.0.1:{port}", redis_server, keys, tmp_path / "t")
        stop_tallyd(proc)
    finally:
        for sock in held:
            sock.close()
    log = read_log(tmp_path / "t")
    assert log.count('reason="its connection queue is full, so its user is not known"') == 2


# Runs inside a network namespace of its own (unshare -n), whose kernel
# has one free port to give and whose abstract socket names are private.
PORT_ZERO_SCRIPT = """
import socket, subprocess, sys, time
tallyd, redis_url, keys, state = sys.argv[1:5]
port = 40000
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
    f.write(f"{port} {port}")
command = [tallyd, "--listen", "127.0.0.1:0", "--redis", redis_url, "--keys", keys,
           "--threads", "2", "--state-dir", state]

# Another tallyd between its claim and its bind holds the port lock.
lock = socket.socket(socket.AF_UNIX)
lock.bind(("\\0tally.listen-port.%d" % port).encode())
lock.listen()
busy = subprocess.run(command, capture_output=True, text=True, timeout=30)
output = busy.stdout + busy.stderr
assert busy.returncode != 0, output
assert "each of 8 free ports the kernel picked was being claimed" in output, output
lock.close()

served = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
deadline = time.monotonic() + 20
line = ""
while "tallyd.ready" not in line and time.monotonic() < deadline:
    line = served.stdout.readline()
served.terminate()
served.wait(timeout=20)
assert f"listen=127.0.0.1:{port} " in line, line
print("ok")
"""


def test_listen_port_zero_claims_picked_port(make_tally, redis_server, tmp_path):
    """With port 0 the kernel's port is claimed like any other: while
    another tallyd holds that port's lock, tallyd requests another port,
    and gives up when the kernel has no other to give."""
    if not namespaces_available():
        pytest.skip("needs root to create a network namespace (unshare --net)")
    keys = make_tally().keys
    script = tmp_path / "port_zero.py"
    script.write_text(PORT_ZERO_SCRIPT)
    result = subprocess.run(
        ["unshare", "--net", sys.executable, str(script), TALLYD, redis_server.url, keys,
         str(tmp_path / "state")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_listen_restart_during_drain(make_tally, redis_server, tmp_path):
    """A stopping tallyd closes its listeners when its drain starts, so a
    new one can take the address while the old one still writes its
    events."""
    old = make_tally(["--threads", "2", "--redis-timeout", "5s"])
    pixel = path_of(old.open_url("drain", "a", "r@example.com"))
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        assert old.request("GET", pixel)[0] == 200
        old.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "tallyd.draining" in old.log_text(), "the drain to start")
        assert old.proc.poll() is None  # still waiting on the paused Redis
        new = subprocess.Popen(
            [TALLYD, "--listen", old.netloc, "--redis", redis_server.url,
             "--keys", old.keys, "--threads", "2",
             "--state-dir", str(tmp_path / "new-state")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        def new_serves():
            if new.poll() is not None:
                raise AssertionError("the new tallyd stopped: " + new.stdout.read())
            try:
                raw = exchange(old, request("GET", "/healthz"))
            except OSError:
                return False
            # An old loop that accepted before it saw the stop closes the
            # connection unanswered when its drain starts, as a client that
            # retries would expect.
            return raw != b"" and status_of(raw) == 200

        try:
            wait_until(new_serves, "the new tallyd to serve")
        finally:
            new.terminate()
            new.wait(timeout=20)
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_until(lambda: redis_server.client.hget("c:{drain}", "opens") == "1",
               "the old tallyd's open")


def test_classification_uses_forwarded_address(make_tally, redis_server):
    """An open relayed by a trusted proxy is judged by the address the
    proxy saw; from an untrusted peer the header changes nothing."""
    behind_proxy = make_tally(["--classify-data", CLASSIFY_DATA,
                               "--trusted-proxies", "127.0.0.1"])
    direct = make_tally(["--classify-data", CLASSIFY_DATA])
    image_proxy = {"X-Forwarded-For": "198.51.100.6"}  # in ranges/image_proxy.txt

    pixel = path_of(behind_proxy.open_url("fwd", "a", "r@example.com"))
    assert behind_proxy.request("GET", pixel, headers=image_proxy)[0] == 200
    pixel = path_of(direct.open_url("direct", "a", "r@example.com"))
    assert direct.request("GET", pixel, headers=image_proxy)[0] == 200

    wait_until(lambda: redis_server.client.hget("c:{fwd}", "opens") == "1", "open")
    wait_until(lambda: redis_server.client.hget("c:{direct}", "opens") == "1", "open")
    assert redis_server.client.hget("c:{fwd}", "opens:image_proxy") == "1"
    assert redis_server.client.hget("c:{direct}", "opens:image_proxy") is None
    assert redis_server.client.hget("c:{direct}", "opens:human") == "1"


def listening_sockets(port):
    """Counts the IPv4 sockets of this network namespace that listen on
    port (state 0A in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return sum(1 for row in rows
               if row[3] == "0A" and int(row[1].split(":")[1], 16) == port)


def test_listen_port_zero_shared_by_loops(make_tally, redis_server, tmp_path):
    """With port 0 the kernel picks a port, which tallyd claims like any
    other (so another tallyd cannot bind it in between) and every event
    loop listens on. tallyd.ready names it, and so do the URLs POST
    /v1/sign mints without public_url."""
    keys = make_tally().keys
    sign_token = "5" * 64
    with open(keys, "a") as f:
        f.write(f"api_token.sender = sign {sign_token}\n")
    state_dir = tmp_path / "zero"
    os.makedirs(state_dir)
    log_path = state_dir / "tallyd.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [TALLYD, "--listen", "127.0.0.1:0", "--redis", redis_server.url,
             "--keys", keys, "--threads", "3", "--state-dir", str(state_dir)],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "tallyd.ready" in read_log(state_dir), "tallyd.ready")
        ready = next(line for line in read_log(state_dir).splitlines()
                     if "tallyd.ready" in line)
        port = int(ready.split("listen=127.0.0.1:")[1].split()[0])
        assert port != 0
        assert listening_sockets(port) == 3
        # The address lock is held; the port lock went once the loops bound.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(f"\0tally.listen.2.{port}.7f000001".encode())
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            with pytest.raises(ConnectionRefusedError):
                probe.connect(f"\0tally.listen-port.{port}".encode())

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"campaign": "zero", "message": "a",
                           "destinations": ["https://shop.example/p/1"],
                           "recipients": [{"email": "r@example.com"}]})
        conn.request("POST", "/v1/sign", body=body, headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {sign_token}"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        conn.close()
        assert response.status == 200, answer
        pixel = answer["recipients"][0]["pixel"]
        assert pixel.startswith(f"http://127.0.0.1:{port}/o/"), pixel
    finally:
        stop_tallyd(proc)
