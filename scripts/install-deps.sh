#!/bin/sh
# Installs the Debian packages tally needs that are missing.
#
#   sh scripts/install-deps.sh        to build and run (make run)
#   sh scripts/install-deps.sh test   also what the tests need (make test)
#   sh scripts/install-deps.sh bench  also what the benchmark needs (make bench)
#
# Needs root for apt-get; as another user it prints the command to run.
set -eu

# nodejs runs terser, which minifies the webshop snippet built into tallyd.
packages="gcc make pkg-config libevent-dev libhiredis-dev libhttp-parser-dev
libjansson-dev libssl-dev libcsv-dev zlib1g-dev redis-server redis-tools curl"
# The build runs npm ci for the dashboard's chart library. A Node.js from
# elsewhere (such as NodeSource, which bundles npm) is used when present.
if ! command -v npm >/dev/null 2>&1; then
    packages="$packages nodejs npm"
fi
if [ "${1:-}" = test ]; then
    packages="$packages libcmocka-dev clang libclang-rt-14-dev python3
python3-pytest python3-redis python3-prometheus-client valgrind chromium
iproute2 util-linux strace cppcheck"
fi
if [ "${1:-}" = bench ]; then
    packages="$packages python3 python3-redis valgrind nginx-light wrk"
fi

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done
# A nodejs built outside Debian (NodeSource) brings its own npm, which
# Debian's npm package would conflict with; ask for npm only when absent.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "tally needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
