"""A start-serve-stop cycle of tallyd under valgrind's memcheck: a pixel, a
click and a beacon, then SIGTERM. Any invalid access, or a definite or
indirect leak, fails the test. Skipped for sanitizer builds, which
valgrind cannot run."""
import os
import time
import urllib.parse

import pytest

from conftest import Tallyd, path_of, wait_until

VALGRIND_START_SECONDS = 60  # memcheck slows start-up about twentyfold


@pytest.mark.skipif(bool(os.environ.get("TALLY_SANITIZER")),
                    reason="valgrind cannot run a sanitizer build")
def test_serve_and_stop_without_leaks(tmp_path, redis_server):
    log = tmp_path / "valgrind.log"
    prefix = ("valgrind", "--tool=memcheck", "--leak-check=full",
              "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=1",
              f"--log-file={log}")
    server = Tallyd(str(tmp_path), redis_server.url, ("--threads", "1"),
                    prefix=prefix, start_seconds=VALGRIND_START_SECONDS)
    try:
        pixel = path_of(server.open_url("vg", "m", "r@example.com"))
        assert server.request("GET", pixel)[0] == 200
        click = path_of(server.click_url("vg", "m", "r@example.com",
                                         "https://shop.example/"))
        status, headers, _ = server.request("GET", click)
        assert status == 302
        tly = urllib.parse.parse_qs(
            urllib.parse.urlsplit(headers["location"]).query)["tly"][0]
        assert server.beacon({"type": "checkout", "order_id": "vg-1",
                              "revenue": "1.00", "currency": "EUR",
                              "token": tly})[0] == 204
        assert server.beacon(b"{broken")[0] == 400
        wait_until(lambda: redis_server.client.hget("c:{vg}", "conversions") == "1",
                   "the checkout to be written", VALGRIND_START_SECONDS)
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=VALGRIND_START_SECONDS)
        server.stop()

    report = log.read_text()
    assert server.proc.returncode == 0, report[-6000:]
    assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report
