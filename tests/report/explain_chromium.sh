#!/usr/bin/env bash
# The explain report in a real browser: headless Chromium renders the HTML
# of the default market's report to a PNG, which must not be one colour, and
# dumps the DOM, which must hold the optimum price, today's profit and an app
# name as the report prints them (taken from the JSON report of the same
# market). Exits 77 (ctest: skipped) when chromium or python3 is missing;
# scripts/deps.sh test installs both, so in CI it runs.
# Usage: explain_chromium.sh PRILLM_CLI SOURCE_DIR
set -euo pipefail
cli=$1
src=$2
browser=""
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then browser=$(command -v "$name"); break; fi
done
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
if [ -z "$browser" ] || [ -z "$python" ]; then
  echo "skipped: needs chromium and python3 (scripts/deps.sh test installs them)"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-explain-chromium.XXXXXX")
trap 'rm -rf "$work"' EXIT
market=$src/data/default_market.json
target=anthropic/claude-3.5-haiku
"$cli" explain "$market" --target "$target" --out "$work/report.html" --quiet
"$cli" explain "$market" --target "$target" --format json --out "$work/report.json" --quiet

# root needs --no-sandbox; a fresh profile, no GPU, /tmp instead of /dev/shm
# (small in containers), and a time limit so that a hung browser fails the
# test instead of stalling it
run_browser() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --disable-extensions --hide-scrollbars --user-data-dir="$work/profile" "$@" 2>>"$work/browser.log"
}
run_browser --window-size=1000,1400 --screenshot="$work/report.png" "file://$work/report.html" >/dev/null
run_browser --dump-dom "file://$work/report.html" >"$work/dom.html"

"$python" - "$work/report.png" "$work/report.json" "$work/dom.html" <<'PY'
import json, struct, sys, zlib

def png_colours(path):
    """Distinct RGB(A) pixels of an 8-bit truecolour PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), "unexpected PNG format"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    prev, colours, off = bytearray(stride), set(), 0
    for _ in range(height):
        kind, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp * 7):  # every 7th pixel is plenty
            colours.add(bytes(line[x:x + bpp]))
        prev = line
    return width, height, colours

def show(v):
    """The report's number format (src/report/explain_write.c, show())."""
    return "%.0f" % v if 1000 <= abs(v) < 1e15 else "%.4g" % v

png, report, dom = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read()
width, height, colours = png_colours(png)
print("screenshot %dx%d, %d colours sampled" % (width, height, len(colours)))
assert len(colours) > 2, "the screenshot is blank"
wanted = {
    "optimum price": show(report["price"]["price"]),
    "current profit": show(report["price"]["current_profit"]),
    "uplift": show(report["price"]["uplift"]),
    "an app": [a["app"] for a in report["apps"] if a["flow_price"] > 0][0],
}
for what, text in wanted.items():
    print("%s: %s" % (what, text))
    assert text in dom, "%s %r not in the rendered page" % (what, text)
assert "<svg" in dom and "polyline" in dom, "no curve in the rendered page"
print("ok")
PY
