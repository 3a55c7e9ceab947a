#!/usr/bin/python3
"""Measure how fast tallyd journals events with Redis down and replays them
once Redis is back.

Starts its own redis-server (appendonly yes, appendfsync always, unix
socket) and tallyd (2 event loops) in a temporary directory and stops
Redis. Then it sends a bounded load of pixels, clicks and checkouts,
starts Redis again, and times the replay from each loop's reconnect to its
drained journal. Finally it prints the restarted Redis's CPU time and its
costliest commands per event. With --live it keeps Redis up instead and
prints Redis's cost per live event of the same load. Everything it starts
is stopped before it exits.

    loadtest/replay_rate.py --requests 20000 --fsync everysec
    loadtest/replay_rate.py --requests 20000 --live
"""
import argparse
import datetime
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../tests/integration"))
os.environ.setdefault("TALLY_BIN", os.path.join(HERE, "../bin"))

import bench  # noqa: E402
import faultload  # noqa: E402
import test_faults  # noqa: E402
from conftest import wait_until  # noqa: E402


def log_time(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")


def replay_seconds(log):
    """Seconds from each writer's last reconnect to its drained journal."""
    lines = log.splitlines()
    out = {}
    for writer in sorted(set(re.findall(r"event=store.journal_drained writer=(\w+)", log))):
        connected = [log_time(l) for l in lines if "redis.connected" in l and writer in l][-1]
        drained = [log_time(l) for l in lines if "journal_drained" in l and writer in l][-1]
        out[writer] = (drained - connected).total_seconds()
    return out


def print_redis_cost(client, events, cpu_before):
    """Print Redis's CPU time since cpu_before and its costliest commands
    since it started, per event. A script's time in INFO commandstats
    includes the commands it ran, which are also listed on their own."""
    used = bench.redis_cpu_seconds(client) - cpu_before
    print(f"redis: {1e6 * used / events:.1f} us of CPU per event")
    stats = sorted(client.info("commandstats").items(), key=lambda kv: -kv[1]["usec"])
    for name, stat in stats[:5]:
        print(f"  {name[len('cmdstat_'):]}: {stat['calls'] / events:.2f} calls and "
              f"{stat['usec'] / events:.1f} us per event, {stat['usec_per_call']:.1f} us per call")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests to send")
    parser.add_argument("--rate", type=float, default=4000, help="requests per second")
    parser.add_argument("--fsync", default="everysec", choices=["always", "everysec", "no"])
    parser.add_argument("--live", action="store_true",
                        help="keep Redis up and measure its cost per live event instead")
    args = parser.parse_args()
    if args.requests > 200_000:
        parser.error("--requests is limited to 200000")

    root = tempfile.mkdtemp(prefix="tally-replay-")
    os.mkdir(os.path.join(root, "redis"))
    os.mkdir(os.path.join(root, "tallyd"))
    redis = test_faults.AofRedis(os.path.join(root, "redis"))
    tally = None
    try:
        tally = test_faults.RestartableTallyd(
            os.path.join(root, "tallyd"), redis.url,
            ["--journal-fsync", args.fsync, "--redis-timeout", "2s"])
        plan, setup_clicks = test_faults.make_plan(tally, requests=args.requests, run_id="m")
        if args.live:
            cpu_before = bench.redis_cpu_seconds(redis.client)
            faultload.Load(tally.port, plan, args.rate, deadline=600).run()
            # The expected counts depend on which requests got a correct response.
            expected = faultload.expected_counts(plan, setup_clicks)
            wait_until(lambda: test_faults.counters(redis.client) == expected,
                       "every event counted", 600)
            print_redis_cost(redis.client, sum(1 for r in plan if r.correct), cpu_before)
            return
        redis.kill()

        start = time.monotonic()
        faultload.Load(tally.port, plan, args.rate, deadline=600).run()
        spooled = time.monotonic() - start
        answered = sum(1 for r in plan if r.correct)
        size = sum(os.path.getsize(os.path.join(tally.state_dir, f))
                   for f in tally.journal_files())
        print(f"spooled: {answered}/{args.requests} answered correctly in {spooled:.2f} s "
              f"({answered / spooled:.0f} requests/s, journal_fsync={args.fsync})")
        print(f"journal: {size} bytes, {size / max(answered, 1):.0f} per event")

        redis.start()
        expected = faultload.expected_counts(plan, setup_clicks)
        wait_until(lambda: test_faults.counters(redis.client) == expected,
                   "every event counted", 600)
        for writer, seconds in replay_seconds(tally.read_log()).items():
            print(f"replay: loop {writer} drained {seconds:.2f} s after reconnecting")
        print_redis_cost(redis.client, answered, 0.0)
    finally:
        if tally is not None:
            tally.stop()
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
