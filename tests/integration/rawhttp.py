"""Raw HTTP/1.1 over a socket, for requests that http.client refuses to
send (control bytes, conflicting headers, trickled bytes) and for reading
exactly what tallyd writes. Every read has a deadline."""
import select
import socket
import time

READ_SECONDS = 5


def connect(server, timeout=READ_SECONDS):
    """Opens a TCP connection to a conftest.Tallyd (IPv4 or IPv6)."""
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((server.host, server.port))
    return sock


def read_until_close(sock, seconds=READ_SECONDS):
    """Reads until the server closes the connection or seconds pass;
    returns the bytes. A reset counts as a close."""
    chunks = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def closed_within(sock, seconds):
    """Waits up to seconds for the server to close; returns (closed, bytes
    received meanwhile)."""
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], deadline - time.monotonic())
        if not ready:
            continue
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return True, received
        if not data:
            return True, received
        received += data
    return False, received


def exchange(server, data, seconds=READ_SECONDS):
    """Sends data on a new connection and returns everything the server
    writes until it closes. Requests should end with Connection: close
    unless the server is expected to close by itself."""
    with connect(server) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server responded and closed before reading it all
        return read_until_close(sock, seconds)


def read_response(sock, seconds=READ_SECONDS):
    """Reads one response with a Content-Length (or none, for 204) from a
    kept-alive connection; returns (status, headers dict, body)."""
    data = b""
    deadline = time.monotonic() + seconds
    while b"\r\n\r\n" not in data:
        data += _recv_before(sock, deadline)
    head, _, body = data.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += _recv_before(sock, deadline)
    return status, headers, body[:length]


def _recv_before(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise AssertionError("timed out reading a response")
    sock.settimeout(left)
    data = sock.recv(65536)
    if not data:
        raise AssertionError("connection closed before the response was complete")
    return data


def parse_head(head):
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
    return status, headers


def responses(raw):
    """Splits raw into its responses, by their Content-Length; returns a
    list of (status, headers dict, body). No response to HEAD may be in raw,
    because its Content-Length describes a body that is not there."""
    found = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head {raw[:200]!r}"
        status, headers = parse_head(head)
        length = int(headers.get("content-length", "0"))
        found.append((status, headers, rest[:length]))
        raw = rest[length:]
    return found


def statuses(raw):
    """The status codes of every response in raw, in order."""
    return [status for status, _, _ in responses(raw)]


def status_of(raw):
    """The status of the first response in raw; fails when there is none."""
    found = statuses(raw)
    assert found, f"no HTTP response in {raw[:200]!r}"
    return found[0]


def request(method, path, headers=(), body=b"", close=True):
    """Builds a request; headers is a list of (name, value) byte or str
    pairs, written exactly as given."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode()
    lines = [b(method) + b" " + b(path) + b" HTTP/1.1", b"Host: tally.test"]
    lines += [b(name) + b": " + b(value) for name, value in headers]
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + b(body)
