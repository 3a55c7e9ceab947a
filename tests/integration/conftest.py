"""Fixtures for integration tests: a throwaway redis-server on a unix
socket, a real tallyd on a free loopback port, and tallyctl.

Every test talks to tallyd over real HTTP (http.client, which does not
follow redirects) and reads the results from the real Redis.

Tests of classification need requests from chosen addresses: they run
tallyd in a network namespace of its own (unshare, root only) whose
loopback also carries the documentation networks 192.0.2.0/24,
198.51.100.0/24 and 203.0.113.0/24, and send requests from inside it
with replay.py. Redis stays on its unix socket, reachable from both sides.
"""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis as redis_client

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("TALLY_BIN", os.path.join(HERE, "../../bin"))
CLASSIFY_DATA = os.path.join(HERE, "data", "classify")
DOC_NETWORKS = ("192.0.2.1/24", "198.51.100.1/24", "203.0.113.1/24")
TALLYD = os.path.join(BIN, "tallyd")
TALLYCTL = os.path.join(BIN, "tallyctl")
WAIT_SECONDS = 10


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


class RedisServer:
    def __init__(self, directory):
        self.socket = os.path.join(directory, "redis.sock")
        self.url = "unix://" + self.socket
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.socket,
             "--dir", directory, "--save", "", "--appendonly", "no",
             "--logfile", os.path.join(directory, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis_client.Redis(unix_socket_path=self.socket,
                                         decode_responses=True)
        wait_until(self._pings, "redis-server to start")

    def _pings(self):
        try:
            return self.client.ping()
        except redis_client.exceptions.ConnectionError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def free_port_v6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


# What AddressSanitizer, LeakSanitizer and UBSan print when they find
# something; an instrumented tallyd that printed one fails its test.
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")


class Tallyd:
    """A tallyd on a free port of 127.0.0.1, or of ::1 with host="::1".
    extra_args are more command-line flags, such as ("--beacon-rate", "0").
    Later flags win, so extra_args may also replace --threads. extra_keys
    is appended to the keys file. also_listen adds addresses ("[::1]:PORT")
    to --listen. prefix runs tallyd under another program, such as
    valgrind."""

    def __init__(self, directory, redis_url, extra_args=(), extra_keys="",
                 host="127.0.0.1", prefix=(), start_seconds=WAIT_SECONDS,
                 also_listen=()):
        self.keys = os.path.join(directory, "keys.conf")
        with open(self.keys, "w") as f:
            subprocess.run([TALLYCTL, "keygen"], stdout=f, check=True)
        with open(self.keys, "a") as f:
            f.write(extra_keys)
        os.chmod(self.keys, 0o600)
        self.host = host
        self.port = free_port_v6() if ":" in host else free_port()
        self.netloc = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.base = f"http://{self.netloc}"
        self.listen = ",".join([self.netloc, *also_listen])
        self.prefix = list(prefix)
        self.log_path = os.path.join(directory, "tallyd.log")
        self.log = open(self.log_path, "w")
        self.read_token = api_token(self.keys, "dashboard")
        self.state_dir = os.path.join(directory, "state")
        self.proc = subprocess.Popen(
            self._command(redis_url, extra_args), stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_until(self._healthy, "tallyd to serve /healthz", start_seconds)

    def _command(self, redis_url, extra_args):
        return [*self.prefix, TALLYD, "--listen", self.listen, "--redis", redis_url,
                "--keys", self.keys, "--threads", "2", "--state-dir", self.state_dir,
                *extra_args]

    def reload(self):
        """Sends SIGHUP and waits for the new data to be loaded."""
        loaded = self.log_text().count("refdata.loaded")
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log_text().count("refdata.loaded") > loaded,
                   "tallyd to reload its data")

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"tallyd exited with {self.proc.returncode}: "
                                 + open(self.log_path).read())
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        """Sends one request; returns (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def beacon(self, payload, content_type="text/plain;charset=UTF-8"):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.request("POST", "/b", body=body,
                            headers={"Content-Type": content_type})

    def ctl(self, *args, redis_url=None, check=True):
        cmd = [TALLYCTL, "--keys", self.keys]
        if redis_url:
            cmd += ["--redis", redis_url]
        result = subprocess.run(cmd + list(args), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"tallyctl {args} failed: {result.stderr}")
        return result

    def open_url(self, campaign, message, email):
        return self.ctl("url", "open", "--base", self.base, "--campaign", campaign,
                        "--message", message, "--email", email).stdout.strip()

    def click_url(self, campaign, message, email, dest, link=None):
        args = ["url", "click", "--base", self.base, "--campaign", campaign,
                "--message", message, "--email", email, "--to", dest]
        if link is not None:
            args += ["--link", str(link)]
        return self.ctl(*args).stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("tallyd did not stop within 20 s of SIGTERM")
            finally:
                self.log.close()
        self.log.close()
        log = self.log_text()
        for report in SANITIZER_REPORTS:
            assert report not in log, f"tallyd reported a sanitizer error:\n{log}"
        # A negative code is a signal; SIGKILL is the only one a test sends.
        assert self.proc.returncode >= 0 or self.proc.returncode == -9, \
            f"tallyd died of signal {-self.proc.returncode}:\n{log[-4000:]}"


class NamespacedTallyd(Tallyd):
    """tallyd in a network namespace of its own; see the module comment.
    request() goes through replay.py inside the namespace."""

    def _command(self, redis_url, extra_args):
        setup = " && ".join(["ip link set lo up"] +
                            [f"ip addr add {net} dev lo" for net in DOC_NETWORKS])
        return ["unshare", "--net", "sh", "-c", setup + ' && exec "$@"', "tallyd",
                *super()._command(redis_url, extra_args)]

    def replay(self, requests, wait=True):
        """Sends requests (dicts, see replay.py) from inside the namespace;
        returns the results, or the running process when wait is false."""
        proc = subprocess.Popen(
            ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", sys.executable,
             os.path.join(HERE, "replay.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        proc.stdin.write(json.dumps({"port": self.port, "requests": requests}))
        proc.stdin.close()
        if not wait:
            return proc
        return self.results(proc)

    @staticmethod
    def results(proc):
        out = proc.stdout.read()
        err = proc.stderr.read()
        if proc.wait(timeout=30) != 0:
            raise OSError("replay.py failed: " + err.strip().splitlines()[-1])
        return json.loads(out)

    def request(self, method, path, body=None, headers=None, source=None):
        if self.proc.poll() is not None:
            raise OSError("tallyd has exited")
        result = self.replay([{"method": method, "path": path, "body": body,
                               "headers": headers or {}, "source": source}])[0]
        return (result["status"], {"location": result["location"]},
                result["body"].encode("latin-1"))


def namespaces_available():
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    return subprocess.run(["unshare", "--net", "true"],
                          capture_output=True).returncode == 0


def api_token(keys_path, name):
    """The hex of api_token.<name> in a keys file, or None."""
    with open(keys_path) as f:
        for line in f:
            key, _, value = line.partition("=")
            if key.strip() == f"api_token.{name}":
                return value.split()[1]
    return None


def path_of(url):
    """The path of an absolute tally URL, for http.client."""
    return "/" + url.split("/", 3)[3]


def email_sha256(address):
    """The shared normalisation rule: trim, lower-case A-Z only, SHA-256."""
    raw = address.encode("utf-8").strip(b" \t\r\n\x0b\x0c")
    lowered = bytes(c + 32 if 65 <= c <= 90 else c for c in raw)
    return hashlib.sha256(lowered).hexdigest()


def conversion_headers(body, secret, timestamp=None):
    """Returns the headers of a POST /v1/conversions whose body is signed
    with the shop secret (hex), at timestamp or now."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(bytes.fromhex(secret), ts.encode() + b"." + body,
                   hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Tally-Timestamp": ts,
            "X-Tally-Signature": "sha256=" + mac}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a load of 20 s or more, too long for "
                            "make test; runs only with TALLY_SLOW_TESTS=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TALLY_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set TALLY_SLOW_TESTS=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(str(tmp_path))
    yield server
    server.stop()


@pytest.fixture
def tally(tmp_path, redis_server):
    server = Tallyd(str(tmp_path), redis_server.url)
    yield server
    server.stop()


@pytest.fixture
def make_tally(tmp_path, redis_server):
    """Starts tallyd with extra flags: make_tally(["--beacon-rate", "0"]).
    namespaced=True runs it in its own network namespace, host="::1" serves
    on IPv6 loopback, and also_listen adds listen addresses. Every server
    started is stopped and checked at teardown."""
    servers = []

    def start(extra_args=(), namespaced=False, extra_keys="", host="127.0.0.1",
              also_listen=()):
        if namespaced and not namespaces_available():
            pytest.skip("needs root to create a network namespace (unshare --net)")
        directory = tmp_path / f"tallyd{len(servers)}"
        directory.mkdir()
        kind = NamespacedTallyd if namespaced else Tallyd
        server = kind(str(directory), redis_server.url, extra_args, extra_keys,
                      host=host, also_listen=also_listen)
        servers.append(server)
        return server

    yield start
    failures = []
    for server in servers:
        try:
            server.stop()
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
