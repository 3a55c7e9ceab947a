#!/bin/sh
# Rewrite throughput: tallyctl rewrite --stream over RECIPIENTS recipients
# (default 20000) of a generated 60 KB email with 40 distinct links, output
# to a pipe. Prints the wall time, the time per recipient and the output
# size. Run from the repository root after make.
#
#   sh loadtest/rewrite/run.sh [RECIPIENTS]
set -eu

recipients=${1:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bin/tallyctl keygen > "$work/keys.conf"

# 40 link blocks (one table row each) padded with text to about 60 KB.
python3 - "$work/email.html" <<'PY'
import sys
rows = []
for i in range(40):
    rows.append(
        f'<tr><td class="item"><a href="https://shop.example/p/{i}?ref=nl&amp;pos={i}" '
        f'style="color:#0066cc;text-decoration:none">Product {i}</a>'
        f'<p style="margin:0 0 12px 0">' + ("Lorem ipsum dolor sit amet, consectetur "
        "adipiscing elit, sed do eiusmod tempor. " * 17) + "</p></td></tr>\n")
html = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Bench</title></head>"
        "<body><table role=\"presentation\" width=\"100%\">\n" + "".join(rows) +
        "</table><a href=\"https://shop.example/unsubscribe\">Unsubscribe</a></body></html>\n")
open(sys.argv[1], "w").write(html)
PY

seq 1 "$recipients" | sed 's/$/@example.com/' > "$work/recipients.txt"
size=$(wc -c < "$work/email.html")
echo "template: $size bytes, 40 distinct links; recipients: $recipients"

start=$(date +%s.%N)
bin/tallyctl --keys "$work/keys.conf" rewrite --base https://t.shop.example \
    --campaign bench --message a --template "$work/email.html" --stream \
    < "$work/recipients.txt" 2>/dev/null | wc -c > "$work/bytes"
end=$(date +%s.%N)

python3 -c "
s, e, n = $start, $end, $recipients
print(f'wall {e - s:.2f} s, {(e - s) / n * 1000:.3f} ms per recipient, '
      f'output {int(open(\"$work/bytes\").read()) / 1e6:.0f} MB through the pipe')"
