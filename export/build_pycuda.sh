#!/usr/bin/env bash
# Build a pycuda wheel from its sdist against the CUDA 13 headers, offline once the sdist is here; print its path.
#
#     bash export/build_pycuda.sh [--python PY] [--sdist FILE] [--wheels DIR] [--cache DIR]
#     pip install "$(bash export/build_pycuda.sh --python .venv/bin/python)"
#
# pycuda ships only an sdist (with its own Boost subset); pip cannot build it unaided here: it needs configure.py,
# CUDA headers, cudaProfiler.h and a libcuda.so to link against. This script:
#   1. reuses $CACHE/pycuda-<version>-<python tag>-*.whl if built before (CACHE: ~/.cache/stargan-rt/wheels);
#   2. takes the sdist from --sdist, $CACHE, or the registry (pip download: the one network step);
#   3. finds the CUDA headers: $CUDA_ROOT, $CUDA_HOME, /usr/local/cuda*, or the nvidia-cuda-runtime wheel; and
#      cudaProfiler.h there or in the nvidia-cuda-profiler-api wheel (from --wheels DIR, else the registry);
#   4. links against the toolkit's stubs/libcuda.so or the driver's libcuda.so.1; on a machine with neither (no
#      GPU, a toolkit without stubs, like the project's CI) against a link stub made here: an empty library named
#      libcuda.so.1, linked --no-as-needed, so the wheel records the dependency and loads the real driver at import;
#   5. python configure.py + pip wheel --no-build-isolation --no-deps (~3.5 min on 2 cores), checks that the module
#      needs libcuda.so.1, and moves the wheel into $CACHE.
# Importing pycuda.driver then needs the NVIDIA driver (libcuda.so.1); without it the import fails, and the
# TensorRT backend says so in one line. Runtime dependencies (pip installs them with the wheel): pytools,
# platformdirs, mako. Needs a C++ compiler, numpy and setuptools in PY's environment.
set -euo pipefail

VERSION="${PYCUDA_VERSION:-2026.1}"
PY=python3
SDIST=""
WHEELS=""
CACHE="${STARGAN_WHEEL_CACHE:-$HOME/.cache/stargan-rt/wheels}"
while [ $# -gt 0 ]; do
    case $1 in
        --python) PY=$2; shift 2 ;;
        --sdist) SDIST=$2; shift 2 ;;
        --wheels) WHEELS=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "build_pycuda: unknown argument $1" >&2; exit 2 ;;
    esac
done
fail() { echo "build_pycuda: $*" >&2; exit 1; }
note() { echo "build_pycuda: $*" >&2; }
case $PY in */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;; esac  # the build runs in another folder

TAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")') || fail "cannot run $PY"
mkdir -p "$CACHE"
for w in "$CACHE"/pycuda-"$VERSION"-"$TAG"-*.whl; do
    [ -f "$w" ] && { note "cached: $w"; echo "$w"; exit 0; }
done
"$PY" -c "import numpy, setuptools" 2>/dev/null || fail "$PY needs numpy and setuptools to build pycuda"
command -v g++ >/dev/null || fail "needs a C++ compiler (g++)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- 2. the sdist ---------------------------------------------------------------------------------------------
if [ -z "$SDIST" ] && [ -f "$CACHE/pycuda-$VERSION.tar.gz" ]; then SDIST="$CACHE/pycuda-$VERSION.tar.gz"; fi
if [ -z "$SDIST" ]; then
    note "downloading the pycuda $VERSION sdist"
    "$PY" -m pip download -q --no-deps --no-binary pycuda "pycuda==$VERSION" -d "$WORK/dl" >&2 || fail "cannot download the pycuda sdist (pass --sdist FILE)"
    cp "$WORK"/dl/pycuda-"$VERSION".tar.gz "$CACHE/"
    SDIST="$CACHE/pycuda-$VERSION.tar.gz"
fi
[ -f "$SDIST" ] || fail "no sdist at $SDIST"

# --- 3. headers -------------------------------------------------------------------------------------------------
wheel_include() {  # unpack an NVIDIA header wheel (from --wheels DIR, else the registry); print its include dir
    local name=$1 pattern=$2 whl=""
    [ -n "$WHEELS" ] && whl=$(find "$WHEELS" -maxdepth 1 -name "$pattern" | head -n 1)
    if [ -z "$whl" ]; then
        "$PY" -m pip download -q --no-deps "$name==13.0.*" -d "$WORK/dl" >&2 || fail "no $name wheel (carry it in --wheels DIR)"
        whl=$(find "$WORK/dl" -maxdepth 1 -name "$pattern" | head -n 1)
    fi
    "$PY" -m zipfile -e "$whl" "$WORK/$name" >&2
    echo "$WORK/$name/nvidia/cu13/include"
}
CUDA=""
for d in "${CUDA_ROOT:-}" "${CUDA_HOME:-}" /usr/local/cuda /usr/local/cuda-13*; do
    if [ -n "$d" ] && [ -f "$d/include/cuda.h" ]; then CUDA=$d; break; fi
done
INCLUDES=()
if [ -n "$CUDA" ]; then INCLUDES+=("$CUDA/include"); else
    note "no CUDA toolkit found: headers from the nvidia-cuda-runtime wheel"
    INCLUDES+=("$(wheel_include nvidia-cuda-runtime 'nvidia_cuda_runtime-*.whl')")
    CUDA=$WORK/no-toolkit
fi
if [ ! -f "${INCLUDES[0]}/cudaProfiler.h" ]; then
    note "cudaProfiler.h: from the nvidia-cuda-profiler-api wheel"
    INCLUDES+=("$(wheel_include nvidia-cuda-profiler-api 'nvidia_cuda_profiler_api-*.whl')")
fi
CURAND=--no-cuda-enable-curand  # pycuda.curand only where the toolkit has cuRAND (headers and library)
if [ -f "${INCLUDES[0]}/curand.h" ] && ls "$CUDA"/lib*/libcurand.so* >/dev/null 2>&1; then CURAND=--cuda-enable-curand; fi

# --- 4. something to link against ----------------------------------------------------------------------------------
LIBDIR=""
for d in "$CUDA/lib64/stubs" "$CUDA/lib/stubs" "$CUDA/targets/x86_64-linux/lib/stubs" /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
    if [ -f "$d/libcuda.so" ]; then LIBDIR=$d; break; fi
    if [ -f "$d/libcuda.so.1" ]; then mkdir -p "$WORK/link"; ln -sf "$d/libcuda.so.1" "$WORK/link/libcuda.so"; LIBDIR=$WORK/link; break; fi
done
if [ -z "$LIBDIR" ]; then
    note "no libcuda.so to link against: an empty link stub named libcuda.so.1 (the driver's library is loaded at import)"
    mkdir -p "$WORK/link"
    echo "" | gcc -shared -x c - -Wl,-soname,libcuda.so.1 -o "$WORK/link/libcuda.so"
    LIBDIR=$WORK/link
fi
export LDFLAGS="${LDFLAGS:-} -Wl,--no-as-needed"  # keep libcuda.so.1 as a dependency even when linked to the stub

# --- 5. configure and build ------------------------------------------------------------------------------------------
tar -xzf "$SDIST" -C "$WORK"
SRC="$WORK/pycuda-$VERSION"
INC_ARGS=()
for i in "${INCLUDES[@]}"; do INC_ARGS+=("--cuda-inc-dir=$i"); done
(cd "$SRC" && "$PY" configure.py --cuda-root="$CUDA" "${INC_ARGS[@]}" --cudadrv-lib-dir="$LIBDIR" "$CURAND" >&2)
note "building pycuda $VERSION for $TAG against ${INCLUDES[*]} (a few minutes)"
t0=$SECONDS
(cd "$SRC" && "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/out" . >"$WORK/build.log" 2>&1) \
    || { tail -n 30 "$WORK/build.log" >&2; fail "the pycuda build failed (log above)"; }
WHL=$(ls "$WORK"/out/pycuda-*.whl)
command -v readelf >/dev/null || { note "no readelf: not checking that the module links libcuda.so.1"; mv "$WHL" "$CACHE/"; echo "$CACHE/$(basename "$WHL")"; exit 0; }
"$PY" - "$WHL" <<'PYEOF' || fail "the built pycuda module does not depend on libcuda.so.1 (as-needed linking dropped it)"
import subprocess, sys, tempfile, zipfile
with tempfile.TemporaryDirectory() as d:
    z = zipfile.ZipFile(sys.argv[1])
    so = next(n for n in z.namelist() if n.startswith("pycuda/_driver") and n.endswith(".so"))
    z.extract(so, d)
    needed = subprocess.run(["readelf", "-d", f"{d}/{so}"], capture_output=True, text=True).stdout
    sys.exit(0 if "libcuda.so.1" in needed else 1)
PYEOF
mv "$WHL" "$CACHE/"
note "built in $((SECONDS - t0)) s: $CACHE/$(basename "$WHL")"
echo "$CACHE/$(basename "$WHL")"
