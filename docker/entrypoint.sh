#!/bin/sh
# Creates the keys file on the first start (in the volume, so restarts keep
# the same secrets and every email already sent keeps working), then runs
# tallyd with the given arguments.
set -eu

keys=/var/lib/tally/keys.conf
if [ ! -f "$keys" ]; then
    (umask 077 && tallyctl keygen > "$keys")
    echo "tally: created $keys with new random secrets; back it up" >&2
fi
mkdir -p /var/lib/tally/state
exec tallyd "$@"
