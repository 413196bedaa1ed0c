#!/usr/bin/env bash
# GPU checks of the runtime (issue 5), for a machine with CUDA. From the repository root:
#
#     bash tests/runtime/gpu_check.sh            # results in $OUT (or ./gpu_check_out)
#
# 1. pytest -m gpu: torch-cuda FP16 vs CPU FP32 at the official size, CUDA-graph replay vs eager, GPU frames path.
# 2. The backend contract suite: its torch-cuda / ort-cuda / ort-tensorrt / tensorrt cases run where available
#    (they skip with a reason on the CPU machines).
# 3. tests/runtime/gpu_stream_timing.py: per-batch latency of every available backend on an official-size
#    generator, and the streaming pipeline over the synthetic video, as JSON.
#
# Needs torch with CUDA, numpy, opencv, onnxruntime, safetensors, tqdm and pytest importable. A machine without
# network can take wheels along: `pip download safetensors pytest tqdm -d wheels` here, then
# `pip install --no-index --find-links wheels safetensors pytest tqdm` there (this script does that when ./wheels exists).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu_check_out}
PY=${PYTHON:-python}
mkdir -p "$OUT"
if [ -d wheels ]; then $PY -m pip install -q --no-index --find-links wheels safetensors pytest tqdm 2>&1 | tail -2; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
$PY - <<'PYEOF' 2>&1 | tee "$OUT/env.txt"
import importlib, platform
print("python", platform.python_version())
for m in ("torch", "numpy", "cv2", "onnxruntime", "safetensors", "pytest", "tensorrt", "pycuda"):
    try:
        mod = importlib.import_module(m)
        print(m, getattr(mod, "__version__", "?"))
    except Exception as exc:
        print(m, "MISSING", type(exc).__name__)
import torch
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
from stargan_rt.backends import backends
for name, info in backends().items():
    print(f"backend {name:15s} priority {info.priority:3d} available={info.available()}")
PYEOF
$PY -m pytest -q -rs -p no:cacheprovider tests/runtime/test_gpu.py tests/runtime/test_backends.py 2>&1 | tee "$OUT/pytest.txt"
rc=${PIPESTATUS[0]}
$PY tests/runtime/gpu_stream_timing.py --out "$OUT" 2>&1 | tee "$OUT/timing.txt"
echo "pytest exit code: $rc (results in $OUT)"
exit $rc
