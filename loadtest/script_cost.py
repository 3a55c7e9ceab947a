#!/usr/bin/env python3
"""Redis CPU per event of the store's Lua scripts, run alone.

Starts a private redis-server on a unix socket (no persistence), loads the
scripts from server/store_scripts.c, and sends each workload through
`redis-cli --pipe`. The cost is Redis's own CPU time (`INFO cpu`, user plus
system) divided by the events, the median of --runs runs, the workloads in
alternation. Nothing but the pipe talks to Redis, so unlike `make bench`
the figure leaves out tallyd, wrk and the sharing of the cores.

    /usr/bin/python3 loadtest/script_cost.py [--runs 3] [--baseline FILE]

--baseline FILE runs READER_TOUCH of another store_scripts.c (an earlier
build's) in alternation with this one's, so both figures come from the
same minutes.

Workloads:
  reader_touch repeated open   1,000 readers open 4 messages 25 times each
  reader_touch first open      100,000 readers open one message once
  campaign_touch, batch of 64  the campaign counts of 64,000 opens, event by
                               event as replays send them
  campaign_sums, batch of 64   the same opens summed as live batches send them
"""
import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS_C = os.path.join(ROOT, "server", "store_scripts.c")
START_TIME = 1796396400
RETENTION = 2592000        # reader_retention's default, 30 days
SLACK = 3600               # touch_ttl_slack(RETENTION)
MESSAGES = ("a", "b", "c", "d")
BATCH = 64
CAMPAIGN_EVENTS = 64000


def script_source(name, path=SCRIPTS_C):
    """Returns the Lua text of `static const char NAME[] = "..." ...;` in
    the C file at path."""
    with open(path) as f:
        text = f.read()
    body = re.search(r"static const char " + name + r"\[\] =(.*?);\n", text, re.S).group(1)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)).encode().decode("unicode_escape")


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reader_touch(sha, reader, message, time, mark):
    """Returns one EVALSHA of READER_TOUCH for a person's open, as store.c
    sends it (a desktop Apple Mail open)."""
    member = f"o|spring|{message}"
    return resp("EVALSHA", sha, 2, f"r:{{{reader}}}:t", f"r:{{{reader}}}:u",
                member, time * 64 + 3 * 8 + 4, "o|spring|", member, mark,
                RETENTION + SLACK, 100, "human", "0", 2, 3, 30, time // SLACK)


def reader_workload(readers, opens_each, path=SCRIPTS_C):
    """Returns the commands of opens_each rounds in which every reader opens
    one of the messages, and the event count. An earlier READER_TOUCH that
    takes fewer arguments ignores the ones it does not read."""
    source = script_source("reader_touch", path)
    sha = sha1(source)
    out = [resp("SCRIPT", "LOAD", source)]
    n = 0
    for i in range(opens_each):
        for r in range(readers):
            n += 1
            out.append(reader_touch(sha, f"R{r:07d}", MESSAGES[(r + i) % 4],
                                    START_TIME + i, f"{n:08x}"))
    return b"".join(out), n


CAMPAIGN_KEYS = (["c:{spring}", "c:{spring}:w", "c:{spring}:l", "c:{spring}:m"]
                 + [f"c:{{spring}}:m:{m}" for m in MESSAGES]
                 + ["c:{spring}:h:2026120414"]
                 + [f"c:{{spring}}:m:{m}:h:2026120414" for m in MESSAGES])


def campaign_workload(summed):
    """Returns the commands that count CAMPAIGN_EVENTS opens in batches of
    BATCH, and the event count. The opens are repeated opens of 4 messages
    in one hour. The keys are those store_batch.c sends: 1 totals, 5-8 the
    messages, 9 the hour, 10-13 the message hours."""
    name = "campaign_sums" if summed else "campaign_touch"
    sha = sha1(script_source(name))
    out = [resp("SCRIPT", "LOAD", script_source(name))]
    seq = 0
    for _ in range(CAMPAIGN_EVENTS // BATCH):
        first, pred = seq + 1, seq
        args = [RETENTION]
        if summed:
            args += ["w1", first, first + BATCH - 1, pred, BATCH]
        args += [len(MESSAGES), *MESSAGES]
        per_message = [0] * len(MESSAGES)
        for i in range(BATCH):
            seq += 1
            m = i % len(MESSAGES)
            per_message[m] += 1
            if not summed:
                args += ["w1", seq, seq - 1, "opens", "human", 0, 5 + m, 9, 10 + m, "", 0]
        if summed:
            for key, n in [(1, BATCH), (9, BATCH)] + [(5 + m, c) for m, c in enumerate(per_message)] \
                    + [(10 + m, c) for m, c in enumerate(per_message)]:
                args += [key, "opens", n, key, "opens:human", n]
        out.append(resp("EVALSHA", sha, len(CAMPAIGN_KEYS), *CAMPAIGN_KEYS, *args))
    return b"".join(out), CAMPAIGN_EVENTS


def redis_cpu(sock):
    info = subprocess.run(["redis-cli", "-s", sock, "INFO", "cpu"], check=True,
                          capture_output=True, text=True, timeout=10).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


def measure(tmp, commands, events):
    """Returns Redis CPU microseconds per event for commands, on a fresh
    redis-server."""
    sock = os.path.join(tmp, "redis.sock")
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock,
                             "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-s", sock, "PING"], capture_output=True,
                             timeout=5).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        before = redis_cpu(sock)
        out = subprocess.run(["redis-cli", "-s", sock, "--pipe"], input=commands,
                             check=True, capture_output=True, timeout=300).stdout
        if b"errors: 0," not in out:
            raise RuntimeError(f"a script failed: {out.decode(errors='replace')}")
        return (redis_cpu(sock) - before) / events * 1e6
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs of each workload")
    p.add_argument("--baseline", metavar="FILE",
                   help="an earlier store_scripts.c whose READER_TOUCH runs too")
    args = p.parse_args()
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        sys.exit("redis-server not found: run sh scripts/install-deps.sh")

    workloads = [
        ("reader_touch repeated open", reader_workload(1000, 25)),
        ("reader_touch first open", reader_workload(100000, 1)),
        (f"campaign_touch, batch of {BATCH}", campaign_workload(False)),
        (f"campaign_sums, batch of {BATCH}", campaign_workload(True)),
    ]
    if args.baseline:
        workloads[2:2] = [
            ("baseline: repeated open", reader_workload(1000, 25, args.baseline)),
            ("baseline: first open", reader_workload(100000, 1, args.baseline)),
        ]
    costs = {name: [] for name, _ in workloads}
    tmp = tempfile.mkdtemp(prefix="tally-script-cost.")
    try:
        for _ in range(args.runs):
            for name, (commands, events) in workloads:
                costs[name].append(measure(tmp, commands, events))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, values in costs.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:32s} {statistics.median(values):6.2f} us per event (runs: {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
