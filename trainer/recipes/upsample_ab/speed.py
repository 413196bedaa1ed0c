"""INT8 ONNX latency at batch 1 of conv_dim 16 generators (random weights), transpose vs resize, on ov-cpu and ort-cpu;
interleaved rounds in one run.  python trainer/recipes/upsample_ab/speed.py [WORK] > speed.txt"""
import subprocess, sys, time
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, save_bundle, Preprocess
from stargan_rt.torch_model import build_generator, generator_state_numpy
from stargan_rt.backends import open_model
ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/upsample-speed")
for up in ("transpose", "resize"):
    arch = Architecture(image_size=128, conv_dim=16, upsample=up)
    meta = ModelMeta(arch, (DomainSet("CelebA", "multi_label", ATTRS, (ATTRS[:3],)),), Preprocess(crop_size=178), {"source": "speed test"})
    torch.manual_seed(0)
    b = save_bundle(root / up / "bundle", meta, generator_state_numpy(build_generator(arch)))
    if not (root / up / "export" / "generator_int8.onnx").exists():
        subprocess.run([sys.executable, "-m", "stargan_rt", "export", str(b), "-o", str(root / up / "export")], check=True, capture_output=True)
frames = np.random.default_rng(0).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
c = np.zeros((1, 5), np.float32)
res = {}
for backend in ("ov-cpu", "ort-cpu"):
    runners = {up: open_model(str(root / up / "export" / "generator_int8.onnx"), backend=backend) for up in ("transpose", "resize")}
    times = {up: [] for up in runners}
    for r in runners.values():
        for _ in range(20): r.infer_frames(frames, c)
    for rnd in range(15):  # interleaved rounds: the machine's drift hits both alike
        for up, r in runners.items():
            t = time.perf_counter()
            for _ in range(20): r.infer_frames(frames, c)
            times[up].append((time.perf_counter() - t) / 20 * 1000)
    for up in runners:
        res[f"{backend} {up}"] = round(float(np.median(times[up])), 2)
    print(backend, {up: round(float(np.median(v)), 2) for up, v in times.items()}, "ratio resize/transpose", round(np.median(times["resize"]) / np.median(times["transpose"]), 3))
