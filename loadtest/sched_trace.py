#!/usr/bin/env python3
"""Scheduler traces of nginx and tallyd under the benchmark's load.

With one worker, wrk, tallyd and Redis share the benchmark's two cores, and
the cores sit idle for part of a tallyd run though nginx keeps both busy.
This script records the kernel's scheduler events (`perf sched record`) for
a short window in the middle of an nginx run and of a tallyd run, under
loadtest/bench.py's load, and reports per run:
  - the share of the cores that each of wrk, the server and Redis used;
  - the share of the cores left idle;
  - of that idle time, the part during which one of those tasks was ready
    to run but waiting on another core, by task. The kernel left that
    capacity unused, since a placement that keeps every core busy would
    have run the waiting task on the idle core;
  - how often Redis was woken, and what the core the kernel chose for it
    was running at that moment: the task that woke it, another task, or
    nothing.
A first tallyd run, not traced, makes every reader's first open or click,
so the traced tallyd run measures repeated events, as bench.py's later
runs do.

    /usr/bin/python3 loadtest/sched_trace.py [--workers 1] [--scenario pixel]
                                             [--runs 1] [--window 0.5]

Needs perf (Debian's linux-perf) and root for the scheduler tracepoints.
Everything runs on loopback and a unix socket, every wrk run is bounded by
--duration, and each trace by --window.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import bench

TRACED = ("wrk", "nginx", "tallyd", "redis-server")
EVENT = re.compile(r"\s*\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)")
FIELD = re.compile(r"(\w+)=(\S+)")


def record(data_path, ready_path, delay, window, failures):
    """Waits for wrk's ready file, then delay seconds, then records the
    scheduler for window seconds into data_path. Runs in its own thread
    beside the run, so it appends an error message to failures instead of
    raising."""
    deadline = time.monotonic() + bench.START_SECONDS + 5
    while not os.path.exists(ready_path):
        if time.monotonic() > deadline:
            failures.append(f"wrk never created {ready_path}")
            return
        time.sleep(0.01)
    time.sleep(delay)
    completed = subprocess.run(["perf", "sched", "record", "-o", data_path, "--",
                                "sleep", str(window)],
                               capture_output=True, text=True, timeout=window + 30)
    if completed.returncode != 0:
        failures.append(f"perf sched record failed: {completed.stderr.strip()}")


def trace_delay(args):
    """Returns the seconds from the start of the load to the trace."""
    return min(1.5, args.duration / 3)


def traced_run(run, harness, args, data_path):
    """Calls run() (one server run of harness) while recording its middle,
    and returns run()'s result."""
    ready = harness.ready_path(harness.run_id + 1)
    failures = []
    thread = threading.Thread(target=record,
                              args=(data_path, ready, trace_delay(args), args.window, failures))
    thread.start()
    try:
        result = run()
    finally:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])
    return result


def analyze(data_path, cpus):
    """Returns (seconds traced, busy share per task name, idle share, the
    share of the cores idle while the named tasks waited elsewhere, and a
    Counter of Redis's wakeups by what their target core was running)."""
    out = subprocess.run(["perf", "script", "-i", data_path, "-F", "cpu,time,event,trace"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    running = {cpu: 0 for cpu in range(cpus)}  # pid on each core, 0 when idle
    waiting = {}                                # runnable pid -> the core it waits on
    names = {}
    busy = collections.Counter()
    lost = collections.Counter()
    redis_wakeups = collections.Counter()
    idle = 0.0
    first = last = None

    for line in out.splitlines():
        match = EVENT.match(line)
        if match is None:
            continue
        cpu, now, event = int(match.group(1)), float(match.group(2)), match.group(3)
        if last is not None:
            span = now - last
            for core, pid in running.items():
                if pid != 0:
                    busy[names.get(pid, "?")] += span
                    continue
                idle += span
                elsewhere = sorted({names.get(p, "?") for p, c in waiting.items()
                                    if c != core and names.get(p) in TRACED})
                if elsewhere:
                    lost[" and ".join(elsewhere)] += span
        else:
            first = now
        last = now

        fields = dict(FIELD.findall(match.group(4).replace(" ==> ", " ")))
        if event == "sched_waking":
            pid, target = int(fields["pid"]), int(fields["target_cpu"])
            names[pid] = fields["comm"]
            if fields["comm"] == "redis-server":
                target_pid = running.get(target, 0)
                if target_pid == 0:
                    redis_wakeups["an idle core"] += 1
                elif target == cpu:
                    redis_wakeups[f"the core of {names.get(target_pid, '?')}, "
                                  "which woke it"] += 1
                else:
                    redis_wakeups[f"the core running {names.get(target_pid, '?')}"] += 1
            if pid not in running.values():
                waiting[pid] = target
        elif event == "sched_migrate_task":
            pid = int(fields["pid"])
            if pid in waiting:
                waiting[pid] = int(fields["dest_cpu"])
        elif event == "sched_switch":
            prev, following = int(fields["prev_pid"]), int(fields["next_pid"])
            names[prev], names[following] = fields["prev_comm"], fields["next_comm"]
            # A task switched out while still runnable was preempted and
            # waits on this core.
            if prev != 0 and fields["prev_state"].startswith("R"):
                waiting[prev] = cpu
            waiting.pop(following, None)
            running[cpu] = following

    if first is None or last <= first:
        raise RuntimeError(f"{data_path}: no scheduler events recorded. Check that "
                           "`perf sched record -- sleep 1` works here")
    seconds = last - first
    capacity = seconds * cpus
    shares = {name: busy[name] / capacity for name in TRACED if busy[name] > 0}
    return (seconds, shares, idle / capacity, {k: v / capacity for k, v in lost.items()},
            redis_wakeups)


def report(label, result, data_path, cpus):
    seconds, shares, idle, lost, redis_wakeups = analyze(data_path, cpus)
    bench.log(f"{label}: {result['rps']:.0f} req/s; {seconds:.2f} s traced on {cpus} cores")
    bench.log("  busy: " + ", ".join(f"{name} {share:.1%}" for name, share in shares.items()))
    waited = sum(lost.values())
    bench.log(f"  idle: {idle:.1%}, of which {waited:.1%} while a task waited on another core")
    for names, share in sorted(lost.items(), key=lambda kv: -kv[1])[:4]:
        bench.log(f"    waiting: {names} {share:.1%}")
    woken = sum(redis_wakeups.values())
    if woken:
        bench.log(f"  Redis woken {woken / seconds:.0f} times a second, onto "
                  + ", ".join(f"{where} {n / woken:.0%}"
                              for where, n in redis_wakeups.most_common(4)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scenario", choices=("pixel", "click"), default="pixel")
    parser.add_argument("--runs", type=int, default=1, help="pairs of nginx and tallyd runs")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--window", type=float, default=0.5, help="seconds traced per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=200000,
                        help="readers, each with one pixel and one click URL")
    args = parser.parse_args()
    if not 0 < args.window <= 5:
        parser.error("--window must be above 0 and at most 5 seconds")
    if not 2 <= args.duration <= 60:
        parser.error("--duration must be 2 to 60 seconds")
    if trace_delay(args) + args.window > args.duration - 1:
        parser.error("--window is too long: the trace must end at least one second "
                     "before the load does (--duration)")

    for tool in ("wrk", "nginx", "redis-server", "perf"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: run sh scripts/install-deps.sh bench "
                     "(perf comes with Debian's linux-perf)")
    if os.geteuid() != 0:
        sys.exit("perf sched record needs root for the scheduler tracepoints")
    cpus = os.cpu_count()
    bench.log(bench.machine())
    bench.log(f"wrk -c{args.connections} -d{args.duration}s -t{args.workers}, "
              f"{args.scenario}, {args.runs} pairs, {args.window} s traced per run")

    with bench.harness_after_first_events("tally-trace.", args) as harness:
        servers = (("nginx", harness.run_nginx), ("tallyd", harness.run_tallyd))
        for number in range(1, args.runs + 1):
            for server, run in servers:
                data = os.path.join(harness.tmp, f"sched.{server}.{number}.data")
                result = traced_run(lambda: run(args.workers, args.scenario),
                                    harness, args, data)
                # run_nginx always sets ok, and run_tallyd sets it from the loss check.
                if not result["ok"]:
                    raise RuntimeError(f"pair {number}: the loss check failed "
                                       "(see the line above)")
                report(f"pair {number} {server}", result, data, cpus)


if __name__ == "__main__":
    main()
