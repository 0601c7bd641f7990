#!/usr/bin/env bash
# Execute notebooks/results.ipynb headlessly with the tslab TypeScript kernel (CI and local use).
#   notebooks/run.sh [--tracking-uri file:/path/to/mlruns] [--experiment NAME] [--out executed.ipynb]
# Needs: Debian's jupyter-nbconvert + python3-ipykernel, `npm ci` (tslab is a devDependency) and a
# built dist/ (npm run build). The kernel spec is written to a private directory (no
# `tslab install` into the system), pointing at this checkout's node_modules/.bin/tslab.
set -euo pipefail
cd "$(dirname "$0")"
OUT="$(mktemp -d)/results.executed.ipynb"
while [ $# -gt 0 ]; do
  case "$1" in
    --tracking-uri) export LPCLUST_NOTEBOOK_TRACKING_URI="$2"; shift 2 ;;
    --experiment) export LPCLUST_NOTEBOOK_EXPERIMENT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
TSLAB="$(cd .. && pwd)/node_modules/.bin/tslab"
[ -x "$TSLAB" ] || { echo "tslab is not installed: run npm ci first" >&2; exit 1; }
command -v jupyter >/dev/null || { echo "jupyter is not installed: apt-get install -y jupyter-nbconvert python3-ipykernel" >&2; exit 1; }
KDIR="$(mktemp -d)"
trap 'rm -rf "$KDIR"' EXIT
mkdir -p "$KDIR/kernels/tslab"
printf '{"argv": ["%s", "kernel", "--config-path", "{connection_file}"], "display_name": "TypeScript", "language": "typescript"}\n' "$TSLAB" > "$KDIR/kernels/tslab/kernel.json"
# A cell that throws makes nbconvert exit non-zero (no --allow-errors).
JUPYTER_PATH="$KDIR${JUPYTER_PATH:+:$JUPYTER_PATH}" jupyter nbconvert --to notebook --execute results.ipynb \
  --ExecutePreprocessor.timeout=300 --output "$(basename "$OUT")" --output-dir "$(dirname "$OUT")"
echo "executed notebook: $OUT"
