"""Key rotation. SIGHUP reloads the keys file without dropping
connections. Links signed before a rotation keep redirecting and
counting. A retired key past its end date redirects but does not count.
Shop secrets and API tokens follow the file. A bad file or a changed
reader secret keeps the old keys."""
import base64
import http.client
import json
import re
import signal
import time

from conftest import conversion_headers, path_of, wait_until


def key_id(url):
    token = re.search(r"/[co]/([A-Za-z0-9_-]+)", url).group(1)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[2]


def reload(tally, event):
    """Sends SIGHUP and waits for the log line event."""
    seen = open(tally.log_path).read().count(event)
    tally.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: open(tally.log_path).read().count(event) > seen,
               f"{event} in the tallyd log")
    time.sleep(0.2)  # workers swap their signers on their next loop turn


def counter(redis_server, field):
    return int(redis_server.client.hget("c:{rot}", field) or 0)


def test_old_link_counts_after_rotation(tally, redis_server):
    old = tally.click_url("rot", "m", "reader@example.com", "https://shop.example/old")
    assert key_id(old) == 1
    conn = http.client.HTTPConnection("127.0.0.1", tally.port, timeout=10)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"

    tally.ctl("keys", "add", "--activate")
    reload(tally, "keys.reloaded")

    # The keep-alive connection opened before the reload still serves.
    conn.request("GET", path_of(old))
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302
    assert resp.getheader("Location").startswith("https://shop.example/old?tly=")
    conn.close()
    wait_until(lambda: counter(redis_server, "clicks") == 1, "the old click to count")

    new = tally.click_url("rot", "m", "reader@example.com", "https://shop.example/new")
    assert key_id(new) == 2
    assert tally.request("GET", path_of(new))[0] == 302
    wait_until(lambda: counter(redis_server, "clicks") == 2, "the new click to count")


def test_retired_key_redirects_without_counting(tally, redis_server):
    old_click = tally.click_url("rot", "m", "reader@example.com", "https://shop.example/p?a=1")
    old_pixel = tally.open_url("rot", "m", "reader@example.com")
    tally.ctl("keys", "add", "--activate")
    tally.ctl("keys", "retire", "--id", "1", "--count-until", "2020-01-01")
    reload(tally, "keys.reloaded")

    status, headers, _ = tally.request("GET", path_of(old_click))
    assert status == 302
    assert headers["location"] == "https://shop.example/p?a=1"  # no tly: not counted
    status, headers, body = tally.request("GET", path_of(old_pixel))
    assert status == 200
    assert headers["content-type"] == "image/gif"

    # A counted event sent after them proves the store has caught up.
    new_click = tally.click_url("rot", "m", "reader@example.com", "https://shop.example/p?a=1")
    assert tally.request("GET", path_of(new_click))[0] == 302
    wait_until(lambda: counter(redis_server, "clicks") == 1, "the new click to count")
    assert counter(redis_server, "opens") == 0
    assert counter(redis_server, "clicks") == 1


def test_bad_file_keeps_old_keys(tally):
    link = tally.click_url("rot", "m", "reader@example.com", "https://shop.example/")
    good = open(tally.keys).read()

    with open(tally.keys, "a") as f:
        f.write("signing_key.9 = not-hex\n")
    reload(tally, "keys.reload_failed")
    assert "keys.conf:" in open(tally.log_path).read()
    assert tally.request("GET", path_of(link))[0] == 302

    changed = re.sub(r"reader_secret = [0-9a-f]+", "reader_secret = " + "ab" * 32, good)
    with open(tally.keys, "w") as f:
        f.write(changed)
    reload(tally, "reader_secret changed")
    assert tally.request("GET", path_of(link))[0] == 302
    assert tally.proc.poll() is None


def stats_status(tally, token):
    """The status of a stats API read with token on a fresh connection."""
    return tally.request("GET", "/v1/campaigns",
                         headers={"Authorization": f"Bearer {token}"})[0]


def set_token_lines(keys_path, lines):
    """Rewrites the api_token lines of a keys file to lines."""
    with open(keys_path) as f:
        kept = [line for line in f if not line.startswith("api_token.")]
    with open(keys_path, "w") as f:
        f.writelines(kept + [line + "\n" for line in lines])


def test_reload_revokes_and_adds_api_tokens(tally):
    old = tally.read_token
    new = "5e" * 32
    assert stats_status(tally, old) == 200
    assert stats_status(tally, new) == 401

    set_token_lines(tally.keys, [f"api_token.ops = read {new}"])
    reload(tally, "keys.reloaded")
    assert "api_tokens=1" in tally.log_text()

    # Both workers serve; a few fresh connections reach each of them.
    for _ in range(6):
        assert stats_status(tally, old) == 401
        assert stats_status(tally, new) == 200


def conversion_status(tally, secret, order_id):
    body = json.dumps({"type": "checkout", "order_id": order_id, "revenue": "5.00",
                       "currency": "EUR"}).encode()
    return tally.request("POST", "/v1/conversions", body=body,
                         headers=conversion_headers(body, secret))[0]


def test_reload_adds_and_revokes_shop_secrets(tally):
    secret = "6b" * 32
    assert conversion_status(tally, secret, "before") == 401

    with open(tally.keys, "a") as f:
        f.write(f"shop_secret.default = {secret}\n")
    reload(tally, "keys.reloaded")
    # Both workers serve; a few fresh connections reach each of them.
    for i in range(6):
        assert conversion_status(tally, secret, f"added-{i}") == 204

    # Revoking a leaked secret must not wait for a restart.
    with open(tally.keys) as f:
        remaining = [line for line in f if not line.startswith("shop_secret.")]
    with open(tally.keys, "w") as f:
        f.writelines(remaining)
    reload(tally, "keys.reloaded")
    for i in range(6):
        assert conversion_status(tally, secret, f"revoked-{i}") == 401


def test_bad_file_keeps_old_api_tokens(tally):
    old = tally.read_token
    set_token_lines(tally.keys, [f"api_token.dashboard = read {old}",
                                 "api_token.broken = read not-hex"])
    reload(tally, "keys.reload_failed")
    log = tally.log_text()
    assert "api_token.broken" in log or "keys.conf:" in log
    assert "old keys and API tokens stay in use" in log
    for _ in range(6):
        assert stats_status(tally, old) == 200



def test_keys_errors_name_keys_file(tally):
    tally.ctl("keys", "add", "--activate")
    for args, words in ((["--id", "2", "--count-until", "2027-01-01"],
                         "key 2 is active in " + tally.keys),
                        (["--id", "1", "--count-until", "2027-13-01"], "is invalid"),
                        (["--id", "9", "--count-until", "2027-01-01"],
                         tally.keys + " has no signing_key.9")):
        result = tally.ctl("keys", "retire", *args, check=False)
        assert result.returncode == 1, args
        assert words in result.stderr, (args, result.stderr)
        assert ".new." not in result.stderr, (args, result.stderr)
