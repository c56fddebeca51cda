#!/usr/bin/env bash
# The GPU check in one go, offline: install the bundle's wheels this Python lacks (into the scratch folder, never
# into the environment), unpack each bundled ComfyUI, run check.py on it, and leave one gpu_check.json per ComfyUI
# under the output folder. docs/gpu.md explains the rows; prepare.sh builds the bundle this reads.
#
#   run.sh [--cpu] [--out DIR]
#
# --cpu        the dry mode: the same script with the test suite's tiny models on the CPU (CI runs it)
# --out DIR    where the results go (default: $GPU_CHECK_OUT, else ./gpu_check_out); one folder per ComfyUI
# Variables:
#   PYTHON               the Python with (CUDA) torch to run on (default python3)
#   COMFYUI_PATH         check this ComfyUI tree instead of the bundle's tarballs
#   GPU_CHECK_CORES      the bundle's ComfyUI versions, in order (default "0.33.0 0.3.64"); each one after the
#                        first runs only while GPU_CHECK_NEXT_MIN_S seconds of the budget are left (default 150)
#   GPU_CHECK_BUDGET_S   seconds for all the checks together (default 450: fits a 10-minute slot with start-up)
#   GPU_CHECK_SETUPS     comma-separated setups to run (default: all; names in rows.py), e.g. to rerun what failed
#   GPU_CHECK_INSTALL    "all": install every bundled wheel, also those this Python has (proves the bundle alone
#                        suffices; the CPU dry run of the bundle does this)
#   GPU_CHECK_WORK       scratch folder (default: a new temporary one, deleted at the end: the full-size stand-in
#                        weights take ~10 GB)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PACK=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
cpu=()
out=${GPU_CHECK_OUT:-$PWD/gpu_check_out}
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu=(--cpu) ;;
    --out) out=$2; shift ;;
    *) echo "run.sh: unknown argument $1 (see the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
budget=${GPU_CHECK_BUDGET_S:-450}
next_min=${GPU_CHECK_NEXT_MIN_S:-150}
start=$SECONDS
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The bundle: prepare.sh puts the pack at <bundle>/pack beside wheels/ and the ComfyUI tarballs.
bundle=""
[ -f "$PACK/../BUNDLE.txt" ] && bundle=$(cd "$PACK/.." && pwd)
work=${GPU_CHECK_WORK:-}
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

if [ -n "$bundle" ] && [ -d "$bundle/wheels" ]; then
  # Only the distributions this Python lacks; --no-deps because the bundle holds each one it needs itself.
  missing=$("$PY" - "$bundle/wheels" "${GPU_CHECK_INSTALL:-}" <<'EOF'
import importlib.metadata as md, pathlib, sys
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    try:
        if sys.argv[2] != "all":
            md.version(wheel.name.split("-")[0])
            continue
    except md.PackageNotFoundError:
        pass
    print(wheel)
EOF
)
  if [ -n "$missing" ]; then
    echo "[run.sh] installing into $work/site: $(echo "$missing" | xargs -n1 basename | cut -d- -f1-2 | xargs)"
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --target "$work/site" \
      $missing
    export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi

command -v nvidia-smi >/dev/null 2>&1 && [ ${#cpu[@]} -eq 0 ] && \
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1 || true

cores=()
if [ -n "${COMFYUI_PATH:-}" ]; then
  cores=("$COMFYUI_PATH")
elif [ -n "$bundle" ]; then
  for version in ${GPU_CHECK_CORES:-0.33.0 0.3.64}; do
    tarball="$bundle/comfyui-v$version.tar.gz"
    [ -f "$tarball" ] || { echo "[run.sh] no $tarball: ComfyUI $version skipped" >&2; continue; }
    rm -rf "$work/comfyui-$version" && mkdir -p "$work/comfyui-$version"
    tar -xzf "$tarball" -C "$work/comfyui-$version"
    cores+=("$work/comfyui-$version/ComfyUI")
  done
fi
[ ${#cores[@]} -gt 0 ] || { echo "run.sh: no ComfyUI to check: set COMFYUI_PATH, or run from a bundle made by prepare.sh" >&2; exit 2; }

rc=0
for i in "${!cores[@]}"; do
  comfy=${cores[$i]}
  version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$comfy/comfyui_version.py")
  left=$(( budget - (SECONDS - start) ))
  if [ "$i" -gt 0 ] && [ "$left" -lt "$next_min" ]; then
    echo "[run.sh] ComfyUI $version not run: $left s of the $budget s budget left (needs $next_min)" | tee "$out/comfyui-$version.skipped"
    continue
  fi
  echo "[run.sh] ComfyUI $version, budget $left s"
  "$PY" "$HERE/check.py" "${cpu[@]}" --comfyui "$comfy" --out "$out/comfyui-$version" --work "$work/weights" \
    --budget-s "$left" || rc=$?
done
echo "[run.sh] done in $(( SECONDS - start )) s; results under $out"
exit $rc
