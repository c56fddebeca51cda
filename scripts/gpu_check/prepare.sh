#!/usr/bin/env bash
# Build the GPU check's bundle on a machine that has the package index (no GPU needed): one folder holding the
# pack, the vendored ComfyUI tarballs and the wheels the target lacks, small enough to travel (64 MiB limit).
#
#   prepare.sh [DEST]      (default: <repo>/.gpu-check, which git ignores)
#
# Variables: VENDOR (the folder with comfyui-v*.tar.gz and their .sha256, default <repo>/../shared/vendor),
#            PYTHON (the Python whose pip downloads the wheels, default python3).
# On the GPU machine: bash DEST/run.sh [--out DIR]   (docs/gpu.md)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
dest=${1:-$REPO/.gpu-check}
vendor=${VENDOR:-$REPO/../shared/vendor}
PY=${PYTHON:-python3}
LIMIT_MIB=64
CORES=(0.33.0 0.3.64)

[ -f "$vendor/comfyui-v${CORES[0]}.tar.gz" ] || {
  echo "prepare.sh: no comfyui-v${CORES[0]}.tar.gz in $vendor: set VENDOR to the folder of the vendored tarballs" >&2
  exit 2
}
rm -rf "$dest" && mkdir -p "$dest/wheels" "$dest/pack"
dest=$(cd "$dest" && pwd)

# The wheels for the target's Python (3.12, x86-64 Linux), whatever Python runs this.
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_12 manylinux2010; do
  platforms+=(--platform "${p}_x86_64")
done
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d "$dest/wheels" -r "$HERE/wheels.txt"
# comfy-kitchen's platform wheel is ~58 MB of CUDA kernels (for quantised fp8/fp4 weights, which an SDXL fp16/bf16
# check never loads); its pure-Python wheel (~0.2 MB) imports the same API with the eager/triton backends.
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation py --platform any -d "$dest/wheels" comfy-kitchen==0.2.31

# The ComfyUI trees as vendored (checksums first).
for version in "${CORES[@]}"; do
  tarball=comfyui-v$version.tar.gz
  (cd "$vendor" && sha256sum -c --quiet "$tarball.sha256")
  cp "$vendor/$tarball" "$dest/"
done

# The pack as it is in this working tree (tracked files and new ones git does not ignore), so a fix being tried
# travels without a commit; PACK_COMMIT says which commit it started from.
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$dest/pack"
commit=$(git -C "$REPO" rev-parse --short HEAD)
[ -z "$(git -C "$REPO" status --porcelain)" ] || commit="$commit+uncommitted"
echo "$commit" > "$dest/pack/PACK_COMMIT"

cat > "$dest/run.sh" <<'EOF'
#!/usr/bin/env bash
# The GPU check from this bundle: see pack/scripts/gpu_check/run.sh and pack/docs/gpu.md.
exec bash "$(dirname "$0")/pack/scripts/gpu_check/run.sh" "$@"
EOF
{
  echo "GPU check bundle (scripts/gpu_check/prepare.sh), pack $commit, made $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "Run on the GPU machine: bash run.sh [--out DIR]"
  (cd "$dest" && ls -1 comfyui-*.tar.gz wheels/)
} > "$dest/BUNDLE.txt"

bytes=$(du -sb "$dest" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
echo "[prepare.sh] $dest: $mib MiB ($bytes bytes; limit $LIMIT_MIB MiB)"
du -sh "$dest"/wheels/* "$dest"/comfyui-*.tar.gz "$dest/pack" | sed 's/^/[prepare.sh]   /'
if [ "$bytes" -gt $(( LIMIT_MIB * 1048576 )) ]; then
  echo "[prepare.sh] too large to travel: over $LIMIT_MIB MiB" >&2
  exit 1
fi
