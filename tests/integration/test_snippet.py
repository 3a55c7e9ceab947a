"""GET /tally.js: the webshop snippet as tallyd serves it."""
import os

SNIPPET_MAX_BYTES = 3 * 1024
MINIFIED = os.path.join(os.path.dirname(__file__), "../../build/gen/tally.min.js")


def test_snippet_served_with_headers(tally):
    status, headers, body = tally.request("GET", "/tally.js")
    assert status == 200
    assert headers["content-type"] == "application/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=300"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["etag"].startswith('"')
    assert headers["etag"].endswith('"')
    assert len(headers["etag"]) == 18
    assert headers["content-length"] == str(len(body))


def test_snippet_is_the_minified_build(tally):
    _, _, body = tally.request("GET", "/tally.js")
    with open(MINIFIED, "rb") as f:
        assert body == f.read()


def test_snippet_under_3_kb(tally):
    _, _, body = tally.request("GET", "/tally.js")
    assert 0 < len(body) < SNIPPET_MAX_BYTES, f"tally.js is {len(body)} bytes"


def test_snippet_query_string_ignored(tally):
    _, _, plain = tally.request("GET", "/tally.js")
    status, _, versioned = tally.request("GET", "/tally.js?v=2")
    assert status == 200
    assert versioned == plain


def test_snippet_if_none_match_gets_304(tally):
    _, headers, _ = tally.request("GET", "/tally.js")
    etag = headers["etag"]
    for value in (etag, "W/" + etag, '"other", ' + etag, "*"):
        status, h304, body = tally.request("GET", "/tally.js",
                                           headers={"If-None-Match": value})
        assert status == 304, value
        assert body == b"", value
        assert h304["etag"] == etag, value
        assert h304["cache-control"] == "public, max-age=300", value


def test_snippet_stale_etag_gets_body(tally):
    for value in ('"0000000000000000"', "garbage", '"unterminated', ""):
        status, _, body = tally.request("GET", "/tally.js",
                                        headers={"If-None-Match": value})
        assert status == 200, value
        assert len(body) > 0, value


def test_snippet_head_has_length_no_body(tally):
    _, _, full = tally.request("GET", "/tally.js")
    status, headers, body = tally.request("HEAD", "/tally.js")
    assert status == 200
    assert body == b""
    assert headers["content-length"] == str(len(full))


def test_snippet_post_is_405(tally):
    status, _, _ = tally.request("POST", "/tally.js", body="x",
                                 headers={"Content-Type": "text/plain"})
    assert status == 405
