"""tallyctl rewrite against the email corpus in tests/data/emails: every
byte outside the rewritten href values and the pixel stays as it was, and
every rewritten link, clicked through the real tallyd, reaches exactly the
destination its href named."""
import html
import os
import re
import subprocess

import pytest

from conftest import TALLYCTL, path_of

EMAILS = os.path.join(os.path.dirname(__file__), "..", "data", "emails")
BASE = "https://t.example.test"
PIXEL_RE = re.compile(
    rb'<img src="' + re.escape(BASE.encode()) + rb'/o/[A-Za-z0-9_-]+\.gif" width="1" '
    rb'height="1" alt="" style="display:block;width:1px;height:1px;border:0">')
CLICK_RE = re.compile(re.escape(BASE.encode()) + rb"/c/[A-Za-z0-9_-]+")

# email: (tracked href attributes, distinct destinations, hrefs left as they are)
CORPUS = {
    "newsletter.html": (7, 6, [
        b'href="https://shop.example/account/{{ customer_id }}"',
        b'href="mailto:service@shop.example?subject=Question"',
        b'href="tel:+49301234567"', b'href="#top"',
        b'href="https://shop.example/track-me-not" data-tally="off"',
        b'href="https://shop.example/unsubscribe?u=*|UNIQID|*"',
        b'href="https://shop.example/email-preferences?list=spring"',
        b'<a href="https://shop.example/hidden">not a link</a>']),
    "outlook_button.html": (5, 4, []),
    "international.html": (5, 5, [
        b'href="%%view_online_url%%"', b'href="{$profile_url}"',
        b'href="https://shop.example/r/[[referral_code]]"',
        b'href="sms:+4915112345678"', b'href="javascript:void(0)"',
        b'href="https://t.example.test/c/AQIBAAAAAAAA"']),
    "base_absolute.html": (2, 2, [b'<base href="https://shop.example/" target="_blank">']),
    "fragment_no_body.html": (1, 1, []),
}


def rewrite_stream(tally, template, lines, *extra, redis_url=None):
    cmd = [TALLYCTL, "--keys", tally.keys]
    if redis_url:
        cmd += ["--redis", redis_url]
    cmd += ["rewrite", "--base", BASE, "--campaign", "spring", "--message", "a",
            "--template", template, "--stream", *extra]
    return subprocess.run(cmd, input="".join(l + "\n" for l in lines).encode(),
                          capture_output=True, timeout=30)


def parse_records(out):
    """Splits the stream framing into (status, number, payload) tuples."""
    records = []
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split(b" ", 2)
        pos = nl + 1
        if head[0] == b"ok":
            length = int(head[2])
            records.append(("ok", int(head[1]), out[pos:pos + length]))
            assert out[pos + length:pos + length + 1] == b"\n"
            pos += length + 1
        else:
            assert head[0] == b"error"
            records.append(("error", int(head[1]), head[2]))
    return records


def browser_value(raw):
    """What a browser navigates to for a raw href value: references decoded,
    tab and newline removed, surrounding whitespace cut."""
    text = html.unescape(raw.decode("utf-8"))
    return re.sub(r"[\t\n\r]", "", text).strip(" \f")


def align(template, output):
    """Pairs each click URL of output with the raw template bytes it
    replaced, checking that everything between them is unchanged."""
    pixels = PIXEL_RE.findall(output)
    assert len(pixels) == 1
    body = output.replace(pixels[0], b"")
    clicks = CLICK_RE.findall(body)
    segments = CLICK_RE.split(body)
    pairs = []
    pos = 0
    assert template.startswith(segments[0])
    pos = len(segments[0])
    for click, seg in zip(clicks, segments[1:]):
        end = template.index(seg, pos) if seg else len(template)
        if template[pos:end] != click:  # an already tracked link stays as is
            pairs.append((click, template[pos:end]))
        pos = end + len(seg)
    assert pos == len(template)
    return pairs


def location_without_tly(tally, click):
    status, headers, _ = tally.request("GET", path_of(click.decode()))
    assert status == 302
    location = headers["location"].encode("latin-1").decode("utf-8")
    head, sep, fragment = location.partition("#")
    head = re.sub(r"[?&]tly=[A-Za-z0-9_-]+$", "", head)
    return head + sep + fragment


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_bytes_and_destinations(tally, name):
    path = os.path.join(EMAILS, name)
    template = open(path, "rb").read()
    tracked, distinct, untouched = CORPUS[name]

    result = rewrite_stream(tally, path, ["reader@example.com"])
    assert result.returncode == 0, result.stderr
    [(status, number, output)] = parse_records(result.stdout)
    assert (status, number) == ("ok", 1)

    pairs = align(template, output)
    assert len(pairs) == tracked
    assert len({click for click, _ in pairs}) == distinct
    for snippet in untouched:
        assert snippet in output

    for click, raw in pairs:
        expected = browser_value(raw)
        got = location_without_tly(tally, click.replace(BASE.encode(), tally.base.encode()))
        assert got == expected, (raw, got)


def test_pixel_before_body_end(tally):
    path = os.path.join(EMAILS, "newsletter.html")
    result = rewrite_stream(tally, path, ["reader@example.com"])
    [(_, _, output)] = parse_records(result.stdout)
    assert re.search(rb'border:0"></body>\n</html>\n$', output)


def test_relative_under_base_names_line(tally):
    result = rewrite_stream(tally, os.path.join(EMAILS, "base_relative.html"),
                            ["reader@example.com"])
    assert result.returncode == 1
    assert b"line 6: relative link 'p/2' under a <base> element" in result.stderr
    assert result.stdout == b""


def test_stream_records_and_errors(tally):
    path = os.path.join(EMAILS, "fragment_no_body.html")
    result = rewrite_stream(tally, path, ["a@example.com", "", "b@example.com"])
    records = parse_records(result.stdout)
    assert [(s, n) for s, n, _ in records] == [("ok", 1), ("error", 2), ("ok", 3)]
    assert records[1][2] == b"the address is empty"
    assert records[0][2] != records[2][2]  # each recipient has own tokens
    assert result.returncode == 1  # one recipient failed
    assert b"a@example.com" not in result.stderr


def test_stream_reads_hashes(tally):
    path = os.path.join(EMAILS, "fragment_no_body.html")
    by_hash = rewrite_stream(tally, path, ["86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"],
                             "--input", "sha256")
    assert by_hash.returncode == 0, by_hash.stderr
    [(status, _, output)] = parse_records(by_hash.stdout)
    assert status == "ok"
    assert CLICK_RE.search(output)


def test_utm_added_to_destination(tally):
    path = os.path.join(EMAILS, "base_absolute.html")
    result = rewrite_stream(tally, path, ["reader@example.com"], "--utm")
    [(_, _, output)] = parse_records(result.stdout)
    click = CLICK_RE.findall(output)[0].replace(BASE.encode(), tally.base.encode())
    assert location_without_tly(tally, click) == (
        "https://shop.example/p/1?utm_source=newsletter&utm_medium=email&utm_campaign=spring")


def test_csv_writes_files_and_counts_sent(tally, redis_server, tmp_path):
    recipients = tmp_path / "list.csv"
    recipients.write_text('id,email,name\nr1,a@example.com,"Doe, Jane"\n'
                          'r2,B@Example.com,x\nr3,b@example.com ,y\n')
    out = tmp_path / "out"
    for _ in range(2):  # a second run of the same list counts nothing more
        result = tally.ctl("rewrite", "--base", BASE, "--campaign", "spring",
                           "--message", "a", "--template",
                           os.path.join(EMAILS, "newsletter.html"),
                           "--recipients", str(recipients), "--out", str(out),
                           redis_url=redis_server.url)
        assert "3 emails written, 0 recipients failed" in result.stderr
    assert sorted(os.listdir(out)) == ["links.tsv", "r1.html", "r2.html", "r3.html"]
    links = (out / "links.tsv").read_text().splitlines()
    assert links[0] == "1\thttps://shop.example/?utm_source=newsletter&utm_medium=email"
    assert len(links) == 6

    r = redis_server.client
    # B@Example.com and "b@example.com " normalise to the same address.
    assert r.pfcount("c:{spring}:m:a:sent") == 2
    assert r.pfcount("c:{spring}:sent") == 2
    assert 0 < r.ttl("c:{spring}:m:a:sent") <= 400 * 86400
    # tallyctl stats finds a campaign with only sends, as it finds tallyd's.
    assert r.sismember("campaigns", "spring")
    stats = tally.ctl("stats", "--campaign", "spring", redis_url=redis_server.url).stdout
    assert re.search(r"^sent +2$", stats, re.M), stats
    for key in r.scan_iter("*"):
        assert "example.com" not in key
