"""stargan-rt eval of a trained bundle reports its moving-average generator and, beside it, the raw one."""

import json

import torch

from stargan_rt.bundle import save_bundle
from stargan_rt.cli import main
from stargan_rt.torch_model import build_generator, generator_state_numpy
from trainer.classifier import save_classifier

from .conftest import celeba_meta


def test_a_bundle_with_raw_weights_is_reported_both_ways(classifier, tmp_path):
    meta = celeba_meta(32)
    torch.manual_seed(0)
    ema, raw = (generator_state_numpy(build_generator(meta.architecture)) for _ in range(2))
    save_classifier(classifier, tmp_path / "clf.safetensors")
    common = ["-n", "2", "-q", "--workers", "1", "--classifier", str(tmp_path / "clf.safetensors")]

    both = save_bundle(tmp_path / "trained", meta, ema, raw)
    assert main(["eval", str(both), "-o", str(tmp_path / "both"), *common]) == 0
    report = json.loads((tmp_path / "both" / "report.json").read_text())
    # measured on the backend `auto` picked for the moving average, not on a fresh probe's pick
    backend = report["raw_generator"]["backend"]
    assert report["backend"].startswith(backend + ":")
    # the raw weights alone, as an ordinary bundle on that backend: what the report's raw section must equal
    alone = save_bundle(tmp_path / "raw-alone", meta, raw)
    assert main(["eval", str(alone), "-o", str(tmp_path / "alone"), "--backend", backend, *common]) == 0

    reference = json.loads((tmp_path / "alone" / "report.json").read_text())
    assert report["raw_generator"]["summary"] == reference["summary"]
    assert report["raw_generator"]["columns"] == reference["columns"]
    assert report["summary"] != reference["summary"]  # the bundle's own weights are the other generator
    assert reference["raw_generator"] is None
    md = (tmp_path / "both" / "report.md").read_text()
    assert "## Moving average (the model) against the raw generator" in md
    assert f"{report['summary']['psnr']:.2f} / {reference['summary']['psnr']:.2f}" in md
    assert "Moving average" not in (tmp_path / "alone" / "report.md").read_text()
