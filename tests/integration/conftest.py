"""Fixtures for integration tests: a throwaway redis-server on a unix
socket, a real tallyd on a free loopback port, and tallyctl.

Every test talks to tallyd over real HTTP (http.client, which does not
follow redirects) and reads the results from the real Redis.
"""
import hashlib
import http.client
import json
import os
import socket
import subprocess
import time

import pytest
import redis as redis_client

BIN = os.environ.get("TALLY_BIN", os.path.join(os.path.dirname(__file__), "../../bin"))
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


class Tallyd:
    def __init__(self, directory, redis_url, extra_args=(), extra_keys=""):
        self.keys = os.path.join(directory, "keys.conf")
        with open(self.keys, "w") as f:
            subprocess.run([TALLYCTL, "keygen"], stdout=f, check=True)
        with open(self.keys, "a") as f:
            f.write(extra_keys)
        os.chmod(self.keys, 0o600)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(directory, "tallyd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [TALLYD, "--listen", f"127.0.0.1:{self.port}", "--redis", redis_url,
             "--keys", self.keys, "--threads", "2", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, "tallyd to serve /healthz")

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
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
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
            self.proc.wait(timeout=20)
        self.log.close()


def path_of(url):
    """The path of an absolute tally URL, for http.client."""
    return "/" + url.split("/", 3)[3]


def email_sha256(address):
    """The shared normalisation rule: trim, lower-case A-Z only, SHA-256."""
    raw = address.encode("utf-8").strip(b" \t\r\n\x0b\x0c")
    lowered = bytes(c + 32 if 65 <= c <= 90 else c for c in raw)
    return hashlib.sha256(lowered).hexdigest()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(str(tmp_path))
    yield server
    server.stop()


@pytest.fixture
def make_tally(tmp_path, redis_server):
    """Starts tallyd with extra flags and keys-file lines; one per test."""
    started = []

    def start(*extra_args, extra_keys=""):
        directory = tmp_path / f"tallyd{len(started)}"
        directory.mkdir()
        server = Tallyd(str(directory), redis_server.url, extra_args, extra_keys)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tally(tmp_path, redis_server):
    server = Tallyd(str(tmp_path), redis_server.url)
    yield server
    server.stop()
