"""Package a trained bundle as the embedded default model (stargan_rt/assets/default/).

    python trainer/recipes/ship_default.py runs/default-model/bundle runs/default-model/export [DEST]

Writes the bundle with FP16 weights (the runtime loads them as FP32; 2 bytes a parameter: conv_dim 16, 0.53M
parameters -> 1.1 MB) and the export's INT8 ONNX (0.8 MB at conv_dim 16; on the 2-core CPU about 2x faster than
FP32 onnxruntime, 41-44 dB PSNR against FP32 on SynthFaces), so the package stays under ~10 MB and the runtime works
with or without torch. The bundle's generator is the trainer's moving average (the raw weights beside it stay
behind). DEST defaults to the package.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from stargan_rt.bundle import load_bundle, save_bundle
from stargan_rt.default_model import DEFAULT_MODEL_DIR


def main(bundle: str, export_dir: str, dest: str | Path = DEFAULT_MODEL_DIR) -> None:
    meta, weights = load_bundle(bundle)
    half = {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in weights.items()}
    dest = Path(dest)
    save_bundle(dest, meta, half)
    shutil.copyfile(Path(export_dir) / "generator_int8.onnx", dest / "generator_int8.onnx")
    for f in sorted(dest.iterdir()):
        print(f"{f.stat().st_size / 1e6:6.2f} MB  {f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
