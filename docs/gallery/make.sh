#!/usr/bin/env bash
# Rebuilds the pictures of docs/gallery.md from two small digits runs (a few minutes on a CPU),
# with the demo's likelihood: a discretised logistic of the digits' 17 grey levels, exact for them.
# Needs: the venv (make dev), rsvg-convert (librsvg2-bin), pdflatex + TikZ (make tex), pdftoppm
# (poppler-utils), chromium for the report screenshot; optional: typst (pip) for the Typst one.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
OUT=docs/gallery
RUNS=${RUNS:-runs/gallery}
LIKELIHOOD=(--likelihood discretized-logistic)
[ -d "$RUNS/latent8" ] || $BIN/vaekit train --data digits "${LIKELIHOOD[@]}" --latent 8 --out "$RUNS/latent8" -q
[ -d "$RUNS/latent2" ] || $BIN/vaekit train --data digits "${LIKELIHOOD[@]}" --latent 2 --out "$RUNS/latent2" -q
$BIN/vaekit evaluate "$RUNS/latent2" -q > /dev/null  # writes eval-test-k5000.json for the report

for kind in samples recon interp traverse curves; do
  $BIN/vaekit plot "$RUNS/latent8" "$kind" --out "$OUT/$kind.png"
done
$BIN/vaekit plot "$RUNS/latent8" latents --out "$OUT/latents-pca.png"
$BIN/vaekit plot "$RUNS/latent8" latents --method tsne --out "$OUT/latents-tsne.png"
$BIN/vaekit plot "$RUNS/latent2" manifold --out "$OUT/manifold.png"

$BIN/vaekit diagram --preset seed --out "$OUT/seed.svg"
rsvg-convert "$OUT/seed.svg" -o "$OUT/diagram-seed-svg.png"
$BIN/vaekit diagram "$RUNS/latent8" --out "$OUT/diagram-digits.svg"
rsvg-convert -z 0.8 "$OUT/diagram-digits.svg" -o "$OUT/diagram-digits-svg.png"
rm "$OUT/diagram-digits.svg"
tmp=$(mktemp -d)
$BIN/vaekit diagram --preset seed --format tikz --out "$tmp/seed.tex"
(cd "$tmp" && pdflatex -interaction=nonstopmode -halt-on-error seed.tex > /dev/null)
pdftoppm -png -r 90 -singlefile "$tmp/seed.pdf" "$OUT/diagram-seed-tikz"

$BIN/vaekit plot "$RUNS/latent2" report
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1500 \
  --screenshot="$tmp/report.png" "file://$PWD/$RUNS/latent2/report.html" 2>/dev/null
# Shrink the PNGs to a few tens of KB: palette colours (the pictures have few).
$BIN/python - "$OUT" "$tmp/report.png" <<'PY'
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
Image.open(sys.argv[2]).convert("RGB").resize((700, 1050)).save(out / "report.png")
for p in out.glob("*.png"):
    im = Image.open(p).convert("RGB")
    im.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(p, optimize=True)
PY
rm -r "$tmp"
ls -l "$OUT"
