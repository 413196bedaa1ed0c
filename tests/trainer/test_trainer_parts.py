"""The trainer's parts against the official behaviour: data split, data order, losses, schedule, options."""

from __future__ import annotations

import argparse
import random
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stargan_rt.images import crop_resize, read_image, to_tensor
from trainer.config import TrainConfig, add_arguments, from_args
from trainer.data import IterationSampler, load_dataset
from trainer.losses import classification_loss, gradient_penalty, learning_rate
from trainer.train import LabelLayout
from trainer_testdata import write_celeba, write_rafd


def test_celeba_split_is_the_official_one(tmp_path: Path) -> None:
    root = write_celeba(tmp_path / "celeba", n=30)
    cfg = TrainConfig(celeba_test_count=7, image_size=16, d_repeat_num=2)
    train, test = load_dataset(str(root), cfg, "train"), load_dataset(str(root), cfg, "test")
    # The official solver: random.seed(1234); random.shuffle(lines); the first test_count lines are test.
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()[2:]
    state = random.getstate()
    random.seed(1234)
    random.shuffle(lines)
    random.setstate(state)
    assert [p.name for p in test.paths] == [ln.split()[0] for ln in lines[:7]]
    assert [p.name for p in train.paths] == [ln.split()[0] for ln in lines[7:]]
    header = (root / "list_attr_celeba.txt").read_text().splitlines()[1].split()
    values = lines[7].split()[1:]  # labels follow the named attribute columns, -1 -> 0
    assert train.labels[0].tolist() == [float(values[header.index(a)] == "1") for a in train.domains.domains]


def test_items_are_preprocessed_exactly_as_at_inference(tmp_path: Path) -> None:
    root = write_celeba(tmp_path / "celeba", n=8)
    ds = load_dataset(str(root), TrainConfig(celeba_test_count=0, image_size=16, d_repeat_num=2, celeba_crop_size=36), "train")
    x, label, skipped = ds[(0, False)]
    expected = to_tensor(crop_resize(read_image(ds.paths[0]), ds.preprocess, 16)[None], ds.preprocess)[0]
    assert np.array_equal(x.numpy(), expected) and skipped == []
    flipped, _, _ = ds[(0, True)]
    assert torch.equal(flipped, x.flip(-1))
    batch, labels, _ = ds.__getitems__([(0, False), (3, True)])  # what the DataLoader asks for
    assert torch.equal(batch, torch.stack([x, ds[(3, True)][0]])) and torch.equal(labels[0], label)


def test_rafd_classes_are_alphabetical_folders(tmp_path: Path) -> None:
    ds = load_dataset(f"rafd:{write_rafd(tmp_path / 'rafd')}", TrainConfig(image_size=16, d_repeat_num=2))
    assert ds.domains.domains == ("angry", "happy", "neutral") and ds.domains.kind == "one_hot"
    assert all(ds.labels[i, ds.domains.domains.index(p.parent.name)] == 1 for i, p in enumerate(ds.paths))
    assert (ds.labels.sum(1) == 1).all()


def test_data_order_is_a_function_of_seed_iteration_and_rank() -> None:
    n, b = 10, 3
    fresh = iter(IterationSampler(n, b, seed=5))
    batches = [next(fresh) for _ in range(8)]
    resumed = iter(IterationSampler(n, b, seed=5, start_iter=5))
    assert [next(resumed) for _ in range(3)] == batches[5:]
    indices = [i for batch in batches for i, _ in batch]
    assert sorted(indices[:10]) == list(range(10)) and sorted(indices[10:20]) == list(range(10))  # epochs
    assert {f for batch in batches for _, f in batch} == {True, False}  # random flips
    assert [i for i, _ in next(iter(IterationSampler(n, b, seed=6)))] != [i for i, _ in batches[0]]
    # two processes: disjoint shares of the same stream
    r0, r1 = iter(IterationSampler(12, 3, 5, rank=0, world=2)), iter(IterationSampler(12, 3, 5, rank=1, world=2))
    seen = [i for _ in range(2) for i, _ in next(r0) + next(r1)]
    assert sorted(seen) == list(range(12))


def test_learning_rate_schedule_official_defaults() -> None:
    cfg = TrainConfig()
    lr = lambda it: learning_rate(cfg.g_lr, it, cfg.num_iters, cfg.num_iters_decay, cfg.lr_update_step)  # noqa: E731
    assert lr(0) == lr(100_999) == 1e-4
    assert np.isclose(lr(101_000), 0.99e-4) and np.isclose(lr(101_999), 0.99e-4)
    assert np.isclose(lr(150_000), 0.5e-4) and lr(200_000) == 0.0
    assert learning_rate(1e-4, 10**6, 100, 0, 1) == 1e-4


def test_classification_losses() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    multi = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    expected = F.binary_cross_entropy_with_logits(logits, multi, reduction="none").sum(1).mean()
    assert torch.isclose(classification_loss(logits, multi, "multi_label"), expected)
    onehot = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert torch.isclose(classification_loss(logits, onehot, "one_hot"), F.cross_entropy(logits, torch.tensor([2, 1])))


class LinearCritic(nn.Module):
    """D_src(x) = sum(w * x): its gradient is w everywhere, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (x * self.w).flatten(1).sum(1), x.new_zeros(x.size(0), 1)


def test_gradient_penalty_of_a_linear_critic() -> None:
    w = torch.full((1, 3, 2, 2), 0.5)  # ||w|| = sqrt(12) / 2
    gp = gradient_penalty(LinearCritic(w), torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    assert torch.isclose(gp, torch.tensor((12**0.5 / 2 - 1) ** 2))
    gp.backward()  # differentiable w.r.t. D's weights (double backward)


def test_joint_label_layout_is_labels_then_mask() -> None:
    class Fake:
        def __init__(self, n: int):
            self.domains = type("D", (), {"domains": tuple(range(n))})()

    layout = LabelLayout([Fake(5), Fake(8)])  # type: ignore[list-item]
    assert (layout.d_dim, layout.g_dim) == (13, 15)
    c = layout.embed(1, torch.eye(8)[[3]])
    assert c[0, 5 + 3] == 1 and c[0, 14] == 1 and c.sum() == 2
    assert layout.slice(1) == slice(5, 13)
    single = LabelLayout([Fake(5)])  # type: ignore[list-item]
    assert single.g_dim == 5 and torch.equal(single.embed(0, torch.ones(2, 5)), torch.ones(2, 5))


def test_every_config_field_is_a_command_line_option() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_args(parser.parse_args([])) == TrainConfig()
    for f in fields(TrainConfig):
        assert f"--{f.name.replace('_', '-')}" in parser.format_help()
    args = parser.parse_args(["--attrs", "Black_Hair,Blond_Hair", "Male", "--rafd-crop-size", "256",
                              "--celeba-crop-size", "none", "--no-tensorboard", "--max-minutes", "6.5", "--g-lr", "2e-4"])
    cfg = from_args(args)
    assert cfg.attrs == ("Black_Hair", "Blond_Hair", "Male") and cfg.rafd_crop_size == 256
    assert cfg.celeba_crop_size is None and cfg.tensorboard is False and cfg.max_minutes == 6.5 and cfg.g_lr == 2e-4
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    base = TrainConfig(num_iters=7, data=("x",))
    assert from_args(parser.parse_args(["--num-iters", "9"]), base) == TrainConfig(num_iters=9, data=("x",))


def test_a_small_celeba_list_holds_out_a_tenth_and_the_full_one_the_official_1999():
    from trainer.config import TrainConfig
    from trainer.data import celeba_test_count

    assert celeba_test_count(TrainConfig(), 202_599) == 1999  # the real CelebA: the official split
    assert celeba_test_count(TrainConfig(), 500) == 50  # a small SynthFaces set still trains
    assert celeba_test_count(TrainConfig(celeba_test_count=0), 500) == 0


def test_sample_grids_take_faces_labelled_with_two_hair_colours() -> None:
    """Real CelebA labels some faces Black_Hair and Brown_Hair at once: their sample grid must not stop training."""
    from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, Preprocess
    from stargan_rt.torch_model import build_generator
    from trainer.sampling import translation_grid

    hair = ("Black_Hair", "Brown_Hair")
    meta = ModelMeta(architecture=Architecture(image_size=16, c_dim=3, conv_dim=4, repeat_num=1),
                     datasets=(DomainSet("CelebA", "multi_label", (*hair, "Male"), (hair,)),),
                     preprocess=Preprocess(crop_size=178), provenance={})
    crops = [np.full((16, 16, 3), 90, np.uint8)] * 2
    grid = translation_grid(build_generator(meta.architecture).eval(), meta, crops,
                            [{"Black_Hair": 1.0, "Brown_Hair": 1.0, "Male": 0.0}, {"Male": 1.0}])
    assert grid.shape[0] >= 2 * 16 and grid.shape[1] >= 4 * 16
