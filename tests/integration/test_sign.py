"""POST /v1/sign: bearer tokens with scopes, minted URLs that redirect to
their destinations, sent counting, and no email address in logs or
Redis."""
import json
import subprocess

import pytest

from conftest import TALLYD, Tallyd, free_port, path_of

SIGN = "5" * 64
READ = "7" * 64
TOKENS = f"api_token.sender = sign {SIGN}\napi_token.viewer = read {READ}\n"


@pytest.fixture
def signer(tmp_path, redis_server):
    server = Tallyd(str(tmp_path), redis_server.url, extra_keys=TOKENS)
    yield server
    server.stop()


def sign(server, payload, token=SIGN):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, _, body = server.request("POST", "/v1/sign", body=json.dumps(payload),
                                     headers=headers)
    return status, json.loads(body) if body else None


BATCH = {
    "campaign": "spring", "message": "a",
    "destinations": ["https://shop.example/p/1", "https://shop.example/p/2?x=1#top"],
    "recipients": [{"email": "Secret.Person@example.com"},
                   {"email_sha256": "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"},
                   {"email": "secret.person@example.com "}],
}


def test_sign_needs_sign_scope(signer):
    assert sign(signer, BATCH, token=None)[0] == 401
    assert sign(signer, BATCH, token="0" * 64)[0] == 401
    assert sign(signer, BATCH, token="short")[0] == 401
    assert sign(signer, BATCH, token=READ)[0] == 403


def test_sign_mints_working_urls(signer, redis_server):
    status, answer = sign(signer, BATCH)
    assert status == 200
    assert answer["links"] == [{"link": 1, "destination": BATCH["destinations"][0]},
                               {"link": 2, "destination": BATCH["destinations"][1]}]
    assert len(answer["recipients"]) == 3
    first = answer["recipients"][0]
    status, headers, _ = signer.request("GET", path_of(first["pixel"]))
    assert status == 200
    assert headers["content-type"] == "image/gif"
    for click, dest in zip(first["clicks"], BATCH["destinations"]):
        status, headers, _ = signer.request("GET", path_of(click))
        assert status == 302
        head, sep, frag = dest.partition("#")
        assert headers["location"].startswith(head)
        assert headers["location"].endswith(sep + frag)

    r = redis_server.client
    # Recipients 1 and 3 are one address, so two readers were minted.
    wait = __import__("conftest").wait_until
    wait(lambda: r.pfcount("c:{spring}:m:a:sent") == 2, "sent to be counted")
    assert r.pfcount("c:{spring}:sent") == 2
    sign(signer, BATCH)
    wait(lambda: signer.request("GET", "/healthz")[0] == 200, "tallyd")
    assert r.pfcount("c:{spring}:m:a:sent") == 2
    assert "spring" in r.smembers("campaigns")

    log = open(signer.log_path).read().lower()
    assert "secret.person" not in log
    for key in r.scan_iter("*"):
        assert "secret" not in key.lower()


@pytest.mark.parametrize("payload, reason", [
    ({**BATCH, "campaign": "bad id"}, "campaign and message"),
    ({**BATCH, "destinations": ["javascript:alert(1)"]}, "destination"),
    ({**BATCH, "recipients": []}, "recipients must be"),
    ({**BATCH, "recipients": [{"email": "  "}]}, "email is not a non-empty"),
    ({**BATCH, "recipients": [{"email_sha256": "zz"}]}, "64 hex"),
])
def test_sign_rejects_bad_batches(signer, payload, reason):
    status, answer = sign(signer, payload)
    assert status == 400
    assert reason in answer["error"]


@pytest.mark.parametrize("destination, rule", [
    ("https://shop.example/a b", "contains a control byte, space or DEL"),
    ("ftp://shop.example/p", "must start with http:// or https://"),
    ("https:///p", "has no host"),
    ("https://shop.example/p?tly=x", "the attribution parameter (tly)"),
    (42, "is not a string"),
])
def test_sign_names_bad_destination(signer, destination, rule):
    """The 400 names the destination by its index, and the rule it breaks."""
    payload = {**BATCH, "destinations": [BATCH["destinations"][0], destination]}
    status, answer = sign(signer, payload)
    assert status == 400
    assert answer["error"].startswith("destinations[1] "), answer["error"]
    assert rule in answer["error"]


@pytest.mark.parametrize("destination, tag", [
    ("https://shop.example/p?name={{name}}", "{{ }}"),
    ("https://shop.example/*|FNAME|*", "*| |*"),
    ("{{unsubscribe_url}}", "{{ }}"),
])
def test_sign_rejects_merge_tags(signer, redis_server, destination, tag):
    """A merge tag is filled in after signing, so the redirect would keep
    it unfilled. tallyctl rewrite leaves such links untracked."""
    payload = {**BATCH, "campaign": "tagged",
               "destinations": [BATCH["destinations"][0], destination]}
    status, answer = sign(signer, payload)
    assert status == 400
    assert answer["error"].startswith(f"destinations[1] contains the merge tag {tag}:"), \
        answer["error"]
    assert redis_server.client.pfcount("c:{tagged}:sent") == 0


def test_url_click_rejects_merge_tags(signer):
    dest = "https://shop.example/p?name={{name}}"
    result = signer.ctl("url", "click", "--base", signer.base, "--campaign", "c",
                        "--message", "m", "--email", "r@example.com", "--to", dest,
                        check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"--to '{dest}' contains the merge tag {{{{ }}}}" in result.stderr, result.stderr


def test_url_base_follows_public_url_rule(signer):
    """tallyctl url --base takes the bases tallyd accepts as public_url, so
    both mint the same URLs; a quote would break the HTML attribute."""
    result = signer.ctl("url", "open", "--base", "http://t.example/a'b", "--campaign",
                        "c", "--message", "m", "--email", "r@example.com", check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--base 'http://t.example/a'b' is invalid" in result.stderr, result.stderr


def test_sign_caps_response_size(signer, redis_server):
    """A click URL carries its destination, so a 60 KB request of 1000
    recipients and 100 long destinations would get a response of about
    67 MB. tallyd rejects a request above 8 MiB and reports how many
    recipients fit."""
    destinations = [f"https://shop.example/p/{j}?" + "q" * 300 for j in range(100)]
    recipients = [{"email": f"r{i}@x"} for i in range(1000)]
    payload = {"campaign": "big", "message": "a", "destinations": destinations,
               "recipients": recipients}
    assert len(json.dumps(payload)) < 64 * 1024
    status, answer = sign(signer, payload)
    assert status == 400
    fit = int(answer["error"].split("at most ")[1].split()[0])
    assert 0 < fit < 1000

    status, _, body = signer.request("POST", "/v1/sign", body=json.dumps(
        {**payload, "recipients": recipients[:fit]}), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {SIGN}"})
    assert status == 200
    assert len(body) <= 8 << 20
    assert len(json.loads(body)["recipients"]) == fit
    # A rejected request counts nothing as sent. The smaller one counts its recipients.
    wait = __import__("conftest").wait_until
    wait(lambda: redis_server.client.pfcount("c:{big}:sent") > 0.9 * fit, "sent")


@pytest.mark.parametrize("public_url", ["t.shop.example", "ftp://x",
                                        "https://t.shop.example/?a=1"])
def test_invalid_public_url_stops_start(tmp_path, public_url):
    """A public_url that cannot prefix a URL stops tallyd at start, instead
    of failing every POST /v1/sign with 500."""
    result = subprocess.run(
        [TALLYD, "--listen", f"127.0.0.1:{free_port()}", "--public-url", public_url,
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert f"--public-url '{public_url}' is invalid: use an http:// or https:// URL" \
        in result.stderr, result.stderr
    assert "tallyd.start" not in result.stdout + result.stderr


def test_sign_uses_the_first_listen_address(make_tally):
    """Without public_url, URLs start with the first listen address, not
    with the whole list."""
    port6 = __import__("conftest").free_port_v6()
    server = make_tally(extra_keys=TOKENS, also_listen=[f"[::1]:{port6}"])
    status, answer = sign(server, BATCH)
    assert status == 200
    pixel = answer["recipients"][0]["pixel"]
    assert pixel.startswith(f"http://{server.netloc}/o/"), pixel
    assert server.request("GET", path_of(pixel))[0] == 200
