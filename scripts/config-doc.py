#!/usr/bin/env python3
"""Writes docs/configuration.md from `tallyd --help`, so the page lists
exactly the settings the binary has, with their defaults and units.

    /usr/bin/python3 scripts/config-doc.py bin/tallyd > docs/configuration.md
"""
import re
import subprocess
import sys

HEADER = """# Configuration

tallyd reads its settings from defaults, then from the file named by
`--config FILE`, then from the other flags, which win over the file whatever
their order. Every setting is both a file key and a flag: `click_window = 7d`
in the file is `--click-window 7d` (or `--click-window=7d`) on the command
line.

The file holds `key = value` lines. A line whose first non-blank character
is `#` is a comment (a `#` after a value is part of the value), blank lines
are ignored, and a key may appear once. A flag may be given more than once,
and the last one wins, so that a wrapper script can override a flag it
passes on. An unknown key or a bad value stops tallyd with a message naming
the file and line. Durations take a unit (`ms`, `s`, `m`, `h`, `d`); sizes
take an optional `K` or `M` (1024 and 1048576 bytes). An `on|off` setting
also takes `true`, `yes` or `1` for on, and `false`, `no` or `0` for off.

tally's own secrets never go in this file or on the command line: signing
keys, the reader secret, shop secrets and API tokens live in the keys file
named by `keys` (see [tokens.md](tokens.md) and [api.md](api.md)). A Redis
password is part of the `redis` URL: put that URL in this file rather than in
`--redis`, because other local users can read command lines (tallyd logs
`config.password_in_flag` when the flag contains one). `SIGHUP` rereads the
keys file, the classification data and the suppression list; the other
settings take effect at start.

This page is generated from `tallyd --help` by `scripts/config-doc.py`.

| setting | value | meaning |
| --- | --- | --- |
"""


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/config-doc.py PATH_TO_TALLYD > docs/configuration.md")
    help_text = subprocess.run([sys.argv[1], "--help"], capture_output=True,
                               text=True, check=True).stdout
    options = []
    for line in help_text.splitlines():
        # "  --flag VALUE   text"; a long flag leaves a single space.
        match = re.match(r"^  --(\S+)(?: ([A-Z|a-z0-9:_.]+))?\s+(.*)$", line)
        if match:
            options.append([match.group(1), match.group(2) or "", match.group(3)])
        elif options and line.startswith(" " * 20) and line.strip():
            options[-1][2] += " " + line.strip()
    rows = []
    for flag, value, text in options:
        if flag in ("help", "version", "config"):
            continue
        text = text.replace("|", "\\|")
        value = value.replace("|", "\\|")
        rows.append(f"| `{flag.replace('-', '_')}` (`--{flag}`) | {value} | {text} |")
    sys.stdout.write(HEADER + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
