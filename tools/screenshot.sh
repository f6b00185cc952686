#!/usr/bin/env bash
# Screenshot a bon_lit report.html in headless Chromium (no network, throw-away profile).
#   usage: tools/screenshot.sh REPORT.html OUT.png [WIDTH] [HEIGHT]      (default 1280 x 2400)
#   e.g.   bon-lit demo --out demo_out && tools/screenshot.sh demo_out/report.html docs/report.png
# Needs Chromium: `apt-get install -y chromium` (Debian) — or set CHROMIUM=/path/to/chrome.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
html=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1280}
height=${4:-2400}
[ -f "$html" ] || { echo "screenshot.sh: no such file: $1" >&2; exit 1; }
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$browser" ] || { echo "screenshot.sh: Chromium not found; install it with: apt-get install -y chromium" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size="$width,$height" --screenshot="$out" "file://$html" 2>/dev/null
[ -s "$out" ] || { echo "screenshot.sh: Chromium wrote no screenshot to $out" >&2; exit 1; }
echo "wrote $out (${width}x${height})"
