#!/usr/bin/env bash
# Set up a venv (.venv) with the test requirements and run the test suite. Extra args go to pytest.
# With COMFYUI_PATH set (or the pack inside ComfyUI/custom_nodes), ComfyUI's own requirements are
# installed too (its torch lines skipped: torch is pinned here) and the ComfyUI tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" torch==2.13.0 -r requirements-dev.txt
comfy=${COMFYUI_PATH:-}
[ -n "$comfy" ] || { [ -f ../../main.py ] && [ -d ../../comfy ] && comfy=$(cd ../.. && pwd); } || true
if [ -n "$comfy" ] && [ -f "$comfy/requirements.txt" ]; then
  grep -viE '^\s*(torch|torchaudio)\b' "$comfy/requirements.txt" > .venv/comfy-requirements.txt
  "${pip[@]}" -r .venv/comfy-requirements.txt
  export COMFYUI_PATH=$comfy
fi
exec .venv/bin/python -m pytest tests -q -ra "$@"
