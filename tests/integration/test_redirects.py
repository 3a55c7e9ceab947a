"""Destinations arrive intact: the redirect adds tly once, before any
fragment, and keeps every other byte of the signed URL."""
import base64
import subprocess
import urllib.parse

import pytest

from conftest import TALLYCTL, path_of


def redirect(tally, dest):
    url = tally.click_url("c1", "m1", "reader@example.com", dest)
    status, headers, _ = tally.request("GET", path_of(url))
    assert status == 302
    # http.client decodes header bytes as latin-1; undo that to compare bytes.
    return headers["location"].encode("latin-1").decode("utf-8")


def split_tly(location):
    """Returns the location without its tly parameter, and the tly value."""
    head, sep, fragment = location.partition("#")
    base, tly = head.rsplit("tly=", 1)
    return base + sep + fragment, tly


@pytest.mark.parametrize("dest, expected_prefix", [
    ("https://shop.example/", "https://shop.example/?tly="),
    ("https://shop.example/p?a=1&b=2", "https://shop.example/p?a=1&b=2&tly="),
    ("https://shop.example/p?", "https://shop.example/p?tly="),
    ("https://shop.example/p?a=1&", "https://shop.example/p?a=1&tly="),
    ("HTTP://SHOP.EXAMPLE/P", "HTTP://SHOP.EXAMPLE/P?tly="),
])
def test_redirect_adds_tly_once(tally, dest, expected_prefix):
    location = redirect(tally, dest)
    assert location.startswith(expected_prefix)
    assert location.count("tly=") == 1


def test_redirect_keeps_fragment_after_tly(tally):
    dest = "https://shop.example/p?x=1#reviews?not=query&tly=no"
    location = redirect(tally, dest)
    head, _, fragment = location.partition("#")
    assert fragment == "reviews?not=query&tly=no"
    assert head.startswith("https://shop.example/p?x=1&tly=")
    assert split_tly(location)[0] == "https://shop.example/p?x=1&#reviews?not=query&tly=no"


def test_redirect_keeps_percent_encoding_exactly(tally):
    dest = "https://shop.example/a%2Fb/%E2%82%AC?q=%20%2B+x&e=%3D%26"
    location = redirect(tally, dest)
    assert location.startswith(dest + "&tly=")


def test_redirect_keeps_non_ascii_bytes(tally):
    dest = "https://bücher.example/straße?q=größe#über"
    location = redirect(tally, dest)
    assert location.startswith("https://bücher.example/straße?q=größe&tly=")
    assert location.endswith("#über")


def test_redirect_keeps_8k_url(tally):
    dest = "https://shop.example/long?" + "&".join(
        f"k{i}=" + "v" * 60 for i in range(125))
    assert len(dest) > 8000
    location = redirect(tally, dest)
    assert split_tly(location)[0] == dest + "&"


def test_tly_is_a_fresh_verifiable_token(tally, redis_server):
    url = tally.click_url("c1", "m1", "reader@example.com", "https://shop.example/")
    tokens = set()
    for _ in range(3):
        status, headers, _ = tally.request("GET", path_of(url))
        tly = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["location"]).query)["tly"][0]
        tokens.add(tly)
    assert len(tokens) == 3  # each click mints its own click id


@pytest.mark.parametrize("dest", [
    "javascript:alert(1)",
    "ftp://shop.example/",
    "/relative/path",
    "https:///no-host",
    "https://shop.example/a b",
    "https://shop.example/\r\nSet-Cookie: x=1",
    "https://shop.example/?tly=already",
    "",
])
def test_unsafe_destinations_are_refused_at_minting(tally, dest):
    result = tally.ctl("url", "click", "--base", tally.base, "--campaign", "c1",
                       "--message", "m1", "--email", "reader@example.com",
                       "--to", dest, check=False)
    assert result.returncode != 0
    assert result.stderr.strip() != ""


def test_tallyctl_help_and_bad_arguments():
    assert subprocess.run([TALLYCTL, "--help"], capture_output=True).returncode == 0
    bad = subprocess.run([TALLYCTL, "url", "open", "--campaign"], capture_output=True,
                         text=True)
    assert bad.returncode != 0
    assert bad.stderr.strip() != ""


@pytest.mark.parametrize("args, hint", [
    (["--bogus"], "tallyctl --help"),
    (["stats", "--bogus"], "tallyctl stats --help"),
    (["keys", "retire", "--bogus"], "tallyctl keys retire --help"),
    (["url", "click", "--bogus=1"], "tallyctl url click --help"),
])
def test_tallyctl_unknown_option_hint_once(args, hint):
    result = subprocess.run([TALLYCTL, *args], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "unknown option --bogus" in result.stderr
    assert hint in result.stderr
    assert result.stderr.count("--help") == 1


def click_id_of(tly):
    """Returns the 8-byte click id of a visit token: the bytes just before
    its 12-byte MAC (docs/tokens.md)."""
    raw = base64.urlsafe_b64decode(tly + "=" * (-len(tly) % 4))
    return raw[-20:-12]


def test_redirect_click_ids_are_distinct(tally):
    # More clicks than one refill of the server's per-thread random pool
    # (64 click ids), so ids from two refills are compared too.
    path = path_of(tally.click_url("c1", "m1", "reader@example.com",
                                   "https://shop.example/p"))
    ids = set()
    for _ in range(150):
        status, headers, _ = tally.request("GET", path)
        assert status == 302
        ids.add(click_id_of(split_tly(headers["location"])[1]))
    assert len(ids) == 150
    assert bytes(8) not in ids
