#!/usr/bin/env python3
"""tallyd against nginx with the private Redis under two scheduling policies.

On the benchmark's two cores wrk, tallyd and Redis take turns. Redis sleeps
when it has nothing to read and wakes when tallyd writes more. Under
SCHED_OTHER the waking Redis may preempt the thread that is running, often
wrk. Under SCHED_BATCH it does not preempt, but waits for the running
thread's turn to end or for an idle core. This script measures what that
choice costs or gains, using loadtest/bench.py's servers, load and loss
check. Each round runs nginx, then tallyd once with Redis under each
policy: SCHED_OTHER first in odd rounds and SCHED_BATCH first in even ones.
A first tallyd run makes every reader's first open or click, so the rounds
measure repeated events.

    /usr/bin/python3 loadtest/redis_sched.py [--workers 1] [--scenario pixel]
                                             [--runs 3] [--duration 5]

Per tallyd run it prints:
  - the response rate and the rate into Redis, against that round's nginx;
  - p99 against nginx's;
  - tallyd's and Redis's CPU per recorded event;
  - the events that reached Redis through tallyd's journal, not directly;
  - the voluntary context switches of Redis's main thread (how often it
    went to sleep) per 1,000 recorded events.
The script starts its own Redis, so it changes no other process's policy.
"""
import argparse
import os
import shutil
import statistics
import sys

import bench

POLICIES = (("other", os.SCHED_OTHER), ("batch", os.SCHED_BATCH))


def set_policy(pid, policy):
    """Apply policy to every thread of process pid."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setscheduler(int(tid), policy, os.sched_param(0))


def voluntary_switches(pid):
    """Return the voluntary context switches of process pid's main thread."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise RuntimeError(f"no voluntary_ctxt_switches in /proc/{pid}/status")


def run_round(harness, redis, args, number, results):
    nginx = harness.run_nginx(args.workers, args.scenario)
    bench.log(f"round {number} nginx {nginx['rps']:.0f} req/s, p99 "
              f"{nginx['p99_us'] / 1000:.2f} ms")
    order = POLICIES if number % 2 == 1 else POLICIES[::-1]
    for name, policy in order:
        set_policy(redis.proc.pid, policy)
        before = voluntary_switches(redis.proc.pid)
        run = harness.run_tallyd(args.workers, args.scenario)
        if not run["ok"]:
            raise RuntimeError(f"round {number}, {name}: the loss check failed "
                               f"(see the line above)")
        events = run["recorded"]
        row = {
            "answered": run["rps"] / nginx["rps"],
            "into_redis": run["into_redis_rps"] / nginx["rps"],
            "p99": run["p99_us"] / nginx["p99_us"],
            "tallyd_us": 1e6 * run["tallyd_cpu"] / events,
            "redis_us": 1e6 * run["redis_cpu"] / events,
            "replayed": run["replayed"],
            "redis_voluntary": 1000 * (voluntary_switches(redis.proc.pid) - before) / events,
        }
        results[name].append(row)
        bench.log(f"round {number} {name:5} answered {row['answered']:.3f} into Redis "
                  f"{row['into_redis']:.3f} p99 {row['p99']:.2f}x tallyd "
                  f"{row['tallyd_us']:.2f} us Redis {row['redis_us']:.2f} us "
                  f"replayed {row['replayed']} "
                  f"Redis voluntary switches {row['redis_voluntary']:.1f} per 1,000")
    set_policy(redis.proc.pid, os.SCHED_OTHER)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", choices=("pixel", "click"), default="pixel")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds, each of nginx and tallyd under both policies")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=200000,
                        help="readers, each with one pixel and one click URL")
    args = parser.parse_args()

    for tool in ("wrk", "nginx", "redis-server"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: run sh scripts/install-deps.sh bench")
    bench.log(bench.machine())
    bench.log(f"wrk -c{args.connections} -d{args.duration}s -t{args.workers}, "
              f"{args.scenario}, {args.runs} rounds")

    with bench.harness_after_first_events("tally-sched.", args) as harness:
        results = {name: [] for name, _ in POLICIES}
        for number in range(1, args.runs + 1):
            run_round(harness, harness.redis, args, number, results)
        bench.log("medians:")
        for name, rows in results.items():
            bench.log(f"  {name:5} " + " ".join(
                f"{key} {statistics.median(r[key] for r in rows):.3f}" for key in rows[0]))


if __name__ == "__main__":
    main()
