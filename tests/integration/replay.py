"""Replays HTTP requests from chosen source addresses; run inside the test
network namespace (see conftest.NamespacedTallyd).

Reads {"port": N, "requests": [...]} as JSON on standard input. Each
request has "method", "path" and optional "source" (an address on the
namespace's loopback), "headers", "body" and "pause" (seconds to sleep
before it). Requests with "keepalive": true reuse the previous request's
connection. Prints one JSON list of {"status", "location", "local_port"}.
"""
import http.client
import json
import sys
import time


def main():
    job = json.load(sys.stdin)
    results = []
    conn = None
    for req in job["requests"]:
        time.sleep(req.get("pause", 0))
        if conn is None or not req.get("keepalive"):
            if conn is not None:
                conn.close()
            source = (req["source"], 0) if req.get("source") else None
            conn = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=10,
                                              source_address=source)
            conn.connect()
        conn.request(req["method"], req["path"], body=req.get("body"),
                     headers=req.get("headers", {}))
        resp = conn.getresponse()
        body = resp.read()
        results.append({"status": resp.status,
                        "location": resp.getheader("Location"),
                        "body": body.decode("latin-1"),
                        "local_port": conn.sock.getsockname()[1]})
    if conn is not None:
        conn.close()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
