"""StarGAN's losses and learning-rate schedule (WGAN-GP + domain classification + L1 reconstruction)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def classification_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Multi-label (CelebA): BCE summed over attributes, averaged over the batch. One-hot (RaFD): cross-entropy."""
    logits = logits.float()
    if kind == "one_hot":
        return F.cross_entropy(logits, target.argmax(dim=1))
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.size(0)


def gradient_penalty(d: nn.Module, x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
    """mean((||dD_src/dx_hat||_2 - 1)^2) on random interpolates of real and fake images (WGAN-GP)."""
    alpha = torch.rand(x_real.size(0), 1, 1, 1, device=x_real.device)
    x_hat = (alpha * x_real + (1 - alpha) * x_fake).requires_grad_(True)
    out_src, _ = d(x_hat)
    (grad,) = torch.autograd.grad(out_src.float().sum(), x_hat, create_graph=True)
    return ((grad.float().flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def learning_rate(base: float, iteration: int, num_iters: int, num_iters_decay: int, update_step: int) -> float:
    """The rate for the step after `iteration` completed ones: constant, then falling linearly to 0 over the last
    `num_iters_decay` iterations, updated every `update_step` iterations. A pure function of the iteration, so a
    resumed run gets the same schedule."""
    if num_iters_decay <= 0:
        return base
    start = num_iters - num_iters_decay
    updates = max(0, iteration // update_step - max(0, start) // update_step)
    return max(0.0, base * (1.0 - updates * update_step / num_iters_decay))
