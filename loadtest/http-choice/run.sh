#!/bin/sh
# run.sh - evhttp against server/http.c, both answering the 43-byte GIF.
#
# Builds loadtest/http-choice/{evhttp_gif,tally_gif}.c with -O2, then drives
# each server in turn with wrk on 127.0.0.1: A B A B A B, RUNS pairs of
# DURATION seconds at CONNECTIONS connections. Prints req/s and p99 latency
# of every run and the median of the per-pair ratios tally/evhttp.
# With taskset available, each server is pinned to CPU 0 and wrk to CPU 1.
#
#   sh loadtest/http-choice/run.sh            # 3 pairs, 5 s, 64 connections
#   RUNS=5 DURATION=10 sh loadtest/http-choice/run.sh
set -eu

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d /tmp/http-choice.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
CFLAGS="-std=c11 -D_GNU_SOURCE -O2 -I$ROOT/server -Wall -Wextra -Werror"
cc $CFLAGS -o "$OUT/evhttp_gif" "$ROOT/loadtest/http-choice/evhttp_gif.c" -levent
cc $CFLAGS -o "$OUT/tally_gif" "$ROOT/loadtest/http-choice/tally_gif.c" \
    "$ROOT/server/http.c" "$ROOT/server/http_response.c" "$ROOT/server/log.c" -levent -lhttp_parser

PIN_SERVER=""
PIN_CLIENT=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER="taskset -c 0"
    PIN_CLIENT="taskset -c 1"
fi

# Runs one server, loads it once, prints "REQ_PER_S P99_MS".
measure() {
    : > "$OUT/port"
    $PIN_SERVER "$OUT/$1" > "$OUT/port" &
    pid=$!
    tries=0
    while [ ! -s "$OUT/port" ] && [ "$tries" -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    port=$(cat "$OUT/port")
    if [ -z "$port" ]; then
        echo "$1 did not print its port within 5 s" >&2
        kill "$pid"
        exit 1
    fi
    timeout $((DURATION + 10)) $PIN_CLIENT wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
        --latency "http://127.0.0.1:$port/o/token.gif" > "$OUT/wrk.txt"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.txt")
    p99=$(awk '$1 == "99%" {v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
               if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v}' "$OUT/wrk.txt")
    errors=$(awk '/Non-2xx|Socket errors/' "$OUT/wrk.txt")
    [ -z "$errors" ] || echo "  $1: $errors" >&2
    echo "$rps $p99"
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc: $(nproc)"
echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, $RUNS pairs, pinning: ${PIN_SERVER:-none}"
printf '%-4s %-8s %12s %10s\n' run server req/s p99_ms
: > "$OUT/ratios"
i=1
while [ "$i" -le "$RUNS" ]; do
    set -- $(measure evhttp_gif)
    a_rps=$1; a_p99=$2
    printf '%-4s %-8s %12s %10s\n' "$i" evhttp "$a_rps" "$a_p99"
    set -- $(measure tally_gif)
    b_rps=$1; b_p99=$2
    printf '%-4s %-8s %12s %10s\n' "$i" tally "$b_rps" "$b_p99"
    awk -v a="$a_rps" -v b="$b_rps" 'BEGIN {printf "%.3f\n", b / a}' >> "$OUT/ratios"
    i=$((i + 1))
done
sort -n "$OUT/ratios" | awk '{v[NR] = $1} END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median req/s ratio tally/evhttp: %.3f\n", m }'
