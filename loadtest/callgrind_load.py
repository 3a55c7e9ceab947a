#!/usr/bin/python3
"""Instructions per request of tallyd under wrk load, counted by callgrind.

bench.py's callgrind figure sends requests one at a time on one
connection, so every request is its own loop turn and its own Redis batch,
and every open is a first open. This script measures the benchmark's load
instead. A plain tallyd run makes every reader's first open. Then tallyd
runs with one thread under callgrind while wrk sends repeated opens (or
clicks) on 64 connections, and the program's total is divided by the
requests that got a response. Start-up and shutdown are included: about
15 million instructions, 2 to 3 % of the total of a 10 s run (measured
with no request on 2026-12-05).

    make bench-deps all
    /usr/bin/python3 loadtest/callgrind_load.py --seconds 10 --out /tmp/cg.out

Everything runs on loopback and unix sockets, as in bench.py, and wrk is
bounded by --seconds.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="pixel", choices=("pixel", "click"))
    p.add_argument("--seconds", type=int, default=10, help="wrk duration under callgrind")
    p.add_argument("--tokens", type=int, default=20000, help="readers whose URLs wrk rotates")
    p.add_argument("--out", default=None, help="keep callgrind's output file here")
    a = p.parse_args()
    if not 1 <= a.seconds <= 120:
        p.error("--seconds must be 1 to 120")

    args = argparse.Namespace(connections=64, duration=4, tokens=a.tokens, runs=1)
    with bench.private_redis("tally-cg.") as (tmp, redis):
        b = bench.Bench(args, tmp, redis)
        b.run_tallyd(1, a.scenario)  # makes every reader's first open or click
        out = a.out or os.path.join(tmp, "callgrind.out")
        proc, port = b.start_tallyd(
            1, os.path.join(tmp, "callgrind.log"),
            wrapper=("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out))
        try:
            args.duration = a.seconds
            res = bench.run_wrk(port, 1, args, a.scenario, b.wrk_extra(a.scenario))
        finally:
            bench.stop_process(proc, seconds=120)
        total = bench.callgrind_total(out)
        print(f"{a.scenario}: {total / res['answered']:.0f} instructions per request "
              f"({res['answered']} requests, {total} instructions)")


if __name__ == "__main__":
    main()
