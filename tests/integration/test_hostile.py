"""Hostile and broken input against the real tallyd over raw sockets: HTTP
limits and timeouts, request smuggling shapes, forged tokens and broken
beacon bodies. After each batch the server must still serve /healthz, and
nothing may have been counted in Redis."""
import base64
import hashlib
import hmac
import http.client
import json
import re
import time

from conftest import path_of, wait_until
from rawhttp import (closed_within, connect, exchange, read_response,
                     read_until_close, request, responses, status_of, statuses)

GIF_LENGTH = 43
SETTLE_SECONDS = 0.5  # time given to writes that must NOT happen
MAX_URL = 16384       # the defaults of http_limits_default
MAX_HEADER_BYTES = 16384
MAX_HEADERS = 64
MAX_BODY = 65536
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def assert_healthy(server):
    assert status_of(exchange(server, request("GET", "/healthz"))) == 200


def order(order_id, **extra):
    body = {"type": "checkout", "order_id": order_id, "revenue": "1.00",
            "currency": "EUR"}
    body.update(extra)
    return body


def post_beacon(body, headers=()):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request("POST", "/b", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body))), *headers],
                   body)


# ---------------------------------------------------------------- limits

def test_long_request_line_gets_414(tally):
    near = "/o/" + "A" * (MAX_URL - 100) + ".gif"
    raw = exchange(tally, request("GET", near))
    assert status_of(raw) == 200  # within the limit: the GIF

    raw = exchange(tally, request("GET", "/o/" + "A" * MAX_URL + ".gif"))
    assert status_of(raw) == 414
    assert b"Connection: close" in raw
    assert_healthy(tally)


def test_big_or_many_headers_get_431(tally):
    big = [("X-Big", "v" * (MAX_HEADER_BYTES + 1))]
    assert status_of(exchange(tally, request("GET", "/healthz", big))) == 431

    # Host and Connection are two of the fields.
    fits = [(f"X-H{i}", "1") for i in range(MAX_HEADERS - 2)]
    assert status_of(exchange(tally, request("GET", "/healthz", fits))) == 200
    too_many = [(f"X-H{i}", "1") for i in range(MAX_HEADERS - 1)]
    assert status_of(exchange(tally, request("GET", "/healthz", too_many))) == 431
    assert_healthy(tally)


def test_big_body_gets_413_before_it_is_sent(tally):
    # Only the headers go out, so the 413 must not wait for the body.
    head = request("POST", "/b", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(MAX_BODY + 1))])
    with connect(tally) as sock:
        sock.sendall(head)
        raw = read_until_close(sock, 3)
    assert status_of(raw) == 413

    # A body of exactly the limit is read and parsed.
    beacon = json.dumps(order("limit-1")).encode()
    body = b" " * (MAX_BODY - len(beacon)) + beacon
    assert status_of(exchange(tally, post_beacon(body))) == 204
    assert_healthy(tally)


def test_big_chunked_body_gets_413(tally):
    chunk = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
    head = request("POST", "/b", [("Content-Type", "text/plain"),
                                  ("Transfer-Encoding", "chunked")])
    raw = exchange(tally, head + chunk * 5 + b"0\r\n\r\n")
    assert status_of(raw) == 413
    assert_healthy(tally)


def test_header_timeout_cuts_off_trickling_client(make_tally):
    """Slowloris: one byte a second never extends the header deadline."""
    server = make_tally(["--header-timeout", "2s"])
    data = request("GET", "/healthz")
    started = time.monotonic()
    with connect(server) as sock:
        for i in range(10):  # at most 10 bytes, 10 s
            sock.sendall(data[i:i + 1])
            closed, raw = closed_within(sock, 1.0)
            if closed or raw:
                break
        if not closed:
            raw += read_until_close(sock, 3)
    elapsed = time.monotonic() - started
    assert status_of(raw) == 408
    assert 1.5 <= elapsed < 4.5, elapsed
    assert_healthy(server)


def test_silent_connection_is_closed_at_header_timeout(make_tally):
    server = make_tally(["--header-timeout", "1s"])
    with connect(server) as sock:
        closed, raw = closed_within(sock, 4)
    assert closed
    assert raw == b""


def test_body_timeout_gets_408(make_tally):
    server = make_tally(["--body-timeout", "1s"])
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(request("POST", "/b", [("Content-Type", "text/plain"),
                                            ("Content-Length", "100")], b'{"ty'))
        raw = read_until_close(sock, 5)
    assert status_of(raw) == 408
    assert time.monotonic() - started < 3.5


def test_idle_keep_alive_connection_is_closed(make_tally):
    server = make_tally(["--idle-timeout", "1s"])
    with connect(server) as sock:
        sock.sendall(request("GET", "/healthz", close=False))
        status, headers, _ = read_response(sock)
        assert status == 200
        assert headers.get("connection") != "close"
        started = time.monotonic()
        closed, raw = closed_within(sock, 8)
    assert closed and raw == b""
    # Well under the 8 s wait, with room for a loaded CI machine.
    assert 0.5 <= time.monotonic() - started < 6


def test_connections_over_limit_get_503(make_tally):
    server = make_tally(["--max-connections", "4", "--threads", "1"])
    held = []
    try:
        for _ in range(4):
            sock = connect(server)
            sock.sendall(request("GET", "/healthz", close=False))
            assert read_response(sock)[0] == 200
            held.append(sock)
        raw = exchange(server, request("GET", "/healthz"))
        assert status_of(raw) == 503
    finally:
        for sock in held:
            sock.close()

    # Freed slots serve again; the server notices the closes promptly.
    deadline = time.monotonic() + 5
    while status_of(exchange(server, request("GET", "/healthz"))) != 200:
        assert time.monotonic() < deadline, "connections were not released"
        time.sleep(0.1)


def test_pipelined_requests_answered_in_order(tally):
    beacon = json.dumps(order("pipe-1")).encode()
    data = (request("GET", "/healthz", close=False)
            + request("GET", "/o/garbage.gif", close=False)
            + post_beacon(beacon)[:-len(beacon)].replace(b"Connection: close\r\n", b"")
            + beacon
            + request("GET", "/nowhere", close=False)
            + request("GET", "/healthz"))
    raw = exchange(tally, data)
    got = responses(raw)
    assert [status for status, _, _ in got] == [200, 200, 204, 404, 200]
    assert got[0][2] == b"ok\n"
    assert got[1][1]["content-type"] == "image/gif"
    assert len(got[1][2]) == GIF_LENGTH
    assert got[4][1]["connection"] == "close"


def test_smuggling_shapes_get_400(tally, redis_server):
    body = json.dumps(order("smuggle-1")).encode()
    length = str(len(body))
    cases = [
        [("Content-Length", length), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "chunked"), ("Content-Length", length)],
        [("Content-Length", length), ("Content-Length", length)],
        [("Content-Length", length), ("Content-Length", "5")],
        [("Transfer-Encoding", "gzip")],
        [("Transfer-Encoding", "chunked, gzip")],
        [("Content-Length", "-1")],
        [("Content-Length", length + "x")],
        [("Content-Length ", length)],
        [("Content Length", length)],
    ]
    for headers in cases:
        raw = exchange(tally, request("POST", "/b", [("Content-Type", "text/plain"),
                                                     *headers], body))
        assert statuses(raw)[:1] == [400], (headers, raw[:100])
        assert len(statuses(raw)) == 1, headers  # nothing smuggled behind it
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0
    assert_healthy(tally)


def test_control_bytes_in_request_line_get_400(tally):
    for target in (b"/o/a\x00b.gif", b"/c/a\x00b", b"/healthz\x7f", b"/o/\x01.gif"):
        raw = exchange(tally, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(raw) == 400, target
    assert status_of(exchange(tally, b"GET /healthz HTTP/2.0\r\n\r\n")) == 505
    assert status_of(exchange(tally, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")) == 400
    assert_healthy(tally)


# ---------------------------------------------------------------- tokens

class KeptAlive:
    """One kept-alive http.client connection, reopened when tallyd closes."""

    def __init__(self, server):
        self.server = server
        self.conn = None

    def get(self, path):
        for _ in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.server.host,
                                                       self.server.port, timeout=10)
            try:
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                return resp.status, resp.getheader("Location"), resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
        raise AssertionError(f"GET {path[:80]} failed twice")

    def close(self):
        if self.conn is not None:
            self.conn.close()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forgeries(token):
    """Every single-character change, every truncation, padding, and the
    version and key id bytes changed inside the decoded token."""
    for i, c in enumerate(token):
        yield token[:i] + B64URL[(B64URL.index(c) + 1) % 64] + token[i + 1:]
        yield token[:i] + B64URL[(B64URL.index(c) + 37) % 64] + token[i + 1:]
        yield token[:i] + "." + token[i + 1:]
    for n in range(1, len(token)):
        yield token[:n]
    for suffix in ("=", "==", "A", "AA", "AAA", "%00", "%20", "~"):
        yield token + suffix
    yield "=" + token
    yield "%41" + token[1:] if token[0] == "A" else "%" + format(ord(token[0]), "02X") + token[1:]
    raw = bytearray(b64url_decode(token))
    for offset, value in ((0, 0x02), (0, 0x00), (0, 0xff), (1, 0x07), (2, 0xfe), (2, 0x00)):
        changed = bytearray(raw)
        changed[offset] = value
        yield b64url_encode(bytes(changed))
    yield b64url_encode(bytes(raw) + b"\x00")
    yield b64url_encode(bytes(raw[:-1]))


def send_forgeries(server, token, make_path):
    """GETs make_path(forged) for every forgery of token on one kept-alive
    connection; returns a list of (forged, status, Location, body)."""
    client = KeptAlive(server)
    results = []
    try:
        for forged in forgeries(token):
            if forged != token:
                results.append((forged, *client.get(make_path(forged))))
    finally:
        client.close()
    assert len(results) > 4 * len(token)
    return results


def test_forged_pixel_tokens_get_gif_count_nothing(tally, redis_server):
    path = path_of(tally.open_url("spring", "a", "reader@example.com"))
    token = path[len("/o/"):-len(".gif")]
    for forged, status, _, body in send_forgeries(tally, token,
                                                  lambda t: "/o/" + t + ".gif"):
        assert status == 200, forged
        assert len(body) == GIF_LENGTH, forged
        assert body.startswith(b"GIF89a"), forged
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0
    assert "pixel.invalid_token" in tally.log_text()
    assert_healthy(tally)


def test_forged_click_tokens_never_redirect(tally, redis_server):
    path = path_of(tally.click_url("spring", "a", "reader@example.com",
                                   "https://shop.example/p/42?x=1#top"))
    token = path[len("/c/"):]
    for forged, status, location, _ in send_forgeries(tally, token,
                                                      lambda t: "/c/" + t):
        assert status == 400, forged
        assert location is None, forged

    # The untouched token still redirects.
    status, headers, _ = tally.request("GET", path)
    assert status == 302
    assert headers["location"].startswith("https://shop.example/p/42?x=1&tly=")
    time.sleep(SETTLE_SECONDS)
    clicks = redis_server.client.hget("c:{spring}", "clicks")
    assert clicks == "1"  # the one real click, and no forged one
    assert_healthy(tally)


def signing_key(server, key_id=1):
    with open(server.keys) as f:
        for line in f:
            name, _, value = line.partition("=")
            if name.strip() == f"signing_key.{key_id}":
                return bytes.fromhex(value.strip())
    raise AssertionError(f"no signing_key.{key_id} in {server.keys}")


def resign(key, body):
    """A token of body with a valid MAC: HMAC-SHA256 cut to 12 bytes."""
    return b64url_encode(body + hmac.new(key, body, hashlib.sha256).digest()[:12])


def test_validly_signed_forgeries_get_400(tally, redis_server):
    """Fields the MAC cannot catch, because the forger signed them with
    the real key: the decoder's own checks must reject them."""
    path = path_of(tally.click_url("spring", "a", "reader@example.com",
                                   "https://shop.example/"))
    body = b64url_decode(path[len("/c/"):])[:-12]
    key = signing_key(tally)
    assert resign(key, body) == path[len("/c/"):]  # the forger's signer is right

    def changed(offset, value):
        forged = bytearray(body)
        forged[offset] = value
        return bytes(forged)

    forgeries = {
        "version 2": changed(0, 2),
        "version 0": changed(0, 0),
        "unknown key id": changed(2, 9),
        "key id 0": changed(2, 0),
        "open kind": changed(1, 1),
        "unknown kind": changed(1, 7),
        "byte before MAC": body + b"\x00",
        "short body": body[:-1],
        "empty campaign": body[:7] + b"\x00" + body[8 + body[7]:],
    }
    for name, forged in forgeries.items():
        status, headers, _ = tally.request("GET", "/c/" + resign(key, forged))
        assert status == 400, name
        assert "location" not in headers, name
        status, _, gif = tally.request("GET", "/o/" + resign(key, forged) + ".gif")
        assert status == 200, name
        assert len(gif) == GIF_LENGTH, name
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0


def test_token_of_wrong_kind_is_rejected(tally, redis_server):
    open_token = path_of(tally.open_url("spring", "a", "r@example.com"))[3:-4]
    click_token = path_of(tally.click_url("spring", "a", "r@example.com",
                                          "https://shop.example/"))[3:]
    status, headers, _ = tally.request("GET", "/c/" + open_token)
    assert status == 400
    assert "location" not in headers
    status, _, body = tally.request("GET", "/o/" + click_token + ".gif")
    assert status == 200
    assert len(body) == GIF_LENGTH
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0


# ---------------------------------------------------------------- bodies

def beacon_cases():
    """(body bytes, word the 400 reason must contain)."""
    def checkout(**fields):
        body = order("bad-1")
        body.update(fields)
        return json.dumps(body).encode()

    nested = 30000  # levels that still fit in the body limit
    return [
        # Encoding: invalid UTF-8, overlong forms, surrogates, NUL bytes.
        (b'{"type":"checkout","order_id":"\xff\xfe","revenue":"1","currency":"EUR"}', "JSON"),
        (b'{"type":"checkout","order_id":"\xc0\xaf","revenue":"1","currency":"EUR"}', "JSON"),
        (b'{"type":"checkout","order_id":"\xed\xa0\x80","revenue":"1","currency":"EUR"}', "JSON"),
        (b'{"type":"checkout","order_id":"a\x00b","revenue":"1","currency":"EUR"}', "JSON"),
        (checkout() + b"\x00", "JSON"),
        (b"\x00" + checkout(), "JSON"),
        (checkout(order_id="a\u0000b"), "JSON"),
        (checkout(customer_id="\u0000"), "JSON"),
        (checkout(order_id="tab\there"), "order_id"),
        (checkout(order_id="x" * 129), "order_id"),
        (b"\xef\xbb\xbf" + checkout(), "JSON"),  # a byte order mark
        # Structure: depth, size, type of the root, duplicates.
        (b"[" * nested + b"]" * nested, "JSON"),
        (b'{"a":' * 10000 + b"1" + b"}" * 10000, "JSON"),
        (b"[" + b"1," * 30000 + b"1]", "object"),
        (b"null", "JSON"),
        (b'"checkout"', "JSON"),
        (b'{"type":"checkout","type":"identify"}', "JSON"),
        (b"   ", "JSON"),
        # Numbers and money.
        (checkout(revenue="1e400"), "revenue"),
        (checkout(revenue="100000000000000000000"), "revenue"),
        (checkout(revenue="1000000000000.01"), "revenue"),
        (b'{"type":"checkout","order_id":"1","revenue":1e400,"currency":"EUR"}', "JSON"),
        (b'{"type":"checkout","order_id":"1","revenue":123456789012345678901234,'
         b'"currency":"EUR"}', "JSON"),
        (checkout(revenue=12.5), "revenue"),
        (checkout(revenue="-1.00"), "revenue"),
        (checkout(revenue="-0"), "revenue"),
        (checkout(revenue="+1"), "revenue"),
        (checkout(revenue="abc"), "revenue"),
        (checkout(revenue=""), "revenue"),
        (checkout(revenue="1,00"), "revenue"),
        (checkout(revenue=" 1"), "revenue"),
        (checkout(revenue="0x10"), "revenue"),
        (checkout(revenue="NaN"), "revenue"),
        (checkout(revenue="Infinity"), "revenue"),
        (checkout(revenue="1.234"), "revenue"),
        (checkout(currency="XYZ"), "currency"),
        (checkout(currency="eur"), "currency"),
        (checkout(currency="EURO"), "currency"),
        (checkout(currency=978), "currency"),
        (checkout(currency=None), "currency"),
        (checkout(shop="a:b"), "shop"),
        (checkout(shop="{x}"), "shop"),
        (checkout(email_sha256="g" * 64), "email_sha256"),
        (checkout(token=["not", "a", "string"]), "token"),
    ]


def test_broken_beacon_bodies_get_400_with_reason(make_tally, redis_server):
    server = make_tally(["--beacon-rate", "0"])
    cases = beacon_cases()
    with connect(server) as sock:
        for body, word in cases:
            sock.sendall(post_beacon(body)
                         .replace(b"Connection: close\r\n", b""))
            status, headers, reason = read_response(sock)
            assert status == 400, (body[:80], reason)
            assert word.encode() in reason, (body[:80], reason)
            assert headers["content-type"].startswith("text/plain")
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0
    assert_healthy(server)

    # Logged, but at most LOG_BURST (10) lines per 10 s for one call site.
    logged = server.log_text().count("event=beacon.rejected")
    assert 1 <= logged <= 10 < len(cases)


def test_over_limit_json_gets_413(tally):
    deep = b"[" * 100000 + b"]" * 100000
    assert status_of(exchange(tally, post_beacon(deep))) == 413
    chunked = request("POST", "/b", [("Content-Type", "text/plain"),
                                     ("Transfer-Encoding", "chunked")])
    body = b"".join(b"%x\r\n" % 10000 + b"[" * 10000 + b"\r\n" for _ in range(10))
    assert status_of(exchange(tally, chunked + body + b"0\r\n\r\n")) == 413
    big = json.dumps(order("big-1", pad="x" * 70000)).encode()
    assert status_of(exchange(tally, post_beacon(big))) == 413
    assert_healthy(tally)


def test_huge_valid_beacon_within_limit_counts_once(tally, redis_server):
    """Unknown fields are ignored, however large, as long as the body fits."""
    body = json.dumps(order("huge-1", pad="x" * 60000, more=list(range(500))))
    assert len(body) < MAX_BODY
    assert status_of(exchange(tally, post_beacon(body.encode()))) == 204
    deadline = time.monotonic() + 5
    while redis_server.client.hget("s:{default}", "orders") != "1":
        assert time.monotonic() < deadline, "order was not recorded"
        time.sleep(0.02)


def test_json_depth_limit(make_tally, redis_server):
    """jansson 2.14 parses up to 2048 levels; a beacon may carry a deep
    unknown field below that and is rejected above it."""
    server = make_tally(["--beacon-rate", "0"])

    def nested(levels):
        body = json.dumps(order(f"deep-{levels}")).encode()
        return body[:-1] + b', "deep": ' + b"[" * levels + b"]" * levels + b"}"

    assert status_of(exchange(server, post_beacon(nested(2000)))) == 204
    raw = exchange(server, post_beacon(nested(2100)))
    assert status_of(raw) == 400
    assert b"JSON" in raw
    wait_until(lambda: redis_server.client.hget("s:{default}", "orders") == "1",
               "the order within the depth limit")
    assert not redis_server.client.exists("o:{default}:deep-2100")


def test_odd_urls_get_clear_answers(tally, redis_server):
    cases = [
        ("/c/%00", 400), ("/c/%FF%FE", 400), ("/c/..%2F..%2Fetc", 400),
        ("/c/" + "A" * 10000, 400), ("/c//", 400),
        ("/o/%00.gif", 200), ("/o/%FF.gif", 200), ("/o/.gif", 200),
        ("/o/x.gif?%00=%FF", 200), ("/o/x.gif%00", 200),
        ("/b?x=%00", 405), ("/healthz/../b", 404), ("/%00", 404),
    ]
    for path, expected in cases:
        raw = exchange(tally, request("GET", path))
        assert status_of(raw) == expected, path
        assert b"\r\nLocation:" not in raw, path
    raw = exchange(tally, b"GET /c/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 400
    raw = exchange(tally, b"GET /o/\xc3\xa4.gif HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(raw) in (200, 400)
    time.sleep(SETTLE_SECONDS)
    assert redis_server.client.dbsize() == 0
    assert_healthy(tally)


def test_logs_name_request_ids_and_no_full_address(tally):
    exchange(tally, request("GET", "/o/" + "A" * MAX_URL + ".gif"))
    exchange(tally, request("GET", "/c/garbage"))
    exchange(tally, post_beacon(b"{"))
    exchange(tally, post_beacon(b"{}"))  # its reason quotes "identify"
    exchange(tally, request("GET", "/nowhere"))
    log = tally.log_text()
    for event in ("http.reject", "click.rejected", "beacon.rejected", "http.not_found"):
        lines = [line for line in log.splitlines() if f"event={event} " in line]
        assert lines, event
        assert all(" id=" in line for line in lines), lines
    assert "peer=127.0.0.0/24" in log
    rejected = [line for line in log.splitlines() if "event=beacon.rejected " in line]
    assert len(rejected) == 2
    for line in rejected:  # one quoted value, readable by a key=value parser
        assert re.search(r' reason="[^"]*"$', line), line
    for line in log.splitlines():
        if "127.0.0.1" in line:
            assert "event=tallyd.start" in line or "event=tallyd.ready" in line, line
