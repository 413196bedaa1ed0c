#!/usr/bin/env bash
# Prepare what benchmarks/gpu_check.sh's TensorRT phases need on a GPU machine that cannot download anything:
#
#     bash benchmarks/gpu_carry.sh [--python-version 3.12] [--dry-run]     # here, with network; writes .gpu-carry/
#
# A call to the GPU machine carries at most 64 MiB with the working tree (~12 MB), so TensorRT for RTX 1.7 (a
# 234 MB library and a 4 MB parser) travels as one xz stream (65.4 MiB at xz -6) cut in 30 MiB parts, over two calls:
#   .gpu-carry/a/  rtx.tar.xz.part-aa (30 MiB), the pycuda sdist, wheels of pycuda's dependencies, the
#                  TensorRT for RTX bindings for the GPU machine's Python, nvidia-cuda-profiler-api, and
#                  onnxscript / onnxconverter-common for the ONNX export there                 (35 MiB in all)
#   .gpu-carry/b/  rtx.tar.xz.part-ab, -ac (the rest)                                             (35 MiB)
# The runbook (three calls back to back: a warm machine is released after ~30 s idle):
#   1. run(carry=[".gpu-carry/a"], command="mkdir -p /tmp/stargan-carry && cp -r .gpu-carry/a/. /tmp/stargan-carry/")
#   2. run(carry=[".gpu-carry/b"], command="GPU_CHECK_ONLY='rtx-install pycuda tensorrt' bash benchmarks/gpu_check.sh")
#   3. run(command="GPU_CHECK_ONLY='torch-tuning' bash benchmarks/gpu_check.sh")   # torch only: nothing carried
# gpu_check.sh looks for these files in .gpu-carry/*/ and in /tmp/stargan-carry (GPU_CARRY_STASH).
# --dry-run lists what would be fetched and written, and fetches nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYVER=3.12
DRY=0
while [ $# -gt 0 ]; do
    case $1 in
        --python-version) PYVER=$2; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "gpu_carry: unknown argument $1" >&2; exit 2 ;;
    esac
done
PY="${PYTHON:-$REPO/.venv/bin/python}"
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
RTX_VERSION=$("$PY" -c "import tensorrt_rtx; print(tensorrt_rtx.__version__)") || { echo "gpu_carry: install tensorrt-rtx-cu13 here first (make setup-test)" >&2; exit 1; }
PYCUDA_VERSION="${PYCUDA_VERSION:-2026.1}"
OUT="$REPO/.gpu-carry"
TAG="cp${PYVER/./}"
PLATFORM=(--only-binary=:all: --python-version "$PYVER" --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --implementation cp)

plan=(
    "TensorRT for RTX $RTX_VERSION: $SITE/tensorrt_rtx{,_libs} -> xz -> $OUT/{a,b}/rtx.tar.xz.part-a{a,b}"
    "pip download tensorrt-rtx-cu13-bindings==$RTX_VERSION for $TAG -> $OUT/a"
    "pip download pycuda==$PYCUDA_VERSION sdist, nvidia-cuda-profiler-api==13.0.*, pytools platformdirs mako for $TAG -> $OUT/a"
    "pip download onnxscript onnx-ir ml_dtypes onnxconverter-common for $TAG (no deps) -> $OUT/a"
)
if [ $DRY = 1 ]; then printf 'gpu_carry (dry run): %s\n' "${plan[@]}"; exit 0; fi

rm -rf "$OUT" && mkdir -p "$OUT/a" "$OUT/b" "$OUT/tmp"
echo "gpu_carry: compressing TensorRT for RTX $RTX_VERSION (a few minutes)"
tar -C "$SITE" --exclude=__pycache__ -cf - tensorrt_rtx tensorrt_rtx_libs | xz -6 -T2 > "$OUT/tmp/rtx.tar.xz"
split -b 30M "$OUT/tmp/rtx.tar.xz" "$OUT/tmp/rtx.tar.xz.part-"
mv "$OUT/tmp/rtx.tar.xz.part-aa" "$OUT/a/"
mv "$OUT"/tmp/rtx.tar.xz.part-a[b-z] "$OUT/b/"
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" "tensorrt-rtx-cu13-bindings==$RTX_VERSION" -d "$OUT/a"
"$PY" -m pip download -q "${PLATFORM[@]}" pytools platformdirs mako -d "$OUT/a"
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" "nvidia-cuda-profiler-api==13.0.*" -d "$OUT/a"
# torch.onnx export and the FP16 conversion, in case the GPU machine lacks them (its onnx and numpy stay)
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" onnxscript onnx-ir ml_dtypes onnxconverter-common -d "$OUT/a"
"$PY" -m pip download -q --no-deps --no-binary pycuda "pycuda==$PYCUDA_VERSION" -d "$OUT/a"
rm -rf "$OUT/tmp"
du -sh "$OUT"/a "$OUT"/b
