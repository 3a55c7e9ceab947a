#!/bin/sh
# Refreshes the classification data from its public sources.
#
#   sh scripts/refresh-classify-data.sh [DATA_DIR]     (default ./data)
#
# Fetches Apple's published egress ranges into DATA_DIR/ranges/
# privacy_proxy.txt, keeping everything above the file's "# Fetched" line
# (the header and hand-kept blocks such as 17.0.0.0/8), then tells you to
# send tallyd SIGHUP. It needs curl and the network, so the tests never run
# it: they use their own files under tests/integration/data/.
# TODO: Microsoft (endpoints.office.com JSON) and Mimecast (the SPF record
# _netblocks.mimecast.com) are machine-readable too, but ranges/scanner.txt
# is still updated from them by hand (see its header).
set -eu

dir=${1:-./data}
source_url=https://mask-api.icloud.com/egress-ip-ranges.csv
target=$dir/ranges/privacy_proxy.txt
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.csv"' EXIT

curl -fsSL --max-time 120 -o "$tmp.csv" "$source_url"

# The current file up to its fetch line, then one CIDR block per line (the
# CSV's first column), no repeats.
awk '/^# Fetched/ { exit } { print }' "$target" > "$tmp"
echo "# Fetched $(date -u +%Y-%m-%dT%H:%M:%SZ) from $source_url" >> "$tmp"
cut -d, -f1 "$tmp.csv" | grep -E '^[0-9a-fA-F:.]+/[0-9]+$' | sort -u >> "$tmp"

count=$(awk 'fetched && !/^#/ { n++ } /^# Fetched/ { fetched = 1 } END { print n + 0 }' "$tmp")
if [ "$count" -eq 0 ]; then
    echo "refresh: $source_url gave no CIDR blocks; $target is unchanged" >&2
    exit 1
fi
mv "$tmp" "$target"
echo "refresh: wrote $count ranges to $target; now run:" \
     "kill -HUP \"\$(cat STATE_DIR/tallyd.pid)\" (STATE_DIR is tallyd's state_dir, ./state by default)"
