"""Bad input gives one clear line and a non-zero exit before training starts; unreadable images are skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stargan_rt.bundle import load_meta
from stargan_rt.cli import main
from trainer_testdata import TINY, write_celeba, write_custom, write_rafd


def fails_with(capsys: pytest.CaptureFixture[str], argv: list[str], *fragments: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stargan-rt train: error:"), err
    for f in fragments:
        assert f in err[0], err[0]
    return err[0]


def test_missing_folder_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "stargan_rt.cli", "train", "--data", str(tmp_path / "nope"),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == f"stargan-rt train: error: {tmp_path / 'nope'}: no such dataset folder or file"
    assert not (tmp_path / "run").exists()


def test_unknown_attribute_names_the_close_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_celeba(tmp_path / "celeba")
    fails_with(capsys, ["train", "--data", str(tmp_path / "celeba"), "--attrs", "Blond_hair,Male", *TINY],
               "unknown attribute 'Blond_hair'", "did you mean Blond_Hair?")
    csv_path = write_custom(tmp_path / "custom")
    fails_with(capsys, ["train", "--data", str(csv_path), "--attrs", "Sqare", *TINY], "did you mean Square?")


def test_empty_datasets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    celeba = tmp_path / "celeba"
    celeba.mkdir()
    (celeba / "list_attr_celeba.txt").write_text("0\nBlack_Hair Blond_Hair Brown_Hair Male Young\n")
    fails_with(capsys, ["train", "--data", str(celeba), *TINY], "has no images")
    (tmp_path / "rafd").mkdir()
    fails_with(capsys, ["train", "--data", f"rafd:{tmp_path / 'rafd'}", *TINY], "no class folders")
    (tmp_path / "rafd" / "happy").mkdir()
    fails_with(capsys, ["train", "--data", f"rafd:{tmp_path / 'rafd'}", *TINY], "happy: class folder has no images")
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "labels.csv").write_text("filename,Smiling\n")
    fails_with(capsys, ["train", "--data", str(tmp_path / "custom"), *TINY], "has no images")


def test_listed_images_that_are_all_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_celeba(tmp_path / "celeba")
    for p in (tmp_path / "celeba" / "images").iterdir():
        p.rename(tmp_path / p.name)
    fails_with(capsys, ["train", "--data", str(tmp_path / "celeba"), *TINY], "cannot find the listed images")


def test_official_split_that_leaves_nothing_to_train_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_celeba(tmp_path / "celeba", n=24)
    argv = ["train", "--data", str(tmp_path / "celeba"), *TINY, "--celeba-test-count", "1999"]
    fails_with(capsys, argv, "all in the test split", "--celeba-test-count")


def test_malformed_csv_and_undetectable_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_custom(tmp_path / "custom")
    csv_path.write_text(csv_path.read_text() + "s99.png,yes,1\n")
    fails_with(capsys, ["train", "--data", str(csv_path), *TINY], "labels.csv:18", "0/1 or -1/1")
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "a.txt").write_text("x")
    fails_with(capsys, ["train", "--data", str(tmp_path / "loose"), *TINY], "cannot tell the dataset format")


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    argv = ["train", "--data", str(tmp_path / "rafd"), *TINY, "--num-iters", "1", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    capsys.readouterr()
    fails_with(capsys, argv, "already holds a run (checkpoint at iteration 1)", "--resume")
    fails_with(capsys, ["train", "--resume", "--out", str(tmp_path / "elsewhere")], "nothing to resume")


def test_a_resumed_run_keeps_its_architecture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "rafd"), *TINY, "--num-iters", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    fails_with(capsys, ["train", "--resume", "--out", str(out), "--num-iters", "2", "--g-upsample", "resize"],
               "a resumed run keeps its architecture: --g-upsample resize (the run has transpose)")


def test_corrupt_checkpoint_on_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "rafd"), *TINY, "--num-iters", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    state = out / "checkpoint" / "state.pt"
    state.write_bytes(state.read_bytes()[:1000])
    fails_with(capsys, ["train", "--resume", "--out", str(out), "--num-iters", "2"], "corrupt or truncated checkpoint")


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    data = ["--data", str(tmp_path / "rafd")]
    fails_with(capsys, ["train", *data, *TINY, "--image-size", "24", "--d-repeat-num", "4"], "divisible by 2**d_repeat_num")
    fails_with(capsys, ["train", *data, *TINY, "--batch-size", "0"], "--batch-size must be at least 1")
    fails_with(capsys, ["train", *TINY], "no training data")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_for_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    fails_with(capsys, ["train", "--data", str(tmp_path / "rafd"), *TINY, "--device", "cuda"], "sees no CUDA GPU")


@pytest.mark.parametrize("cache", [[], ["--cache-in-memory"], ["--data-on-device"]],
                         ids=["from_disk", "cached_in_memory", "data_on_device"])
def test_unreadable_image_is_skipped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str], cache: list[str]) -> None:
    write_celeba(tmp_path / "celeba", n=8)
    bad = tmp_path / "celeba" / "images" / "000005.jpg"
    bad.write_bytes(b"this is not a JPEG")
    out = tmp_path / "run"
    # 8 training images (no test split), 4 per batch, 4 iterations: every image is drawn twice.
    argv = ["train", "--data", str(tmp_path / "celeba"), *TINY, "--celeba-test-count", "0", "--num-iters", "4",
            "--out", str(out)]
    assert main(argv + cache) == 0
    captured = capsys.readouterr()
    assert f"warning: unreadable image skipped: {bad}" in captured.err
    assert "Traceback" not in captured.err
    assert "unreadable images skipped" in captured.out
    skipped = load_meta(out / "bundle").provenance["skipped_images"]
    assert skipped == 2  # drawn twice, replaced twice
