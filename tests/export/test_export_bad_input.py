"""Bad input to export/check: one clear line on stderr, a non-zero exit, and nothing half-written left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import stargan_rt
from stargan_rt._optional import available


def assert_one_line_error(r, command: str, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"stargan-rt {command}: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.endswith(".tmp")]


def test_truncated_bundle_weights(tmp_path, bundle):
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    weights = broken / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    r = stargan_rt("export", broken, "-o", tmp_path / "out", "--no-int8")
    assert_one_line_error(r, "export", "generator.safetensors")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_missing_bundle(tmp_path):
    assert_one_line_error(stargan_rt("export", tmp_path / "nothing", "-o", tmp_path / "out"), "export", "not a model bundle")


def test_corrupt_onnx_given_to_check(tmp_path, exported, bundle):
    onnx_file = tmp_path / "generator.onnx"
    onnx_file.write_bytes((exported[0] / "generator.onnx").read_bytes()[:5000])
    assert_one_line_error(stargan_rt("check", bundle, onnx_file), "check", "generator.onnx")


@pytest.mark.parametrize("batch", ["1:x:3", "4:2:1", "0", "1:2", ""])
def test_batch_range_that_does_not_parse(tmp_path, bundle, batch):
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--batch", batch, "--no-int8")
    assert_one_line_error(r, "export", "batch")
    assert not (tmp_path / "out").exists()


def test_output_folder_whose_parent_does_not_exist(tmp_path, bundle):
    r = stargan_rt("export", bundle, "-o", tmp_path / "no" / "such" / "out", "--no-int8")
    assert_one_line_error(r, "export", "does not exist")
    assert not (tmp_path / "no").exists()


def test_output_path_that_is_a_file_or_under_a_file(tmp_path, bundle):
    f = tmp_path / "file.txt"
    f.write_text("mine")
    assert_one_line_error(stargan_rt("export", bundle, "-o", f, "--no-int8"), "export", "not a folder")
    assert_one_line_error(stargan_rt("export", bundle, "-o", f / "out", "--no-int8"), "export")
    assert f.read_text() == "mine"


def test_a_folder_of_other_files_is_never_replaced(tmp_path, bundle):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "holiday.jpg").write_bytes(b"not ours")
    assert_one_line_error(stargan_rt("export", bundle, "-o", precious, "--no-int8"), "export", "'holiday.jpg'",
                          "did not write")
    assert (precious / "holiday.jpg").read_bytes() == b"not ours"


def test_an_earlier_export_holding_a_users_file_is_never_replaced(tmp_path, bundle, exported):
    out = tmp_path / "out"
    shutil.copytree(exported[0], out)
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_one_line_error(stargan_rt("export", bundle, "-o", out, "--no-int8"), "export", "'notes.txt'", "did not write")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and not leftovers(tmp_path)


def test_missing_calibration_folder(tmp_path, bundle):
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--calib", tmp_path / "nope")
    assert_one_line_error(r, "export", "calibration")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(available("tensorrt"), reason="TensorRT is installed here: --engine would build")
def test_engine_without_tensorrt(tmp_path, bundle):
    # (TensorRT for RTX, where installed, builds: tests/export/test_tensorrt_rtx.py)
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--engine", "--tensorrt", "tensorrt", "--no-int8")
    assert_one_line_error(r, "export", "TensorRT")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.slow
def test_a_failure_midway_keeps_the_previous_export_intact(tmp_path, bundle, exported, faces_dir, monkeypatch):
    import export.int8
    from stargan_rt.errors import BadModel

    out = tmp_path / "out"
    shutil.copytree(exported[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*args, **kwargs):
        raise BadModel("quantisation failed (simulated)")

    monkeypatch.setattr(export.int8, "float_to_int8", fail)
    r = stargan_rt("export", bundle, "-o", out, "--calib", faces_dir)
    assert_one_line_error(r, "export", "simulated")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not leftovers(tmp_path)

