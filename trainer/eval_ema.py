"""`stargan-rt eval` of a trained bundle: its generator is a moving average of the trained weights (trainer/ema.py);
the raw generator saved beside it is measured the same way, on the same people, so the report shows both."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from stargan_rt.bundle import has_raw_weights, load_bundle, save_bundle

if TYPE_CHECKING:
    from .classifier import AttributeClassifier
    from .evaluate import Person


def evaluate_raw(model: str, backend: str, classifier: "AttributeClassifier", people: Sequence["Person"],
                 **options: Any) -> dict[str, Any] | None:
    """The raw generator's summary and columns, or None when `model` is not a bundle holding one.

    `backend` is the one the moving average ran on (a name, not "auto": a fresh probe could pick another backend,
    and then the two columns would differ by more than their weights). When it cannot load a weights-only bundle
    (an ONNX backend picked for an export inside the bundle), the raw generator runs on the default torch-cpu."""
    from stargan_rt.backends import backends, open_model

    from .evaluate import evaluate

    if not (Path(model).is_dir() and has_raw_weights(model)):
        return None
    meta, raw = load_bundle(model, raw=True)
    meta = replace(meta, provenance={**meta.provenance, "generator_weights": {"weights": "raw"}})
    with tempfile.TemporaryDirectory(prefix="stargan-raw-") as tmp:
        path = save_bundle(Path(tmp) / "raw", meta, raw)
        info = backends().get(backend)
        if info is None or not info.accepts(path):
            backend = "torch-cpu"
        with open_model(str(path), backend=backend) as runner:
            report, _ = evaluate(runner, classifier, people, **options)
    return {"backend": backend, **{k: report[k] for k in ("summary", "columns", "cross_dataset")}}


def markdown(report: dict[str, Any]) -> str:
    """Moving average against raw weights, per domain (empty when the report has no raw generator)."""
    raw = report.get("raw_generator")
    if not raw:
        return ""
    head = ("\n## Moving average (the model) against the raw generator\n\n"
            f"Both on {raw.get('backend', 'the same backend')}, on the same people.\n\n"
            "| domain | target acc. EMA / raw | PSNR dB EMA / raw | SSIM EMA / raw | cycle PSNR dB EMA / raw | "
            "checkerboard EMA / raw |\n|---|---|---|---|---|---|\n")

    def row(name: str, e: dict[str, Any], r: dict[str, Any]) -> str:
        return (f"| {name} | {e['accuracy']:.1%} / {r['accuracy']:.1%} | {e['psnr']:.2f} / {r['psnr']:.2f} | "
                f"{e['ssim']:.3f} / {r['ssim']:.3f} | {e['cycle_psnr']:.2f} / {r['cycle_psnr']:.2f} | "
                f"{e['checkerboard']:.2f} / {r['checkerboard']:.2f} |\n")

    rows = [row(e["domain"], e, r) for e, r in zip(report["columns"], raw["columns"])]
    return head + "".join(rows) + row("**mean**", report["summary"], raw["summary"])
