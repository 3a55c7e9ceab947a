#!/bin/sh
# Serves tally on 127.0.0.1:8080 for a first look (make run).
#
# Keeps its state in ./state (TALLY_STATE_DIR): a keys file created on the
# first run, and, unless TALLY_REDIS names a Redis URL, a private
# redis-server on a unix socket there, stopped again when tallyd exits.
set -eu

state=${TALLY_STATE_DIR:-./state}
listen=${TALLY_LISTEN:-127.0.0.1:8080}
base="http://$listen"
mkdir -p "$state"
state=$(cd "$state" && pwd)

# One make run per state directory: a second one would start another
# redis-server on the same socket and append-only file. The lock is on
# descriptor 9, which redis-server and tallyd inherit, so it lasts as long
# as any of them runs.
exec 9>>"$state/run.lock"
if ! flock -n 9; then
    echo "another make run uses $state; stop it first, or set TALLY_STATE_DIR" >&2
    exit 1
fi

if [ ! -f "$state/keys.conf" ]; then
    (umask 077 && bin/tallyctl keygen > "$state/keys.conf")
    echo "created $state/keys.conf: new random secrets; keep the file private"
fi

redis_pid=""
stop_redis() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
}
trap stop_redis EXIT INT TERM

redis=${TALLY_REDIS:-}
if [ -z "$redis" ]; then
    socket="$state/redis.sock"
    redis-server --port 0 --unixsocket "$socket" --unixsocketperm 700 \
        --dir "$state" --appendonly yes --appendfsync everysec \
        --daemonize no --logfile "$state/redis.log" &
    redis_pid=$!
    tries=0
    until redis-cli -s "$socket" ping >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 50 ]; then
            echo "redis-server did not start; see $state/redis.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    redis="unix://$socket"
    echo "started a private redis-server on $socket"
fi

config_flag=""
[ -f tally.conf ] && config_flag="--config tally.conf"

echo
echo "sample open pixel:"
bin/tallyctl --keys "$state/keys.conf" url open --base "$base" \
    --campaign demo --message welcome --email reader@example.com
echo "sample click URL (to https://example.com/shoes?size=42#reviews):"
bin/tallyctl --keys "$state/keys.conf" url click --base "$base" \
    --campaign demo --message welcome --email reader@example.com \
    --to 'https://example.com/shoes?size=42#reviews'
echo "counters: bin/tallyctl --redis $redis stats --campaign demo"
echo "reload keys and data: kill -HUP \"\$(cat $state/tallyd.pid)\""
echo

# shellcheck disable=SC2086
bin/tallyd --listen "$listen" --redis "$redis" --keys "$state/keys.conf" \
    --state-dir "$state" $config_flag
