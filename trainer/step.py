"""One iteration's two steps, D (WGAN-GP, every iteration) and G (every n_critic), and the ways to run them fast.

The math is written once (`d_step`, `g_step`); the levers change how it runs, never what it computes:
- torch.compile of G (`--compile g`) or of G and D (`gd`): D's gradient-penalty pass always runs eagerly through
  the plain module, because compiled autograd has no double backward; D's other passes use the compiled one;
- CUDA graphs (`--cuda-graphs`): after a few eager warm-up steps on a side stream, each step (forwards, penalty,
  backwards, Adam) is captured whole and replayed from static input buffers. Adam is then `capturable` with its
  learning rate a device tensor, so the schedule still applies; autocast runs without its weight cache;
- the Adam implementation (`--adam foreach|fused`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import torch
from torch import nn

from stargan_rt.errors import BadInput

from .config import TrainConfig
from .losses import classification_loss, gradient_penalty

Losses = dict[str, torch.Tensor]


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No parameter gradients for `module` (D during the G step: only G is updated)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


@dataclass
class Nets:
    """G and D with their optimisers; `g_sync`/`d_sync` are the DDP wrappers when data-parallel, else G and D.
    With --compile, `g_fast` (every G pass) and `d_fast` (every D pass but the penalty's) are compiled modules."""

    g: nn.Module
    d: nn.Module
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    g_sync: nn.Module
    d_sync: nn.Module
    g_fast: nn.Module | None = None
    d_fast: nn.Module | None = None

    def g_pass(self, synced: bool) -> nn.Module:
        return self.g_fast if self.g_fast is not None else (self.g_sync if synced else self.g)

    def d_pass(self, synced: bool) -> nn.Module:
        return self.d_fast if self.d_fast is not None else (self.d_sync if synced else self.d)


@dataclass
class Batch:
    """One dataset's batch: images, its own labels (org) and shuffled ones (trg), per dataset (_k) and for G."""

    x_real: torch.Tensor
    c_org_k: torch.Tensor
    c_trg_k: torch.Tensor
    c_org: torch.Tensor
    c_trg: torch.Tensor
    cls_slice: slice  # this dataset's columns of D's classifier output
    kind: str  # multi_label or one_hot

    TENSORS = ("x_real", "c_org_k", "c_trg_k", "c_org", "c_trg")

    def tensors(self) -> list[torch.Tensor]:
        return [getattr(self, name) for name in self.TENSORS]


def d_step(nets: Nets, b: Batch, cfg: TrainConfig, autocast: torch.autocast) -> Losses:
    """D: real images score high and are classified by their labels, translations score low; WGAN-GP."""
    n = b.x_real.size(0)
    with autocast:  # forward passes only; backward runs outside, as autocast wants
        with torch.no_grad():  # G's forward here needs no graph (and must not arm DDP for a backward)
            x_fake = nets.g_pass(synced=False)(b.x_real, b.c_trg).to(b.x_real.dtype)
        out_src, out_cls = nets.d_pass(synced=True)(torch.cat([b.x_real, x_fake]))  # no normalisation: one pass
        loss_real = -out_src[:n].float().mean()
        loss_fake = out_src[n:].float().mean()
        loss_cls = classification_loss(out_cls[:n, b.cls_slice], b.c_org_k, b.kind)
        loss_gp = gradient_penalty(nets.d_sync, b.x_real, x_fake)  # eager: a double backward
        loss = loss_real + loss_fake + cfg.lambda_cls * loss_cls + cfg.lambda_gp * loss_gp
    nets.d_opt.zero_grad(set_to_none=True)
    loss.backward()
    nets.d_opt.step()
    return {"D/loss": loss, "D/loss_real": loss_real, "D/loss_fake": loss_fake, "D/loss_cls": loss_cls,
            "D/loss_gp": loss_gp}


def g_step(nets: Nets, b: Batch, cfg: TrainConfig, autocast: torch.autocast) -> Losses:
    """G: fool D, be classified as the target domain, and translate back to the input (cycle L1)."""
    with frozen(nets.d), autocast:  # D is only a critic here: no gradients for its weights, no DDP sync for it
        g = nets.g_pass(synced=True)
        x_fake = g(b.x_real, b.c_trg)
        out_src, out_cls = nets.d_pass(synced=False)(x_fake)
        loss_fake = -out_src.float().mean()
        loss_cls = classification_loss(out_cls[:, b.cls_slice], b.c_trg_k, b.kind)
        x_rec = g(x_fake, b.c_org)
        loss_rec = (b.x_real - x_rec.float()).abs().mean()
        loss = loss_fake + cfg.lambda_rec * loss_rec + cfg.lambda_cls * loss_cls
    nets.g_opt.zero_grad(set_to_none=True)
    loss.backward()  # D's weights were frozen in the forward pass, so the graph holds none of them
    nets.g_opt.step()
    return {"G/loss": loss, "G/loss_fake": loss_fake, "G/loss_rec": loss_rec, "G/loss_cls": loss_cls}


def read_losses(losses: Losses) -> dict[str, float]:
    """The losses as numbers, in one device-to-host sync."""
    names = list(losses)
    return dict(zip(names, torch.stack([losses[n].detach().float() for n in names]).tolist())) if names else {}


# --- optimisers -------------------------------------------------------------------------------------------


def adam(params: Any, lr: float, cfg: TrainConfig, device: torch.device) -> torch.optim.Adam:
    """Adam(beta1, beta2) as --adam and --cuda-graphs want it (a captured step needs capturable state and a tensor
    learning rate that the schedule can change between replays)."""
    kwargs: dict[str, Any] = {}
    if cfg.adam != "default":
        kwargs[cfg.adam] = True
    if cfg.cuda_graphs:
        kwargs["capturable"] = True
        return torch.optim.Adam(params, torch.tensor(lr, device=device), (cfg.beta1, cfg.beta2), **kwargs)
    return torch.optim.Adam(params, lr, (cfg.beta1, cfg.beta2), **kwargs)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """In place for a tensor rate (a captured step reads that memory)."""
    for group in opt.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def load_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """A checkpoint's optimiser state, kept on the implementation asked for now: load_state_dict would also bring
    back the checkpoint's foreach/fused/capturable flags and learning-rate type."""
    keep: list[dict[str, Any]] = [{k: g[k] for k in ("lr", "foreach", "fused", "capturable") if k in g}
                                  for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, now in zip(opt.param_groups, keep):
        group.update(now)
        on_device = bool(group.get("fused") or group.get("capturable"))  # where Adam keeps `step` in that case
        for p in group["params"]:
            st = opt.state.get(p)
            if st and isinstance(st.get("step"), torch.Tensor):
                st["step"] = st["step"].to(device=p.device if on_device else "cpu", dtype=torch.float32)


# --- running the steps --------------------------------------------------------------------------------------


def check_levers(cfg: TrainConfig, device: torch.device, world: int) -> None:
    if cfg.cuda_graphs and device.type != "cuda":
        raise BadInput(f"--cuda-graphs needs a CUDA device (training on {device})")
    if world > 1 and (cfg.cuda_graphs or cfg.compile != "none"):
        raise BadInput("--cuda-graphs and --compile are for one process; under torchrun leave them off")
    if cfg.adam == "fused" and device.type not in ("cuda", "cpu"):
        raise BadInput(f"--adam fused: not available on {device}")


def compiled(module: nn.Module) -> nn.Module:
    """torch.compile with fixed shapes (every batch has the same size); the plain module stays the one saved."""
    return torch.compile(module, dynamic=False)  # type: ignore[return-value]


class Steps:
    """The D and G steps of one iteration as the loop calls them: `d(k, batch)` and `g(k, batch)`, k the dataset."""

    def __init__(self, nets: Nets, cfg: TrainConfig, device: torch.device):
        self.nets, self.cfg = nets, cfg
        # autocast's cached weight casts are freed when its block ends: a captured graph would read freed memory
        self.autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16",
                                       cache_enabled=False if cfg.cuda_graphs else None)
        self.graphs = CudaGraphs() if cfg.cuda_graphs else None

    def _run(self, name: str, k: int, fn: Callable[..., Losses], b: Batch) -> Losses:
        if self.graphs is None:
            return fn(self.nets, b, self.cfg, self.autocast)
        return self.graphs.run((name, k), lambda s: fn(self.nets, s, self.cfg, self.autocast), b)

    def d(self, k: int, b: Batch) -> Losses:
        return self._run("d", k, d_step, b)

    def g(self, k: int, b: Batch) -> Losses:
        return self._run("g", k, g_step, b)


class CudaGraphs:
    """Whole-step CUDA graphs, one per (step, dataset): warm up eagerly, capture, then replay.

    The warm-up steps are real training steps (run on a side stream, as capture wants: cudnn picks its algorithms,
    Adam creates its state, torch.compile compiles). Capture records without computing, so the step that is
    captured is then replayed at once. Each graph has its own memory pool: the gradients it allocates while
    captured stay its own.
    """

    WARMUP = 3

    def __init__(self) -> None:
        self.static: dict[Any, Batch] = {}
        self.captured: dict[Any, tuple[torch.cuda.CUDAGraph, Losses]] = {}
        self.warm: dict[Any, int] = {}
        self.stream = torch.cuda.Stream()

    def _fill(self, key: Any, b: Batch) -> Batch:
        k = key[1]
        s = self.static.get(k)
        if s is None:  # one set of input buffers per dataset, shared by its D and G graphs
            s = self.static[k] = replace(b, **{name: getattr(b, name).clone() for name in Batch.TENSORS})
        else:
            for dst, src in zip(s.tensors(), b.tensors()):
                dst.copy_(src)
        return s

    def run(self, key: Any, step: Callable[[Batch], Losses], b: Batch) -> Losses:
        s = self._fill(key, b)
        if key in self.captured:
            graph, out = self.captured[key]
            graph.replay()
            return out
        current = torch.cuda.current_stream()
        if self.warm.get(key, 0) < self.WARMUP:
            self.warm[key] = self.warm.get(key, 0) + 1
            self.stream.wait_stream(current)
            with torch.cuda.stream(self.stream):
                out = step(s)
            current.wait_stream(self.stream)
            return out
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = step(s)
        self.captured[key] = (graph, out)
        graph.replay()
        return out
