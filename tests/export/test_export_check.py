"""`stargan-rt check A B`: the same fresh inputs through two artifacts; exit 0 when they agree, 1 when not."""

from __future__ import annotations

import re

import pytest

from conftest import stargan_rt


def _numbers(stdout: str) -> dict[str, float]:
    m = re.search(r"max abs error ([^\s,]+).*mean abs error ([^\s,]+).*PSNR (\S+) dB", stdout)
    assert m, stdout
    return {"max": float(m.group(1)), "mean": float(m.group(2)), "psnr": float(m.group(3))}


@pytest.mark.parametrize("artifact", ["generator.onnx", "generator_frames.onnx", "generator_fp16.onnx", "generator_int8.onnx",
                                      "generator_int8_ov.xml"])
def test_every_exported_artifact_agrees_with_the_bundle(exported, bundle, artifact):
    r = stargan_rt("check", bundle, exported[0] / artifact, "--batch", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    n = _numbers(r.stdout)
    assert n["max"] >= n["mean"] >= 0 and "agree" in r.stdout
    if artifact == "generator.onnx":
        assert n["max"] <= 1e-4
    if artifact.endswith(".xml"):  # an OpenVINO IR runs on ov-cpu and is held to the INT8 tolerance
        assert "B: ov-cpu: OpenVINO" in r.stdout and "int8" in r.stdout and "PSNR >= 30 dB" in r.stdout


def test_different_weights_disagree_with_exit_status_1(bundle, other_bundle):
    r = stargan_rt("check", bundle, other_bundle)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "DISAGREE" in r.stdout and _numbers(r.stdout)["max"] > 0.1


def test_an_explicit_tolerance_overrides_the_default(exported, bundle):
    fp16 = exported[0] / "generator_fp16.onnx"
    assert stargan_rt("check", bundle, fp16, "--atol", "1e-7").returncode == 1  # FP16 is not bit-exact
    assert stargan_rt("check", bundle, fp16, "--min-psnr", "45").returncode == 0


def test_check_on_real_images(exported, bundle, faces_dir):
    r = stargan_rt("check", exported[0] / "generator.onnx", exported[0] / "generator_int8.onnx", "--images", faces_dir, "--batch", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PSNR >= 30 dB" in r.stdout
