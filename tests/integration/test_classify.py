"""Verdicts on recorded-shaped traffic: each request comes from the address
and with the headers that kind of client sends, and the counters must split
exactly. Addresses are documentation networks standing in for the published
ranges (data/classify/), served to a tallyd in its own network namespace."""
import json
import os
import shutil
import signal
import time

from conftest import CLASSIFY_DATA, email_sha256, path_of, wait_until

SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Safari/605.1.15")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
               "(via ggpht.com GoogleImageProxy)")
APPLE_PROXY = "Mozilla/5.0"
SHOP = "https://shop.example/p/42"


def get(url, source="127.0.0.1", agent=SAFARI, pause=0, **headers):
    return {"method": "GET", "path": path_of(url), "source": source,
            "headers": {"User-Agent": agent, **headers}, "pause": pause}


def head(url, source="127.0.0.1", agent=SAFARI):
    return {**get(url, source, agent), "method": "HEAD"}


def fields(redis_server, key, prefix):
    return {k: int(v) for k, v in redis_server.client.hgetall(key).items()
            if k.startswith(prefix + ":")}


def start(make_tally, *args):
    return make_tally(["--classify-data", CLASSIFY_DATA, *args], namespaced=True)


def test_verdicts_split_counters_exactly(make_tally, redis_server):
    tally = start(make_tally)
    o = {name: tally.open_url("mix", "a", f"{name}@example.com")
         for name in ("ann", "bob", "cat", "dan", "eve", "fay")}
    c = {name: tally.click_url("mix", "a", f"{name}@example.com", SHOP)
         for name in ("ann", "bob", "cat", "dan", "eve")}
    honeypot = tally.ctl("url", "click", "--base", tally.base, "--campaign", "mix",
                         "--message", "a", "--email", "gus@example.com", "--to", SHOP,
                         "--honeypot").stdout.strip()
    traffic = [
        get(o["ann"]), get(o["ann"]),                          # human
        get(o["bob"], "192.0.2.7", APPLE_PROXY),               # privacy_proxy
        get(o["cat"], "192.0.2.8", APPLE_PROXY),               # privacy_proxy
        get(o["dan"], "192.0.2.9", APPLE_PROXY),               # privacy_proxy
        get(o["eve"], "192.0.2.10", SAFARI),                   # human: Private Relay
        get(o["fay"], "192.0.2.200", APPLE_PROXY),             # human: not Apple's
        get(o["bob"], "198.51.100.5", GMAIL_PROXY),            # image_proxy
        get(o["cat"], "198.51.100.6", SAFARI),                 # image_proxy by range
        get(o["dan"], "203.0.113.50", SAFARI),                 # human: scanners skip opens
        head(o["eve"]),                                        # prefetch
        get(o["fay"], **{"Sec-Purpose": "prefetch;anonymous-client-ip"}),  # prefetch
        get(c["ann"]),                                         # human
        get(c["bob"], "203.0.113.50", SAFARI),                 # scanner by range
        get(c["cat"], "192.0.2.99", "Mozilla/5.0 TestScanner/3"),  # scanner by agent
        get(c["dan"], "198.51.100.5", GMAIL_PROXY),            # human: clicks skip image proxies
        get(c["eve"], Purpose="prefetch"),                     # prefetch
        get(honeypot),                                         # honeypot
    ]
    results = tally.replay(traffic)
    assert [r["status"] for r in results] == [200] * 12 + [302] * 6

    wait_until(lambda: redis_server.client.hget("c:{mix}", "clicks") == "6", "clicks")
    wait_until(lambda: redis_server.client.hget("c:{mix}", "opens") == "12", "opens")
    expected_opens = {"opens:human": 5, "opens:privacy_proxy": 3,
                      "opens:image_proxy": 2, "opens:prefetch": 2}
    expected_clicks = {"clicks:human": 2, "clicks:scanner": 2,
                       "clicks:prefetch": 1, "clicks:honeypot": 1}
    hour = [k for k in redis_server.client.keys("c:{mix}:h:*")]
    assert len(hour) == 1
    for key in ("c:{mix}", "c:{mix}:m:a", hour[0]):
        assert fields(redis_server, key, "opens") == expected_opens, key
        assert fields(redis_server, key, "clicks") == expected_clicks, key

    stats = json.loads(tally.ctl("stats", "--campaign", "mix", "--json",
                                 redis_url=redis_server.url).stdout)
    by = stats["by_verdict"]
    assert by["human"] == {"opens": 5, "clicks": 2}
    assert by["privacy_proxy"] == {"opens": 3, "clicks": 0}
    assert by["scanner"] == {"opens": 0, "clicks": 2}
    assert by["machine"] == {"opens": 5, "clicks": 4}
    assert stats["opens"] == 12 and stats["clicks"] == 6


def test_burst_of_links_is_one_machine(make_tally, redis_server):
    tally = start(make_tally)
    links = [tally.click_url("bst", "a", "ann@example.com", SHOP, link=n)
             for n in (1, 2, 3)]
    tally.replay([get(url, pause=0.1) for url in links])
    wait_until(lambda: redis_server.client.hget("c:{bst}", "clicks:burst") == "3",
               "three burst clicks")
    assert redis_server.client.hget("c:{bst}", "clicks:human") == "0"
    assert redis_server.client.hget("c:{bst}", "clicks") == "3"

    # Nothing to credit: every click of the reader is a machine's.
    tally.beacon({"type": "checkout", "order_id": "b1", "revenue": "5.00",
                  "currency": "EUR", "email_sha256": email_sha256("ann@example.com")})
    wait_until(lambda: redis_server.client.hget("o:{default}:b1", "path") == "none",
               "unattributed order")


def test_honeypot_marks_opens_and_clicks_around_it(make_tally, redis_server):
    tally = start(make_tally)
    opened = tally.open_url("hp", "a", "ann@example.com")
    real = tally.click_url("hp", "a", "ann@example.com", SHOP, link=1)
    later = tally.click_url("hp", "a", "ann@example.com", SHOP, link=2)
    trap = tally.ctl("url", "click", "--base", tally.base, "--campaign", "hp",
                     "--message", "a", "--email", "ann@example.com", "--to", SHOP,
                     "--honeypot").stdout.strip()
    other = tally.click_url("hp", "a", "bob@example.com", SHOP, link=1)
    tally.replay([get(opened), get(real, pause=0.1), get(trap, pause=0.1),
                  get(later, pause=0.1), get(opened, pause=0.1), get(other, pause=0.1)])
    wait_until(lambda: redis_server.client.hget("c:{hp}", "clicks") == "4", "clicks")
    wait_until(lambda: redis_server.client.hget("c:{hp}", "clicks:honeypot") == "3",
               "the honeypot and the clicks around it")
    assert redis_server.client.hget("c:{hp}", "clicks:human") == "1"
    # The open before the trap is moved, the one after it is a honeypot's.
    wait_until(lambda: redis_server.client.hget("c:{hp}", "opens") == "2", "opens")
    assert redis_server.client.hget("c:{hp}", "opens:honeypot") == "2"
    assert redis_server.client.hget("c:{hp}", "opens:human") == "0"


def test_too_early_when_configured(make_tally, redis_server):
    tally = start(make_tally, "--too-early", "1h")
    tally.replay([get(tally.open_url("early", "a", "ann@example.com"))])
    wait_until(lambda: redis_server.client.hget("c:{early}", "opens:too_early") == "1",
               "a too_early open")


def test_reload_keeps_connection_and_applies(make_tally, redis_server, tmp_path):
    data = tmp_path / "classify"
    shutil.copytree(CLASSIFY_DATA, data)
    (data / "ranges" / "scanner.txt").write_text("# empty until reload\n")
    tally = make_tally(["--classify-data", str(data)], namespaced=True)
    first = tally.click_url("rl", "a", "ann@example.com", SHOP)
    second = tally.click_url("rl", "b", "ann@example.com", SHOP)

    # One keep-alive connection spans the reload.
    proc = tally.replay([get(first, "203.0.113.50"),
                         {**get(second, "203.0.113.50", pause=1.5), "keepalive": True}],
                        wait=False)
    time.sleep(0.5)
    (data / "ranges" / "scanner.txt").write_text("203.0.113.0/24\n")
    tally.reload()
    results = tally.results(proc)
    assert [r["status"] for r in results] == [302, 302]
    assert results[0]["local_port"] == results[1]["local_port"]
    wait_until(lambda: redis_server.client.hget("c:{rl}", "clicks") == "2", "clicks")
    assert redis_server.client.hget("c:{rl}:m:a", "clicks:human") == "1"
    assert redis_server.client.hget("c:{rl}:m:b", "clicks:scanner") == "1"


def test_bad_data_file_keeps_old_tables(make_tally, redis_server, tmp_path):
    data = tmp_path / "classify"
    shutil.copytree(CLASSIFY_DATA, data)
    tally = make_tally(["--classify-data", str(data)], namespaced=True)
    (data / "ranges" / "scanner.txt").write_text("203.0.113.0/33\n")
    tally.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "refdata.load_failed" in tally.log_text(), "the failed reload")
    assert "scanner.txt:1" in tally.log_text()
    tally.replay([get(tally.click_url("bad", "a", "ann@example.com", SHOP),
                      "203.0.113.50")])
    wait_until(lambda: redis_server.client.hget("c:{bad}", "clicks:scanner") == "1",
               "a scanner click judged on the old tables")


def test_classify_data_missing_warns(make_tally, tmp_path):
    """A relative classify_data (the default ./data) read from another
    directory finds no file, which turns bot detection off. So the log
    must report it above notice level."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    tally = make_tally(["--classify-data", str(empty)])
    warnings = [line for line in tally.log_text().splitlines()
                if "refdata.classify_data_missing" in line]
    assert len(warnings) == 1
    assert "level=warn" in warnings[0]
    assert str(empty) in warnings[0]

    complete = make_tally(["--classify-data", CLASSIFY_DATA])
    assert "refdata.classify_data_missing" not in complete.log_text()


def test_machines_before_real_click_credit_real_click(make_tally, redis_server):
    for attribute, campaign, credited in (("no", "jy", "2"), ("yes", "jy2", "3")):
        tally = start(make_tally, "--burst-window", "1s",
                      "--attribute-machine-events", attribute)
        email = "reader@example.com"
        urls = [tally.click_url(campaign, "a", email, SHOP, link=n) for n in (1, 2, 3)]
        traffic = [
            get(tally.open_url(campaign, "a", email), "192.0.2.7", APPLE_PROXY),
            get(urls[0], "203.0.113.50"),           # Safe Links follows link 1
            get(urls[1], "127.0.0.1", pause=0.1),   # the reader clicks link 2
            get(urls[2], "203.0.113.51", pause=1.5),  # a later re-scan of link 3
        ]
        tally.replay(traffic)
        wait_until(lambda: redis_server.client.hget(f"c:{{{campaign}}}", "clicks") == "3",
                   "clicks")
        tally.beacon({"type": "checkout", "order_id": f"{campaign}-1", "revenue": "20.00",
                      "currency": "EUR", "email_sha256": email_sha256(email)})
        record_key = f"c:{{{campaign}}}:o:default:{campaign}-1"
        wait_until(lambda: redis_server.client.exists(record_key), "decision record")
        record = redis_server.client.hgetall(record_key)
        assert record["link"] == credited, attribute
        assert record["path"] == "email"
        assert record["machine_events"] == ("included" if attribute == "yes" else "ignored")
        tally.stop()


def test_machine_opens_credit_only_when_configured(make_tally, redis_server):
    for attribute, campaign in (("off", "op"), ("on", "op2")):
        tally = start(make_tally, "--attribute-opens", "on",
                      "--attribute-machine-events", attribute)
        opens = {name: tally.open_url(campaign, "a", f"{name}@example.com")
                 for name in ("apple", "gmail", "both")}
        tally.replay([
            get(opens["apple"], "192.0.2.7", APPLE_PROXY),       # privacy_proxy
            get(opens["gmail"], "198.51.100.5", GMAIL_PROXY),    # image_proxy
            get(opens["both"]),                                  # human
            get(opens["both"], "192.0.2.8", APPLE_PROXY),        # privacy_proxy
        ])
        wait_until(lambda: redis_server.client.hget(f"c:{{{campaign}}}", "opens") == "4",
                   "opens")
        members = set()
        for key in redis_server.client.keys("r:*:t"):
            members.update(m for m in redis_server.client.zrange(key, 0, -1)
                           if m.startswith(f"o|{campaign}|"))
        # A message's opens share one member per verdict.
        assert members == {f"o|{campaign}|a", f"o|{campaign}|a|privacy_proxy",
                           f"o|{campaign}|a|image_proxy"}

        for name in ("apple", "gmail", "both"):
            tally.beacon({"type": "checkout", "order_id": f"{campaign}-{name}",
                          "revenue": "10.00", "currency": "EUR",
                          "email_sha256": email_sha256(f"{name}@example.com")})
        records = {}
        for name in ("apple", "gmail", "both"):
            key = f"o:{{default}}:{campaign}-{name}"
            wait_until(lambda: redis_server.client.exists(key), "decision record")
            records[name] = redis_server.client.hgetall(key)
        policy = "included" if attribute == "on" else "ignored"
        for name, record in records.items():
            assert record["machine_events"] == policy, name
        assert records["both"]["path"] == "email"
        assert records["both"]["touch"] == "open"
        for name in ("apple", "gmail"):
            if attribute == "on":
                assert records[name]["path"] == "email", name
                assert records[name]["touch"] == "open", name
            else:
                assert records[name]["path"] == "none", name
                assert records[name]["reason"] == "no_touch_in_window", name
        tally.stop()
