"""The StarGAN training loop: WGAN-GP + domain classification + L1 reconstruction, one or two datasets.

Runs the same on one CPU, one GPU or many processes under torchrun (DDP is detected from RANK/WORLD_SIZE in
the environment; the master process alone logs, samples and saves). Joint training follows the paper: G's
label is [labels of dataset 1 | labels of dataset 2 | one-hot mask], D classifies all domains and each
dataset's loss uses its own slice; every iteration runs a D step (and, when due, a G step) per dataset.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from stargan_rt.atomic import check_replaceable, recover
from stargan_rt.bundle import BUNDLE_ENTRIES, save_bundle
from stargan_rt.errors import BadInput, StarGanError
from stargan_rt.images import write_image
from stargan_rt.outputs import check_folder
from stargan_rt.torch_model import Discriminator, Generator, generator_state_numpy, load_state

from .checkpoint import (CHECKPOINT_ENTRIES, STATE_FILE, RunLock, checkpoint_dir, load_checkpoint, read_config, rng_state,
                         save_checkpoint, set_rng_state)
from .config import TrainConfig
from .data import DeviceBatches, FaceDataset, describe, load_dataset, make_loader
from .ema import Ema
from .losses import learning_rate
from .meta import build_meta, git_commit
from .sampling import translation_grid
from .step import Batch, Losses, Nets, Steps, adam, check_levers, compiled, load_optimizer, read_losses, set_lr


class Diverged(StarGanError):
    """A loss became NaN or infinite."""


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BadInput(f"--device {name!r}: use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"--device {name}: PyTorch {torch.__version__} sees no CUDA GPU")
    return device


def setup_distributed(device_name: str) -> tuple[Dist, torch.device]:
    """nanoGPT style: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them this is a single process."""
    device = pick_device(device_name)
    if int(os.environ.get("RANK", -1)) == -1:
        return Dist(), device
    d = Dist(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ["WORLD_SIZE"]))
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return d, device


class LabelLayout:
    """Where each dataset's labels go in G's label ([c1 | c2 | mask]) and in D's classifier output ([c1 | c2])."""

    def __init__(self, datasets: list[FaceDataset]):
        sizes = [len(ds.domains.domains) for ds in datasets]
        self.offsets = [sum(sizes[:k]) for k in range(len(sizes))]
        self.sizes = sizes
        self.d_dim = sum(sizes)
        self.g_dim = self.d_dim + (len(sizes) if len(sizes) > 1 else 0)

    def slice(self, k: int) -> slice:
        return slice(self.offsets[k], self.offsets[k] + self.sizes[k])

    def embed(self, k: int, labels: torch.Tensor) -> torch.Tensor:
        c = labels.new_zeros(labels.size(0), self.g_dim)
        c[:, self.slice(k)] = labels
        if self.g_dim > self.d_dim:
            c[:, self.d_dim + k] = 1.0
        return c


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """DDP broadcasts rank 0's weights at construction; the buffers (unused running stats) need no syncing."""
    DDP = nn.parallel.DistributedDataParallel
    no_sync: dict[str, Any] = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
               else {"broadcast_buffers": False})
    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)


@dataclass
class Session:
    """What one training process runs, iteration by iteration: the nets, their moving average, the steps and the
    batches. `stargan-rt train` drives it (and logs, samples, saves); the training benchmark times it."""

    cfg: TrainConfig
    device: torch.device
    datasets: list[FaceDataset]
    layout: LabelLayout
    nets: Nets
    ema: Ema | None
    steps: Steps
    batches: list[Iterator[Any]]
    memory_format: torch.memory_format
    lr: tuple[float, float] | None = None  # (G, D) learning rates in use

    @property
    def g_out(self) -> nn.Module:
        """The generator samples, the bundle and export use: the moving average when there is one."""
        return self.ema.model if self.ema is not None else self.nets.g

    def iteration(self, it: int) -> tuple[Losses, list[str]]:
        """Train iteration `it` (0-based): per dataset a D step and, every n_critic-th iteration, a G step; then the
        moving average. Returns the losses (device tensors: reading them syncs) and the unreadable images skipped."""
        cfg, nets = self.cfg, self.nets
        lr = (learning_rate(cfg.g_lr, it, cfg.num_iters, cfg.num_iters_decay, cfg.lr_update_step),
              learning_rate(cfg.d_lr, it, cfg.num_iters, cfg.num_iters_decay, cfg.lr_update_step))
        if lr != self.lr:
            set_lr(nets.g_opt, lr[0])
            set_lr(nets.d_opt, lr[1])
            self.lr = lr
        losses: Losses = {}
        skipped: list[str] = []
        g_due = (it + 1) % cfg.n_critic == 0
        for k, ds in enumerate(self.datasets):
            prefix = f"{ds.domains.name}/" if len(self.datasets) > 1 else ""
            x_real, c_org_k, bad = next(self.batches[k])
            skipped += bad
            x_real = x_real.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
            c_org_k = c_org_k.to(self.device, non_blocking=True)
            c_trg_k = c_org_k[torch.randperm(c_org_k.size(0), device=self.device)]  # targets: the labels, shuffled
            batch = Batch(x_real, c_org_k, c_trg_k, self.layout.embed(k, c_org_k), self.layout.embed(k, c_trg_k),
                          self.layout.slice(k), ds.domains.kind)
            losses.update({prefix + name: v for name, v in self.steps.d(k, batch).items()})
            if g_due:
                losses.update({prefix + name: v for name, v in self.steps.g(k, batch).items()})
        if g_due and self.ema is not None:
            self.ema.update(nets.g)
        return losses, skipped

    def state(self) -> dict[str, Any]:
        """The weights and optimiser states for a checkpoint (the iteration, RNG and counters are added by train)."""
        n = self.nets
        return {"G": n.g.state_dict(), "D": n.d.state_dict(), "g_opt": n.g_opt.state_dict(),
                "d_opt": n.d_opt.state_dict(), **(self.ema.state() if self.ema is not None else {})}


def build_session(cfg: TrainConfig, datasets: list[FaceDataset], device: torch.device, ddp: Dist = Dist(),
                  start: int = 0, state: dict[str, Any] | None = None) -> Session:
    """Nets (seeded by the caller), optimisers, moving average and batches, from `state` (a checkpoint) if given."""
    check_levers(cfg, device, ddp.world)
    layout = LabelLayout(datasets)
    g_raw = Generator(cfg.g_conv_dim, layout.g_dim, cfg.g_repeat_num, cfg.g_upsample).to(device)
    d_raw = Discriminator(cfg.image_size, cfg.d_conv_dim, layout.d_dim, cfg.d_repeat_num).to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for net in (g_raw, d_raw):
        net.to(memory_format=memory_format)  # type: ignore[call-overload]  # (missing from torch's stubs)
    g_opt = adam(g_raw.parameters(), cfg.g_lr, cfg, device)
    d_opt = adam(d_raw.parameters(), cfg.d_lr, cfg, device)
    nets = Nets(g_raw, d_raw, g_opt, d_opt, *(_ddp(m, device) if ddp.world > 1 else m for m in (g_raw, d_raw)))
    if cfg.compile != "none":
        nets.g_fast = compiled(g_raw)
        nets.d_fast = compiled(d_raw) if cfg.compile == "gd" else None
    ema = Ema(g_raw, cfg.ema_decay) if cfg.ema_decay > 0 else None
    if state is not None:
        load_state(g_raw, state["G"], "the checkpoint's generator")
        load_state(d_raw, state["D"], "the checkpoint's discriminator")
        load_optimizer(g_opt, state["g_opt"])
        load_optimizer(d_opt, state["d_opt"])
        if ema is not None:
            ema.load(state, g_raw)
    if cfg.data_on_device:
        batches: list[Iterator[Any]] = [iter(DeviceBatches(ds, cfg, start, ddp.rank, ddp.world, device))
                                        for ds in datasets]
    else:
        batches = [iter(make_loader(ds, cfg, start, ddp.rank, ddp.world, device.type == "cuda")) for ds in datasets]
    return Session(cfg, device, datasets, layout, nets, ema, Steps(nets, cfg, device), batches, memory_format)


def train(cfg: TrainConfig, command: list[str] | None = None,
          on_step: Callable[[int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train as `cfg` says; returns a summary. `on_step(iteration, {"losses", "G", "D", "G_ema"})` is a hook for
    tests."""
    t_start = time.monotonic()
    if not cfg.data:
        raise BadInput("no training data: give --data [FORMAT:]PATH (one, or two for joint training)")
    if len(cfg.data) > 2:
        raise BadInput(f"--data: at most two datasets can be trained jointly, got {len(cfg.data)}")
    out = check_folder(cfg.out, "--out")  # where everything goes, checked before any data is read
    recover(checkpoint_dir(out))  # a checkpoint swap a kill interrupted: the run it belongs to is seen below
    check_replaceable(out / "bundle", BUNDLE_ENTRIES)
    check_replaceable(checkpoint_dir(out), CHECKPOINT_ENTRIES)
    if not cfg.resume and (checkpoint_dir(out) / STATE_FILE).exists():
        _, done = read_config(out)
        raise BadInput(f"{out} already holds a run (checkpoint at iteration {done}): add --resume to continue it, "
                       "or choose another --out")
    resumed_state = load_checkpoint(out) if cfg.resume else None  # a bad checkpoint fails before any data is read
    datasets = [load_dataset(spec, cfg) for spec in cfg.data]  # bad data fails here, before any training
    names = [d for ds in datasets for d in ds.domains.domains]
    if len(set(names)) != len(names):
        raise BadInput(f"the joint datasets share domain names ({', '.join(names)}); they must be distinct")
    ddp, device = setup_distributed(cfg.device)
    if ddp.master:
        out.mkdir(parents=True, exist_ok=True)
        run_lock = RunLock(out)  # noqa: F841 (held until train returns)
        if not cfg.resume and (checkpoint_dir(out) / STATE_FILE).exists():  # a run that finished while data loaded
            raise BadInput(f"{out} already holds a run: add --resume to continue it, or choose another --out")
    if cfg.amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BadInput("--amp bf16: this GPU does not support bfloat16")
    seed_everything(cfg.seed + ddp.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if cfg.cache_in_memory or cfg.data_on_device:
        t = time.monotonic()
        for ds in datasets:
            ds.cache_in_memory()
        if ddp.master:
            print(f"cached {sum(map(len, datasets))} images in memory in {time.monotonic() - t:.1f} s", file=sys.stderr)

    start, skipped, resumed_losses = 0, 0, {}
    if resumed_state is not None:
        start, skipped = int(resumed_state["iteration"]), int(resumed_state.get("skipped", 0))
        resumed_losses = dict(resumed_state.get("losses", {}))
    run = build_session(cfg, datasets, device, ddp, start, resumed_state)
    nets = run.nets
    if resumed_state is not None:  # after the batches exist, so nothing consumes the restored RNG but training
        if ddp.master:
            set_rng_state(resumed_state["rng"])
        else:  # only the master's RNG state is saved; the others restart from a seed tied to the iteration
            seed_everything(cfg.seed + ddp.rank + 1_000_003 * start)
        resumed_state = None

    if ddp.master:
        sizes = ", ".join(f"{ds.domains.name} {len(ds)} images" for ds in datasets)
        params = [sum(p.numel() for p in m.parameters()) / 1e6 for m in (nets.g, nets.d)]
        levers = ", ".join(name for name, on in (
            ("data on device", cfg.data_on_device), (f"adam {cfg.adam}", cfg.adam != "default"),
            (f"compile {cfg.compile}", cfg.compile != "none"), ("CUDA graphs", cfg.cuda_graphs),
            ("channels-last", cfg.channels_last), (f"EMA {cfg.ema_decay:g}", cfg.ema_decay > 0)) if on)
        print(f"training from iteration {start} on {sizes}; G {params[0]:.2f}M / D {params[1]:.2f}M parameters; "
              f"{ddp.world} x {device}, amp {cfg.amp}, batch {cfg.batch_size} per process"
              + (f"; {levers}" if levers else ""), file=sys.stderr)

    provenance_base = {
        "trained_by": "stargan-rt train",
        "command": " ".join(command) if command else " ".join(sys.argv),
        "git_commit": git_commit(),
        "data": [describe(ds) for ds in datasets],
        "config": cfg.to_dict(),
        "device": str(device) if ddp.world == 1 else f"{ddp.world} x {device.type}",
        "torch": torch.__version__,
    }
    fixed = [ds.fixed_samples(cfg.num_samples) for ds in datasets] if ddp.master else []
    tb = _tensorboard(out / "tb") if cfg.tensorboard and ddp.master else None
    seen_bad: set[str] = set()
    values: dict[str, float] = {}  # the losses of the last checked iteration
    latest: dict[str, float] = dict(resumed_losses)  # the last value of every loss (G's are not computed each step)
    last_saved = start if cfg.resume else None
    stop_reason = "done"
    step = start
    bar = tqdm(total=cfg.num_iters, initial=start, disable=not ddp.master, dynamic_ncols=True, desc="train",
               mininterval=0.1 if sys.stderr.isatty() else 15)  # a log file gets a line every 15 s, not a flood

    def log(message: str) -> None:
        if ddp.master:
            tqdm.write(message, file=sys.stderr)

    def save(step: int) -> None:
        weights = run.ema.describe() if run.ema is not None else {"weights": "raw"}
        meta = _meta(cfg, datasets, {**provenance_base, "iterations": step, "final_losses": latest,
                                     "skipped_images": skipped, "seconds": round(time.monotonic() - t_start, 1),
                                     "generator_weights": weights})
        save_checkpoint(out, cfg, {**run.state(), "iteration": step, "rng": rng_state(), "skipped": skipped,
                                   "losses": latest})
        raw = generator_state_numpy(nets.g) if run.ema is not None else None
        save_bundle(out / "bundle", meta, generator_state_numpy(run.g_out), raw)

    def sample(step: int) -> None:
        meta = _meta(cfg, datasets, {})
        crops = [c for cs, _ in fixed for c in cs]
        sources = [s for _, ss in fixed for s in ss]
        grid = translation_grid(run.g_out, meta, crops, sources, device)
        write_image(out / "samples" / f"{step:06d}.png", grid)
        if tb is not None:
            tb.add_image("samples", np.ascontiguousarray(grid[..., ::-1]), step, dataformats="HWC")

    def check(step: int, losses: dict[str, torch.Tensor], over_time: bool) -> tuple[dict[str, float], bool]:
        """The losses as numbers; Diverged if one is NaN/inf. Processes agree on stopping (NaN or time)."""
        values = read_losses(losses)
        bad_loss = next((name for name, v in values.items() if not np.isfinite(v)), None)
        flags = torch.tensor([bad_loss is not None, over_time], dtype=torch.float32, device=device)
        if ddp.world > 1:
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        if flags[0]:
            where = (f"the last good checkpoint (iteration {last_saved}) is in {checkpoint_dir(out)}"
                     if last_saved is not None else "no checkpoint had been saved yet")
            what = f"{bad_loss} = {values[bad_loss]}" if bad_loss else "a loss on another process"
            raise Diverged(f"training diverged at iteration {step}: {what}; {where}. Lower --g-lr/--d-lr or drop --amp")
        return values, bool(flags[1])

    def record(step: int, values: dict[str, float]) -> None:
        g_lr, d_lr = run.lr or (cfg.g_lr, cfg.d_lr)
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"iteration": step, "seconds": round(time.monotonic() - t_start, 2), "g_lr": g_lr,
                                "d_lr": d_lr, "skipped_images": skipped, **values}) + "\n")
        bar.set_postfix({k.replace("/loss", ""): f"{v:.3f}" for k, v in latest.items()
                         if k.endswith(("D/loss", "G/loss", "loss_rec", "loss_cls"))}, refresh=False)
        if tb is not None:
            for name, v in values.items():
                tb.add_scalar(name, v, step)

    for it in range(start, cfg.num_iters):
        losses, bad = run.iteration(it)
        for path in bad:
            skipped += 1
            if path not in seen_bad and len(seen_bad) < 20:
                log(f"warning: unreadable image skipped: {path}")
            seen_bad.add(path)
        step = it + 1
        bar.update(1)
        if on_step is not None:
            on_step(step, {"losses": losses, "G": nets.g, "D": nets.d, "G_ema": run.ema.model if run.ema else None})
        last = step == cfg.num_iters
        save_due = last or (cfg.save_every > 0 and step % cfg.save_every == 0)
        check_due = save_due or step % max(cfg.log_every, 1) == 0
        if cfg.max_minutes is not None and (check_due or ddp.world == 1):
            over_time = time.monotonic() - t_start > 60 * cfg.max_minutes
            check_due = check_due or over_time
        else:
            over_time = False
        if check_due:
            values, over_time = check(step, losses, over_time)
            latest.update(values)
            if ddp.master:
                record(step, values)
        if ddp.master and (last or over_time or (cfg.sample_every > 0 and step % cfg.sample_every == 0)):
            sample(step)
        if save_due or over_time:
            if ddp.master:
                save(step)
            last_saved = step
        if over_time:
            stop_reason = f"time budget of {cfg.max_minutes:g} min spent"
            log(f"stopping at iteration {step}: {stop_reason}")
            break
    bar.close()
    if step == start and ddp.master and not (out / "bundle").exists():  # nothing left to train: still give a bundle
        save(step)
    if tb is not None:
        tb.close()
    if ddp.world > 1:
        # DDP's reducers keep the process group alive: free them now, while the interpreter is whole, not in its
        # shutdown, where gloo can still be releasing tensors and aborts the process (seen once in CI: SIGABRT,
        # "terminate called without an active exception"; pytorch/pytorch#179291 describes the mechanism)
        run = nets = None  # noqa: F841 (the closures above share these names)
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
    return {"iteration": step, "losses": latest, "skipped_images": skipped, "stopped": stop_reason,
            "bundle": str(out / "bundle"), "samples": str(out / "samples"),
            "minutes": (time.monotonic() - t_start) / 60}


def _meta(cfg: TrainConfig, datasets: list[FaceDataset], provenance: dict[str, Any]):  # type: ignore[no-untyped-def]
    return build_meta([ds.domains for ds in datasets], cfg.image_size, cfg.g_conv_dim, cfg.g_repeat_num,
                      datasets[0].preprocess, provenance, cfg.g_upsample)


def _tensorboard(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(path))
