"""Short training runs through the CLI produce a bundle that loads, sample grids, metrics and a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from stargan_rt.bundle import load_meta
from stargan_rt.cli import main
from stargan_rt.torch_model import load_generator
from trainer_testdata import TINY, write_celeba, write_custom, write_rafd


def train(tmp_path: Path, data: list[str], *extra: str, iters: int = 4) -> Path:
    out = tmp_path / "run"
    rc = main(["train", "--data", *data, *TINY, "--num-iters", str(iters), "--log-every", "1", "--sample-every", "2",
               "--out", str(out), *extra])
    assert rc == 0
    return out


def grid_shape(rows: int, columns: int, size: int = 16) -> tuple[int, int]:
    """Height without the title strip, width: stargan_rt.images.make_grid's layout with pad 2."""
    return rows * (size + 2) + 2, columns * (size + 2) + 2


def check_run(out: Path, iters: int, domains: tuple[str, ...], rows: int) -> None:
    g, meta = load_generator(str(out / "bundle"))
    assert meta.domain_names == domains
    assert meta.provenance["iterations"] == iters
    assert meta.provenance["command"].startswith("stargan-rt train --data")
    final = {k.split("/", 1)[-1] if meta.joint else k for k in meta.provenance["final_losses"]}
    assert final >= {"D/loss_real", "D/loss_fake", "D/loss_cls", "D/loss_gp", "G/loss_fake", "G/loss_rec", "G/loss_cls"}
    y = g(torch.zeros(1, 3, 16, 16), torch.zeros(1, meta.architecture.c_dim))
    assert y.shape == (1, 3, 16, 16) and torch.isfinite(y).all()
    samples = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert samples == [f"{i:06d}.png" for i in range(2, iters + 1, 2)]
    grid = cv2.imread(str(out / "samples" / samples[-1]))
    h, w = grid_shape(rows, 1 + len(domains))
    assert grid.shape[1] == w and grid.shape[0] > h  # titles on top
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == list(range(1, iters + 1))
    assert all(np.isfinite(v) for r in records for k, v in r.items() if "loss" in k)
    assert json.loads((out / "checkpoint" / "config.json").read_text())["iteration"] == iters


def test_celeba_format_run_writes_bundle_samples_and_tensorboard(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeba")
    out = train(tmp_path, [str(tmp_path / "celeba")], "--tensorboard")
    check_run(out, 4, ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), rows=2)
    meta = load_meta(out / "bundle")
    assert meta.datasets[0].exclusive == (("Black_Hair", "Blond_Hair", "Brown_Hair"),)
    assert meta.preprocess.crop_size == 178
    assert meta.provenance["data"][0]["images"] == 24 - 4  # the official split holds --celeba-test-count out
    assert list((out / "tb").glob("events.out.tfevents.*"))


def test_attributes_are_picked_by_name_in_the_given_order(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeba")
    out = train(tmp_path, [f"celeba:{tmp_path / 'celeba' / 'list_attr_celeba.txt'}"], "--attrs", "Young,Male",
                "--celeba-crop-size", "36", iters=2)
    meta = load_meta(out / "bundle")
    assert meta.domain_names == ("Young", "Male") and meta.architecture.c_dim == 2
    assert meta.preprocess.crop_size == 36


def test_custom_csv_run_with_signed_labels(tmp_path: Path) -> None:
    csv_path = write_custom(tmp_path / "custom", signed=True)
    out = train(tmp_path, [str(csv_path.parent)])
    check_run(out, 4, ("Square", "Red"), rows=2)
    assert load_meta(out / "bundle").preprocess.crop_size is None


def test_rafd_run_is_one_hot_with_alphabetical_classes(tmp_path: Path) -> None:
    write_rafd(tmp_path / "rafd")
    out = train(tmp_path, [f"rafd:{tmp_path / 'rafd'}"])
    check_run(out, 4, ("angry", "happy", "neutral"), rows=2)
    meta = load_meta(out / "bundle")
    assert meta.datasets[0].kind == "one_hot" and meta.preprocess.crop_size is None


def test_joint_run_uses_the_mask_vector(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeba")
    write_rafd(tmp_path / "rafd")
    out = train(tmp_path, [str(tmp_path / "celeba"), str(tmp_path / "rafd")])
    check_run(out, 4, ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young", "angry", "happy", "neutral"), rows=4)
    meta = load_meta(out / "bundle")
    assert meta.joint and meta.architecture.c_dim == 5 + 3 + 2
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"CelebA/D/loss_cls", "RaFD/D/loss_cls", "CelebA/G/loss_rec", "RaFD/G/loss_rec"} <= set(last)


def test_bf16_autocast_and_channels_last_train(tmp_path: Path) -> None:
    write_custom(tmp_path / "custom")
    out = train(tmp_path, [str(tmp_path / "custom")], "--amp", "bf16", "--channels-last", iters=2)
    check_run(out, 2, ("Square", "Red"), rows=2)


def test_resize_up_sampling_trains_and_its_bundle_says_so(tmp_path: Path) -> None:
    write_custom(tmp_path / "custom")
    out = train(tmp_path, [str(tmp_path / "custom")], "--g-upsample", "resize", iters=2)
    check_run(out, 2, ("Square", "Red"), rows=2)
    assert load_meta(out / "bundle").architecture.upsample == "resize"
    g, _ = load_generator(str(out / "bundle"))
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())


def test_sample_command_makes_a_figure_2_grid_from_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_celeba(tmp_path / "celeba")
    out = train(tmp_path, [str(tmp_path / "celeba")], iters=2)
    grid_path = tmp_path / "grid.png"
    rc = main(["sample", str(out / "bundle"), str(tmp_path / "celeba" / "images"), "-o", str(grid_path),
               "--max-images", "3", "--source", "Black_Hair,Young", "--device", "cpu"])
    assert rc == 0
    grid = cv2.imread(str(grid_path))
    h, w = grid_shape(3, 1 + 5)
    assert grid.shape[1] == w and grid.shape[0] > h
    # the first column is the input itself, cropped and resized as the model was trained
    first = cv2.imread(str(tmp_path / "celeba" / "images" / "000001.jpg"))
    from stargan_rt.images import crop_resize
    expected = crop_resize(first, load_meta(out / "bundle").preprocess, 16)
    top = grid.shape[0] - h
    assert np.array_equal(grid[top + 2:top + 18, 2:18], expected)


def test_sample_takes_each_images_attributes_from_a_celeba_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from stargan_rt.attr_list import attrs_by_image
    from stargan_rt.images import crop_resize
    from trainer.sampling import translation_grid

    write_celeba(tmp_path / "celeba")
    out = train(tmp_path, [str(tmp_path / "celeba")], iters=2)
    listing = tmp_path / "celeba" / "list_attr_celeba.txt"
    images = sorted((tmp_path / "celeba" / "images").glob("*.jpg"))[:2]
    stray = Path(shutil.copy(images[0], tmp_path / "stray.jpg"))
    rc = main(["sample", str(out / "bundle"), *map(str, images), str(stray), "-o", str(tmp_path / "grid.png"),
               "--source", str(listing), "--device", "cpu"])
    assert rc == 2 and f"{stray}: not in {listing}" in capsys.readouterr().err  # named, not guessed
    g, meta = load_generator(str(out / "bundle"))
    listed = attrs_by_image(listing, list(meta.domain_names))
    crops = [crop_resize(cv2.imread(str(p)), meta.preprocess, 16) for p in images]
    expected = translation_grid(g, meta, crops, [listed[p.name] for p in images])
    assert np.array_equal(cv2.imread(str(tmp_path / "grid.png")), expected)


def test_time_budget_stops_cleanly_with_bundle_checkpoint_and_samples(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_rafd(tmp_path / "rafd")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "rafd"), *TINY, "--num-iters", "100000", "--max-minutes", "0.0001",
                 "--out", str(out)]) == 0
    assert "time budget of 0.0001 min spent" in capsys.readouterr().out
    done = load_meta(out / "bundle").provenance["iterations"]
    assert 1 <= done < 100000
    assert json.loads((out / "checkpoint" / "config.json").read_text())["iteration"] == done
    assert (out / "samples" / f"{done:06d}.png").is_file()
