#!/usr/bin/env bash
# Set up a venv (.venv, or $INSTANTID_VENV) with the test requirements and run the suite. Extra args go to pytest.
# With COMFYUI_PATH set (or the pack inside ComfyUI/custom_nodes), ComfyUI's own requirements are installed
# too, under a constraints file that pins torch and torchvision (ComfyUI's unpinned torchvision would
# otherwise pull in a newer torch), and the ComfyUI tests run. Prints the time each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# one venv per core's requirements: .ci/run keeps v0.3.64's apart (its server does not start with v0.33's packages)
VENV=${INSTANTID_VENV:-.venv}
phase() { echo "[test.sh] phase $1: $(( SECONDS - start )) s"; start=$SECONDS; }
start=$SECONDS
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check -c tests/requirements/torch-constraints.txt)
"${pip[@]}" torch -r requirements-dev.txt
phase "venv + test requirements"
comfy=${COMFYUI_PATH:-}
[ -n "$comfy" ] || { [ -f ../../main.py ] && [ -d ../../comfy ] && comfy=$(cd ../.. && pwd); } || true
if [ -n "$comfy" ] && [ -f "$comfy/requirements.txt" ]; then
  # torchaudio has no build matching the pinned CPU torch and SDXL does not use it (stand-in below)
  grep -viE '^\s*(torch|torchaudio)\s*($|[<>=!~;#])' "$comfy/requirements.txt" > "$VENV/comfy-requirements.txt"
  "${pip[@]}" -r "$VENV/comfy-requirements.txt"
  if ! "$VENV/bin/python" -c 'import torchvision' 2>/dev/null; then
    # the CUDA-only torchvision wheel beside CPU torch: see tests/requirements/torchvision_schema_shim.py
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    cp tests/requirements/torchvision_schema_shim.py "$site/_torchvision_schema_shim.py"
    echo "import _torchvision_schema_shim" > "$site/_torchvision_schema_shim.pth"
    "$VENV/bin/python" -c 'import torchvision; print(f"[test.sh] torchvision {torchvision.__version__}: C ops unavailable (CPU torch), imports through the schema shim")'
  fi
  if ! "$VENV/bin/python" -c 'import torchaudio' 2>/dev/null; then
    # ComfyUI 0.33 imports torchaudio while it starts; the index has none for the pinned CPU torch. A stand-in that
    # raises on use goes into the test venv only (tests/requirements/torchaudio_stand_in; never shipped to users)
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -rf "$site/torchaudio" && cp -r tests/requirements/torchaudio_stand_in/torchaudio "$site/torchaudio"
    echo "[test.sh] torchaudio: the test-only stand-in (raises on use; SDXL never calls it)"
  fi
  export COMFYUI_PATH=$comfy
  phase "ComfyUI requirements"
fi
"$VENV/bin/python" -c 'import torch; print(f"[test.sh] torch {torch.__version__}")'
set +e
"$VENV/bin/python" -m pytest tests -q -ra "$@"
rc=$?
phase "tests"
if [ $rc = 5 ]; then  # pytest's "no tests collected": a selection that matched nothing is not a passing run
  echo "[test.sh] no test was collected${*:+ for: $*}" >&2
fi
exit $rc
