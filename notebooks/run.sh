#!/usr/bin/env bash
# Execute notebooks/results.ipynb headlessly with the tslab TypeScript kernel (CI and local use).
#   notebooks/run.sh [--tracking-uri file:./mlruns] [--experiment NAME] [--run RUN_ID] [--out executed.ipynb]
# Relative paths (a file: tracking URI, --out) are read from the directory the script is called
# from, as lpclust reads them; the default tracking store is that directory's ./mlruns.
# Needs: Debian's jupyter-nbconvert + python3-ipykernel, `npm ci` (tslab is a devDependency) and a
# built dist/ (npm run build). The kernel spec is written to a private directory (no
# `tslab install` into the system), pointing at this checkout's node_modules/.bin/tslab.
set -euo pipefail
CALLER="$(pwd)"
NB_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$NB_DIR")"
OUT="$(mktemp -d)/results.executed.ipynb"
URI="file:./mlruns"
usage() { echo "usage: notebooks/run.sh [--tracking-uri URI] [--experiment NAME] [--run RUN_ID] [--out FILE.ipynb]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tracking-uri) [ $# -ge 2 ] || usage; URI="$2"; shift 2 ;;
    --experiment) [ $# -ge 2 ] || usage; export LPCLUST_NOTEBOOK_EXPERIMENT="$2"; shift 2 ;;
    --run) [ $# -ge 2 ] || usage; export LPCLUST_NOTEBOOK_RUN="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; OUT="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
# The kernel runs in notebooks/: a relative local store must be made absolute against the caller.
case "$URI" in
  file://*) ;;                                   # file:///abs/path
  file:/*) ;;                                    # file:/abs/path
  file:*) REL="${URI#file:}"; URI="file:$CALLER/${REL#./}" ;;   # file:./mlruns, file:mlruns
  *://*) ;;                                      # http(s)://, databricks://…
  /*) URI="file:$URI" ;;                         # a bare absolute path
  *) URI="file:$CALLER/${URI#./}" ;;            # a bare relative path
esac
case "$OUT" in /*) ;; *) OUT="$CALLER/$OUT" ;; esac
if [ "${URI#file:}" != "$URI" ]; then
  STORE="${URI#file:}"; STORE="/${STORE#"${STORE%%[!/]*}"}"
  [ -d "$STORE" ] || { echo "notebooks/run.sh: no tracking store at $STORE (from --tracking-uri $URI): run lpclust pipeline there first, or pass --tracking-uri" >&2; exit 3; }
fi
export LPCLUST_NOTEBOOK_TRACKING_URI="$URI"
TSLAB="$ROOT/node_modules/.bin/tslab"
[ -x "$TSLAB" ] || { echo "notebooks/run.sh: tslab is not installed ($TSLAB): run npm ci in $ROOT first" >&2; exit 1; }
[ -f "$ROOT/dist/index.js" ] || { echo "notebooks/run.sh: $ROOT/dist/ is not built: run npm run build first" >&2; exit 1; }
command -v jupyter >/dev/null || { echo "notebooks/run.sh: jupyter is not installed: apt-get install -y jupyter-nbconvert python3-ipykernel" >&2; exit 1; }
KDIR="$(mktemp -d)"
LOG="$KDIR/nbconvert.log"
trap 'rm -rf "$KDIR"' EXIT
mkdir -p "$KDIR/kernels/tslab" "$(dirname "$OUT")"
printf '{"argv": ["%s", "kernel", "--config-path", "{connection_file}"], "display_name": "TypeScript", "language": "typescript"}\n' "$TSLAB" > "$KDIR/kernels/tslab/kernel.json"
# A cell that throws makes nbconvert exit non-zero (no --allow-errors). tslab reports a thrown
# error to nbconvert without its message (nbconvert prints an empty "<Error>:"); the message and
# stack go to the cell's stderr output. So on failure the notebook is executed again with
# --allow-errors and the stderr and error outputs of its cells are printed whole.
cd "$NB_DIR"
nbconvert() { JUPYTER_PATH="$KDIR${JUPYTER_PATH:+:$JUPYTER_PATH}" jupyter nbconvert --to notebook --execute results.ipynb --ExecutePreprocessor.timeout=300 "$@"; }
if ! nbconvert --output "$(basename "$OUT")" --output-dir "$(dirname "$OUT")" >"$LOG" 2>&1; then
  if nbconvert --allow-errors --output failed.ipynb --output-dir "$KDIR" >>"$LOG" 2>&1 && python3 - "$KDIR/failed.ipynb" >&2 <<'PY'
import json, sys
cells = json.load(open(sys.argv[1], encoding="utf-8"))["cells"]
shown = 0
for number, cell in enumerate(cells, 1):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            text = "\n".join(out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = "".join(out.get("text", []))
        else:
            continue
        print(f"--- cell {number} of notebooks/results.ipynb:\n{text.rstrip()}")
        shown += 1
sys.exit(0 if shown else 1)
PY
  then :; else cat "$LOG" >&2; fi
  echo "notebooks/run.sh: notebooks/results.ipynb failed (tracking URI $URI)" >&2
  exit 1
fi
echo "executed notebook: $OUT"
