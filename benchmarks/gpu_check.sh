#!/usr/bin/env bash
# GPU check of stargan-rt: one script for a CUDA machine with nothing fetched from the network.
#
#     bash benchmarks/gpu_check.sh        # from anywhere; results under $OUT if set, else ./bench-out
#
# The repository may arrive as a plain copy (not pip-installed): PYTHONPATH is set to its root here. Nothing is
# installed from the network; wheels carried in .whl/*.whl are installed with --no-index into /tmp/site.
#
# Phases, each with its own time limit (seconds; override with GPU_CHECK_<PHASE>_S). A phase that fails or times
# out is reported and the next one still runs:
#   env        python, GPU, library versions, which of our dependencies are missing                     (20)
#   gpu-tests  pytest -m gpu over the test files that carry the mark                                     (80)
#   contract   the backend contract suite (tests/runtime/test_backends.py: torch-cuda runs where CUDA is)  (45)
#   generator  measured peaks (fp32/tf32/fp16/bf16 matmul, copy) and the generator table on CUDA: eager FP32
#              baseline (TF32 off), eager TF32 (PyTorch's default), FP16 eager, FP16 + CUDA graphs (the runtime's
#              torch-cuda), bf16 eager, bf16 + CUDA graphs; batch 1/4/16/64;
#              128 and 256 px; CUDA-event compute apart from copies; PSNR against the baseline           (160)
#   pipeline   the streaming pipeline on rendered 640x480 videos (1 and 3 faces), torch-cuda, max and live (90)
#   report     one bench.json / bench.md / PNG plots in $OUT from the phases above                        (25)
# Worst case 7.5 minutes (limits + 5 s kill grace each); typically much less. The short table is printed last.
#
# TensorRT phases, run first when their files were carried (benchmarks/gpu_carry.sh prepares them and gives the
# runbook; they are looked for in .gpu-carry/*/ and $GPU_CARRY_STASH, default /tmp/stargan-carry):
#   rtx-install   TensorRT for RTX from the carried xz parts and bindings wheel, into /tmp/site           (60)
#   pycuda        pycuda built from the carried sdist by export/build_pycuda.sh (or a carried wheel)      (240)
#   tensorrt      python -m benchmarks.tensorrt_gpu: CURRENT build on this GPU, the real runner vs torch  (240)
#   torch-tuning  python -m benchmarks.torch_cuda_tuning: compile, channels_last, cudnn, profiler table    (420)
# GPU_CHECK_ONLY="rtx-install pycuda tensorrt" runs only the phases named (those four are not run otherwise
# unless their files are here: torch-tuning only when named).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1
OUT="${OUT:-$REPO/bench-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export OUT PY
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg TQDM_DISABLE=1
STATUS=()

ONLY=" ${GPU_CHECK_ONLY:-} "
wanted() { [ "$ONLY" = "  " ] || [[ $ONLY == *" $1 "* ]]; }
run_phase() {  # name limit_s command... : log to $OUT/<name>.log, show its tail, record ok / FAILED / TIMEOUT
    local name=$1 limit=$2
    shift 2
    wanted "$name" || return 0
    local t0=$SECONDS rc
    echo "=== $name (limit ${limit}s) ==="
    timeout --kill-after=5 "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    tail -n 20 "$OUT/$name.log"
    case $rc in
        0) STATUS+=("$name: ok ($((SECONDS - t0))s)") ;;
        124 | 137) STATUS+=("$name: TIMEOUT after ${limit}s (log: $OUT/$name.log)") ;;
        5) STATUS+=("$name: no tests collected ($((SECONDS - t0))s)") ;;
        *) STATUS+=("$name: FAILED, exit $rc ($((SECONDS - t0))s, log: $OUT/$name.log)") ;;
    esac
}

# --- wheels carried along (no network): safetensors, tqdm, pytest, matplotlib... ---------------------------
# The machine's own numpy/torch stay: a carried copy would shadow the ones torch and CuPy were built with. Its
# OpenCV stays too unless it lacks Haar cascades (5.x wheels, as on the H200 machine seen on 2026-11-26): then a
# carried opencv-python-headless<5 wheel is what the pipeline phase needs.
shopt -s nullglob
WHEELS=()
CV2_HAS_HAAR=$("$PY" -c "import cv2; print(int(hasattr(cv2, 'CascadeClassifier')))" 2>/dev/null || echo 0)
for w in .whl/*.whl; do
    case "$(basename "$w")" in
        opencv*) if [ "$CV2_HAS_HAAR" = 1 ]; then echo "wheels: skipping $(basename "$w") (the machine's OpenCV has Haar cascades)"; else WHEELS+=("$w"); fi ;;
        numpy-* | torch-* | nvidia_* | triton-*) echo "wheels: skipping $(basename "$w") (the machine has its own)" ;;
        *) WHEELS+=("$w") ;;
    esac
done
shopt -u nullglob
if [ ${#WHEELS[@]} -gt 0 ]; then
    if "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "${WHEELS[@]}" >"$OUT/wheels.log" 2>&1; then
        STATUS+=("wheels: installed ${#WHEELS[@]} from .whl into /tmp/site")
    else
        STATUS+=("wheels: pip install from .whl FAILED (log: $OUT/wheels.log)")
    fi
    export PYTHONPATH="/tmp/site:$PYTHONPATH"  # ahead of site-packages (a carried OpenCV must win)
fi

# --- TensorRT for RTX and pycuda from carried files (benchmarks/gpu_carry.sh) -----------------------------------
STASH="${GPU_CARRY_STASH:-/tmp/stargan-carry}"
CARRY=()
for d in .gpu-carry/*/ "$STASH"; do [ -d "$d" ] && CARRY+=("$d"); done
carried() {  # carried files matching $1, ordered and deduplicated by file name (the stash may repeat .gpu-carry/a)
    find "${CARRY[@]}" -maxdepth 1 -name "$1" -printf '%f\t%p\n' 2>/dev/null | sort -t "$(printf '\t')" -k1,1 -u | cut -f2
}
export PYTHONPATH="/tmp/site:$PYTHONPATH"
rtx_install() {
    mapfile -t parts < <(carried 'rtx.tar.xz.part-*')
    [ ${#parts[@]} -ge 2 ] || { echo "rtx-install: need both parts of rtx.tar.xz, found: ${parts[*]:-none}"; return 1; }
    mkdir -p /tmp/site
    cat "${parts[@]}" | xz -d | tar -x -C /tmp/site || return 1
    mapfile -t bindings < <(carried 'tensorrt_rtx_cu13_bindings-*.whl')
    "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "${bindings[@]}" || return 1
    "$PY" -c "import tensorrt_rtx as t; print('TensorRT for RTX', t.__version__, 'offers', [n for n in dir(t.ComputeCapability) if n[:2] in ('SM', 'CU')])"
    if ! "$PY" -c "import onnxscript, onnxconverter_common" 2>/dev/null; then  # the ONNX export the tensorrt phase runs
        mapfile -t extra < <(carried 'onnxscript-*.whl'; carried 'onnx_ir-*.whl'; carried 'ml_dtypes-*.whl'; carried 'onnxconverter_common-*.whl')
        [ ${#extra[@]} -gt 0 ] && "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "${extra[@]}"
    fi
    return 0
}
pycuda_install() {
    if "$PY" -c "import pycuda" 2>/dev/null; then echo "pycuda: already importable"; return 0; fi
    local tag wheel sdist links=()
    tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    for d in "${CARRY[@]}"; do links+=(--find-links "$d"); done
    "$PY" -m pip install -q --no-index "${links[@]}" --target /tmp/site pytools platformdirs mako || return 1
    wheel=$(carried "pycuda-*-$tag-*.whl" | head -n 1)
    if [ -z "$wheel" ]; then
        sdist=$(carried 'pycuda-*.tar.gz' | head -n 1)
        [ -n "$sdist" ] || { echo "pycuda: no sdist or $tag wheel carried"; return 1; }
        wheel=$(bash export/build_pycuda.sh --python "$PY" --sdist "$sdist" --wheels "${CARRY[0]}" --cache /tmp/wheels) || return 1
    fi
    "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "$wheel" || return 1
    "$PY" -c "import pycuda.driver as d; d.init(); print('pycuda', d.get_version(), d.Device(0).name(), d.Device(0).compute_capability())"
}
export -f rtx_install pycuda_install carried
export STASH
if [ ${#CARRY[@]} -gt 0 ] || [ "$ONLY" != "  " ]; then
    run_phase rtx-install "${GPU_CHECK_RTX_S:-60}" bash -c "CARRY=(${CARRY[*]}); rtx_install"
    run_phase pycuda "${GPU_CHECK_PYCUDA_S:-240}" bash -c "CARRY=(${CARRY[*]}); pycuda_install"
    run_phase tensorrt "${GPU_CHECK_TENSORRT_S:-240}" "$PY" -m benchmarks.tensorrt_gpu -o "$OUT/tensorrt"
fi
if [[ $ONLY == *" torch-tuning "* ]]; then
    run_phase torch-tuning "${GPU_CHECK_TUNING_S:-420}" "$PY" -m benchmarks.torch_cuda_tuning -o "$OUT/torch_tuning" --time-limit 330
fi

# --- env ------------------------------------------------------------------------------------------------------
env_report() {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not available"
    "$PY" - <<'PYEOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
needed = {  # module: what needs it
    "torch": "everything GPU", "numpy": "everything", "cv2": "images, video, detector", "safetensors": "model bundles (torch-cuda)",
    "tqdm": "progress bars (optional)", "matplotlib": "PNG plots", "pytest": "the GPU tests", "onnx": "ONNX export",
    "onnxruntime": "ONNX backends", "onnxscript": "torch.onnx export", "onnxconverter_common": "FP16 ONNX",
}
extra = {"tensorrt": "TensorRT engines", "pycuda": "TensorRT runner", "cupy": "-", "cuda.bindings": "-"}
missing = []
for name, why in {**needed, **extra}.items():
    try:
        mod = importlib.import_module(name)
        ver = getattr(mod, "__version__", "?")
        if name == "tensorrt" and not hasattr(mod, "Builder"):
            raise ImportError("type stubs only")
        print(f"  {name:22s} {ver}")
    except Exception as exc:
        print(f"  {name:22s} MISSING ({type(exc).__name__}) - needed for: {why}")
        if name in needed:
            missing.append(name)
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
else:
    print("NO CUDA DEVICE VISIBLE TO PYTORCH: the GPU benchmarks will measure nothing")
from stargan_rt.backends import backends
for name, info in backends().items():
    print(f"backend {name:15s} available={info.available()}")
print("MISSING DEPENDENCIES:", ", ".join(missing) if missing else "none")
sys.exit(0 if torch.cuda.is_available() else 3)
PYEOF
}
export -f env_report
run_phase env "${GPU_CHECK_ENV_S:-20}" bash -c env_report
MISSING_LINE=$(grep -h "MISSING DEPENDENCIES" "$OUT/env.log" 2>/dev/null || echo "MISSING DEPENDENCIES: (env phase did not finish)")
STATUS+=("$MISSING_LINE")

# --- tests ----------------------------------------------------------------------------------------------------
if "$PY" -c "import pytest" 2>/dev/null; then
    mapfile -t GPU_TESTS < <(grep -rlE "pytest\.mark\.gpu|mark\.gpu" tests --include='test_*.py' 2>/dev/null)
    if [ ${#GPU_TESTS[@]} -gt 0 ]; then
        run_phase gpu-tests "${GPU_CHECK_TESTS_S:-80}" "$PY" -m pytest -q -rs -p no:cacheprovider -m gpu "${GPU_TESTS[@]}"
    else
        STATUS+=("gpu-tests: no test file carries the gpu mark")
    fi
    if [ -f tests/runtime/test_backends.py ]; then
        run_phase contract "${GPU_CHECK_CONTRACT_S:-45}" "$PY" -m pytest -q -rs -p no:cacheprovider tests/runtime/test_backends.py
    fi
else
    STATUS+=("gpu-tests, contract: NOT RUN, pytest is missing (carry a pytest wheel in .whl/)")
fi

# --- benchmarks -----------------------------------------------------------------------------------------------
# --time-limit leaves each run time to write its report before the phase's own limit would kill it.
GEN_S="${GPU_CHECK_GENERATOR_S:-160}"
PIPE_S="${GPU_CHECK_PIPELINE_S:-90}"
run_phase generator "$GEN_S" "$PY" -m benchmarks --device cuda --phases floor,generator \
    --sizes 128,256 --batches 1,4,16,64 --seconds 0.5 --time-limit $((GEN_S - 25)) -o "$OUT/generator"
run_phase pipeline "$PIPE_S" "$PY" -m benchmarks --device cuda --phases pipeline \
    --faces 1,3 --frames 120 --modes max,live --frame-size 640x480 --time-limit $((PIPE_S - 20)) -o "$OUT/pipeline"

# --- one report, then the short table LAST ---------------------------------------------------------------------
REPORTS=()
for part in generator pipeline; do
    [ -f "$OUT/$part/bench.json" ] && REPORTS+=("$OUT/$part/bench.json")
done
if [ ${#REPORTS[@]} -gt 0 ]; then
    run_phase report "${GPU_CHECK_REPORT_S:-25}" "$PY" -m benchmarks --merge "${REPORTS[@]}" -o "$OUT"
else
    STATUS+=("report: nothing to report (no benchmark phase wrote bench.json)")
fi

echo
echo "=== gpu_check phases ==="
printf '  %s\n' "${STATUS[@]}"
echo "  files: $OUT (bench.json, bench.md, latency_vs_batch.png, pipeline_stages.png, <phase>.log)"
echo
if [ -f "$OUT/report.log" ] && [ -f "$OUT/bench.json" ]; then
    "$PY" -m benchmarks --summarize "$OUT/bench.json" 2>&1 || tail -n 40 "$OUT/report.log"
else
    echo "no merged report; last lines of each phase log:"
    for f in "$OUT"/generator.log "$OUT"/pipeline.log; do [ -f "$f" ] && tail -n 15 "$f"; done
fi
