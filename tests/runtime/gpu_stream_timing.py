"""Runtime timings on this machine: every available backend per batch size, and the streaming pipeline.

    python tests/runtime/gpu_stream_timing.py [--model PATH] [--out DIR] [--batches 1,2,4,8] [--repeats 30]

Without --model a random generator of the official size (128 px, conv_dim 64, 6 blocks) is made (and exported
to ONNX when onnxscript is installed, so the onnxruntime backends run too). Not a test: the numbers go to
stdout and DIR/runtime_timing.json. The benchmarks/ package is the place for the project's reported numbers;
this script checks the runtime's own paths (graphs per batch size, the three-thread pipeline) where they run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stargan_rt.backends import backends, open_model  # noqa: E402
from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, save_bundle  # noqa: E402


def make_models(root: Path) -> list[Path]:
    import torch

    from stargan_rt.torch_model import build_generator, generator_state_numpy

    celeba = DomainSet("CelebA", "multi_label", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
                       (("Black_Hair", "Blond_Hair", "Brown_Hair"),))
    meta = ModelMeta(Architecture(128, 5, 64, 6), (celeba,), provenance={"note": "random weights, timing only"})
    torch.manual_seed(0)
    g = build_generator(meta.architecture).eval()
    save_bundle(root / "bundle", meta, generator_state_numpy(g))
    models = [root / "bundle"]
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401

        batch = torch.export.Dim("batch", min=1, max=64)
        prog = torch.onnx.export(g, (torch.zeros(2, 3, 128, 128), torch.zeros(2, 5)), input_names=["image", "label"],
                                 output_names=["translated"], dynamic_shapes=({0: batch}, {0: batch}), dynamo=True,
                                 external_data=False)
        model = prog.model_proto
        for k, v in {"stargan_rt": meta.to_json(), "stargan_rt.io": "float", "stargan_rt.precision": "fp32"}.items():
            e = model.metadata_props.add()
            e.key, e.value = k, v
        onnx.save(model, str(root / "generator.onnx"))
        models.append(root / "generator.onnx")
    except Exception as exc:  # timing what can run is still useful
        print(f"(no ONNX: {type(exc).__name__}: {exc}; onnxruntime backends skipped)")
    return models


def time_backend(runner, batches: list[int], repeats: int) -> dict[str, dict[str, float]]:
    s, c_dim = runner.meta.architecture.image_size, runner.meta.label_dim
    rng = np.random.default_rng(0)
    out = {}
    for n in batches:
        frames = rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8)
        c = np.zeros((n, c_dim), np.float32)
        for _ in range(3):  # warm-up (CUDA graph capture, TensorRT EP engine build, oneDNN primitives)
            runner.infer_frames(frames, c)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            runner.infer_frames(frames, c)  # returns host arrays: the device work is finished
            ts.append(time.perf_counter() - t0)
        ms = np.array(ts) * 1e3
        out[str(n)] = {"p50_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)),
                       "per_image_ms": float(np.median(ms) / n)}
        print(f"  batch {n:2d}: p50 {out[str(n)]['p50_ms']:8.2f} ms  p99 {out[str(n)]['p99_ms']:8.2f} ms  "
              f"({out[str(n)]['per_image_ms']:.2f} ms/image)")
    return out


class NullSink:
    name = "null"

    def write(self, frame):
        pass

    def poll(self):
        return None

    def close(self):
        pass


def time_stream(model: Path, backend: str, seconds: float, root: Path, detect_every: int) -> dict:
    from stargan_rt.stream import Controls, open_source, run_stream
    from stargan_rt.synth.video import write_video
    from stargan_rt.translator import Translator

    video = root / "synth.mp4"
    if not video.exists():
        write_video(video, seconds=seconds, size=(640, 480), fps=25.0)
    with Translator(model, backend=backend, detector="haar", detect_every=detect_every) as tr:
        for realtime in (False, True):
            source = open_source(str(video), realtime=realtime)
            try:
                report = run_stream(source, tr, NullSink(), Controls(tr.labels, "Blond_Hair"))
            finally:
                source.close()
            tr.reset()
            print(f"  stream ({'realtime 25 FPS, latest-frame' if realtime else 'file, every frame'}):")
            print("    " + report.text().replace("\n", "\n    "))
            yield {"realtime": realtime, **report.to_dict()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="bundle / .onnx / .plan / export folder (default: random official-size model)")
    ap.add_argument("--out", default=".", help="folder for runtime_timing.json")
    ap.add_argument("--batches", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of the synthetic video")
    ap.add_argument("--detect-every", type=int, default=1)
    ap.add_argument("--only", help="comma-separated backends to time (default: every available one)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    root = Path(tempfile.mkdtemp(prefix="stargan-rt-timing-"))
    models = [Path(args.model)] if args.model else make_models(root)
    result: dict = {"machine": platform.node(), "python": platform.python_version(), "backends": {}, "stream": []}
    try:
        import torch

        result["torch"] = torch.__version__
        result["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    only = set(args.only.split(",")) if args.only else None
    fastest = None
    for name, info in backends().items():
        if only and name not in only:
            continue
        artifact = next((m for m in models if info.accepts(m) or (m.is_dir() and any(info.accepts(p) for p in m.iterdir()))), None)
        ok, why = info.available()
        if artifact is None or not ok:
            print(f"{name}: skipped ({why if not ok else 'no artifact it loads'})")
            continue
        with open_model(artifact, name) as runner:
            print(f"{name}: {runner.describe()}")
            result["backends"][name] = {"describe": runner.describe(), "batches": time_backend(runner, batches, args.repeats)}
        fastest = fastest or (name, artifact)  # backends() is ordered by priority
    if fastest:
        name, artifact = fastest
        print(f"streaming with {name}:")
        result["stream"] = list(time_stream(artifact, name, args.seconds, root, args.detect_every))
    out = Path(args.out) / "runtime_timing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
