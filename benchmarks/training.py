"""The training benchmark (`stargan-rt bench --phases train`): the real training iteration, timed per speed lever.

Every row runs the trainer's own iteration (trainer.train.Session: D step with the gradient penalty, G step every
n_critic, batches, moving average) for one image size / width / batch on one device with one set of TrainConfig
options, and reads the losses every log_every iterations as the loop does. All rows start from the same seed and
data. Each is compared with the plain eager loop measured in the same run (speed), and over its first iterations
with the eager loop of its precision (losses): a lever that changes what is computed shows there. Rows that change
the objective on purpose (a larger batch) are marked so; `choose` never picks them.

FLOPs are counted, not estimated: torch.utils.flop_counter's formulas on every convolution and convolution backward
(the penalty's double backward included) of one n_critic cycle, per image. Elementwise work (InstanceNorm,
activations, Adam) is not counted, as in MFU conventions. % of peak uses the matmul peak measured in the same run
for the row's precision (TF32 for FP32 on CUDA, which cuDNN's convolutions use by default).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .floor import Peak, peak_for

# Options common to every row: an in-memory dataset, batches made in the training process (today's recipe).
COMMON: dict[str, Any] = {"cache_in_memory": True, "workers": 0, "tensorboard": False, "num_iters_decay": 0}
GOAL_SPEEDUP = 5.0  # issue 10: images/s of the CUDA step against today's recipe, same objective
PARITY_TOL = 0.05  # max |loss - reference| / max(|reference|, 1) over the first iterations


@dataclass(frozen=True)
class TrainVariant:
    key: str  # for --train-variants
    name: str
    options: tuple[tuple[str, Any], ...]
    devices: tuple[str, ...] = ("cpu", "cuda")
    role: str = ""  # "baseline": the plain eager loop; "recipe": today's default-model recipe


_SYNCS = (("log_every", 100),)
_BF16 = _SYNCS + (("amp", "bf16"), ("channels_last", True))
_DEVICE = _BF16 + (("data_on_device", True),)
_FUSED = _DEVICE + (("adam", "fused"),)
VARIANTS = (
    TrainVariant("plain", "plain eager loop: fp32, loader batches, log every 10", (("log_every", 10),), role="baseline"),
    TrainVariant("syncs", "+ log every 100 (fewer host syncs)", _SYNCS),
    TrainVariant("bf16", "+ bf16 autocast + channels-last (today's GPU recipe)", _BF16, role="recipe"),
    TrainVariant("device", "+ data on device", _DEVICE),
    TrainVariant("fused", "+ fused Adam", _FUSED),
    TrainVariant("graphs", "+ CUDA graphs (whole D and G steps)", _FUSED + (("cuda_graphs", True),), ("cuda",)),
    TrainVariant("compile-g", "+ compile G", _FUSED + (("compile", "g"),)),
    TrainVariant("graphs-compile-g", "+ CUDA graphs + compile G", _FUSED + (("cuda_graphs", True), ("compile", "g")),
                 ("cuda",)),
    TrainVariant("compile-gd", "+ compile G and D (penalty pass eager)", _FUSED + (("compile", "gd"),)),
    TrainVariant("fp32-fast", "fp32 + log every 100 + data on device + fused Adam",
                 _SYNCS + (("data_on_device", True), ("adam", "fused")), ("cpu",)),
)


@dataclass(frozen=True)
class TrainBenchConfig:
    size: int = 128
    conv_dim: int = 32
    batch: int = 32
    upsample: str = "transpose"  # G's up-sampling (--g-upsample): time the layout that will train
    variants: tuple[str, ...] | None = None  # keys; None = every variant for the device
    batch_scales: tuple[int, ...] = (2, 4)  # the fastest same-objective row again at these multiples of the batch
    seconds: float = 3.0  # timed per row, after the warm-up
    # iterations whose losses are compared with the eager reference: past the capture of both CUDA graphs (after 3
    # eager steps of each kind: D at iteration 4, G at 20) and one replay of each
    parity_iters: int = 25
    warmup_cycles: int = 6  # n_critic cycles before timing
    deadline: float | None = None  # time.monotonic() after which no new row starts
    seed: int = 1234


@dataclass
class TrainRow:
    key: str
    variant: str
    device: str
    size: int
    conv_dim: int
    batch: int
    options: dict[str, Any]
    role: str = ""
    changes_objective: bool = False
    precision: str = "fp32"  # what the convolutions compute in: fp32, tf32 or bf16
    it_per_s: float | None = None  # median over timed windows
    it_per_s_range: tuple[float, float] | None = None  # slowest and fastest window
    images_per_s: float | None = None
    iterations_timed: int = 0
    warmup_s: float | None = None  # building, first iterations, compilation, graph capture
    tflops: float | None = None  # achieved, from the counted FLOPs
    peak: str | None = None
    pct_peak: float | None = None
    speedup: float | None = None  # images/s over the plain eager loop's
    vs_recipe: float | None = None  # images/s over today's recipe's
    loss_diff: float | None = None  # vs the eager reference over the first iterations (PARITY_TOL)
    parity_reference: str | None = None
    error: str | None = None

    @property
    def parity_ok(self) -> bool:
        return self.loss_diff is not None and self.loss_diff <= PARITY_TOL

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "parity_ok": self.parity_ok}


def selected(cfg: TrainBenchConfig, device: str) -> list[TrainVariant]:
    """The rows asked for, in catalogue order, always with the plain loop (every row's speed-up is against it) and
    today's recipe (the goal's reference, and the eager bf16 row the bf16 levers' losses are compared with)."""
    return [v for v in VARIANTS if device in v.devices and (cfg.variants is None or v.key in cfg.variants or v.role)]


def train_config(shape: TrainBenchConfig, device: str, options: dict[str, Any]) -> Any:
    from trainer.config import TrainConfig

    return TrainConfig(data=("benchmark",), image_size=shape.size, g_conv_dim=shape.conv_dim, d_conv_dim=shape.conv_dim,
                       g_upsample=shape.upsample, batch_size=shape.batch, device=device, num_iters=10**9, seed=shape.seed,
                       **{**COMMON, **options})


def bench_dataset(size: int, n: int = 64, seed: int = 0) -> Any:
    """n face crops (SynthFaces when available) with CelebA-style labels, decoded in memory as --cache-in-memory."""
    from stargan_rt.bundle import Preprocess
    from trainer.data import FaceDataset

    from .inputs import crops_source, face_crops
    from .variants import CELEBA

    rng = np.random.default_rng(seed)
    labels = np.zeros((n, len(CELEBA.domains)), np.float32)
    labels[np.arange(n), rng.integers(0, 3, n)] = 1  # one hair colour each
    labels[:, 3:] = rng.integers(0, 2, (n, len(CELEBA.domains) - 3))
    return FaceDataset(CELEBA, [Path(f"benchmark/{i}.png") for i in range(n)], labels, Preprocess(), size,
                       f"benchmark: {n} {crops_source()}", face_crops(n, size, seed), np.ones(n, bool))


def count_flops(shape: TrainBenchConfig, n_critic: int = 5, batch: int = 2) -> dict[str, Any]:
    """Counted FLOPs of one n_critic cycle of the trainer's iteration (eager FP32 on the CPU), per image."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    from trainer.train import build_session, seed_everything

    class Count(TorchDispatchMode):  # FlopCounterMode's formulas; its module tracker cannot follow autograd.grad
        def __init__(self) -> None:
            super().__init__()
            self.by_op: dict[str, int] = {}

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                name = str(func._overloadpacket)
                self.by_op[name] = self.by_op.get(name, 0) + int(formula(*args, **(kwargs or {}), out_val=out))
            return out

    small = replace(shape, batch=batch)
    cfg = train_config(small, "cpu", {"n_critic": n_critic, "ema_decay": 0.0})
    seed_everything(cfg.seed)
    session = build_session(cfg, [bench_dataset(shape.size, n=max(8, batch))], torch.device("cpu"))
    counter = Count()
    with counter:
        for it in range(n_critic):
            session.iteration(it)
    per_image_cycle = sum(counter.by_op.values()) / batch
    return {"per_image_per_iteration": per_image_cycle / n_critic, "n_critic": n_critic,
            "by_op_per_image_per_cycle": {k: v / batch for k, v in counter.by_op.items()},
            "how": "torch.utils.flop_counter formulas over one n_critic cycle of the trainer's iteration (batch "
                   f"{batch}, eager FP32, CPU), divided by the batch; convolutions and their backward passes only"}


def _precision(device: str, options: dict[str, Any]) -> str:
    if options.get("amp") == "bf16":
        return "bf16"
    if device == "cuda":
        import torch

        return "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"
    return "fp32"


def _relative_diff(a: list[dict[str, float]], b: list[dict[str, float]]) -> float:
    diffs = [abs(x[k] - y[k]) / max(abs(y[k]), 1.0) for x, y in zip(a, b) for k in x if k in y]
    return max(diffs) if diffs else float("nan")


def measure(shape: TrainBenchConfig, device: str, variant: TrainVariant, ds: Any,
            ) -> tuple[TrainRow, list[dict[str, float]]]:
    """One row: build the session, run the parity iterations and the warm-up, then time windows of whole cycles."""
    import torch

    from trainer.step import read_losses
    from trainer.train import build_session, seed_everything

    options = dict(variant.options)
    row = TrainRow(variant.key, variant.name, device, shape.size, shape.conv_dim, shape.batch, options, variant.role,
                   changes_objective=variant.role == "larger batch", precision=_precision(device, options))
    first: list[dict[str, float]] = []
    cfg = train_config(shape, device, options)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    session = None
    try:
        seed_everything(cfg.seed)
        if device == "cuda":
            torch.backends.cudnn.benchmark = True
        if cfg.compile != "none":  # a fresh compile per row: rows must not share (or exhaust) dynamo's cache
            torch._dynamo.reset()
        t0 = time.perf_counter()
        session = build_session(cfg, [ds], torch.device(device))
        it = 0
        for it in range(shape.parity_iters):
            first.append(read_losses(session.iteration(it)[0]))
        it = shape.parity_iters
        warm_until = max(it, shape.warmup_cycles * cfg.n_critic)
        cycle_s = 0.0
        while it < warm_until or it % cfg.n_critic:
            if it % cfg.n_critic == 0:
                sync()
                t_cycle = time.perf_counter()
            session.iteration(it)
            it += 1
            if it % cfg.n_critic == 0:
                sync()
                cycle_s = time.perf_counter() - t_cycle
        row.warmup_s = round(time.perf_counter() - t0, 2)
        window = cfg.n_critic * max(1, round(0.25 / max(cycle_s, 1e-6)))  # windows of ~0.25 s, whole cycles
        rates: list[float] = []
        start = time.perf_counter()
        while len(rates) < 3 or (time.perf_counter() - start < shape.seconds and len(rates) < 400):
            t = time.perf_counter()
            for _ in range(window):
                losses, _ = session.iteration(it)
                it += 1
                if it % cfg.log_every == 0:
                    read_losses(losses)
            sync()
            rates.append(window / (time.perf_counter() - t))
        row.it_per_s = float(np.median(rates))
        row.it_per_s_range = (float(min(rates)), float(max(rates)))
        row.iterations_timed = window * len(rates)
        row.images_per_s = row.it_per_s * shape.batch
    except Exception as exc:  # noqa: BLE001 - one lever failing here (no kernel, a capture error) must not lose the rest
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        row.error = f"{type(exc).__name__}: {text}"
        print(f"stargan-rt bench: training row {variant.name!r} on {device} failed: {row.error}", file=sys.stderr)
    finally:
        del session
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    return row, first


def run_training(cfg: TrainBenchConfig, devices: Sequence[str], peaks: list[Peak]) -> dict[str, Any]:
    """Every selected row on every device, then the fastest same-objective row again at larger batches."""
    from .timing import progress

    flops = count_flops(cfg)
    rows: list[TrainRow] = []
    skipped: dict[str, str] = {}
    for device in devices:
        ds = bench_dataset(cfg.size, n=max(64, 2 * cfg.batch * max((1, *cfg.batch_scales))))
        refs: dict[tuple[Any, Any], tuple[str, list[dict[str, float]]]] = {}
        plan = selected(cfg, device)
        with progress(len(plan) + len(cfg.batch_scales), f"training rows ({device})", "row") as bar:
            for v in plan:
                if cfg.deadline is not None and time.monotonic() > cfg.deadline and v.role != "baseline":
                    skipped[f"{v.name} ({device})"] = "time limit reached"
                    bar.update()
                    continue
                row, first = measure(cfg, device, v, ds)
                key = (row.options.get("amp", "none"), bool(row.options.get("channels_last", False)))
                if key not in refs and row.error is None and not any(
                        row.options.get(o) not in (None, False, "none", "default") for o in
                        ("compile", "cuda_graphs", "data_on_device", "adam")):
                    refs[key] = (v.name, first)  # the first eager row of each precision is the reference
                    row.parity_reference, row.loss_diff = "(the reference)", 0.0
                elif key in refs and row.error is None:
                    row.parity_reference, ref = refs[key]
                    row.loss_diff = _relative_diff(first, ref)
                rows.append(row)
                bar.update()
                bar.set_postfix_str(f"{v.key}: {row.it_per_s or 0:.1f} it/s" if not row.error else f"{v.key}: failed")
            best = fastest([r.to_dict() for r in rows if r.device == device])
            for scale in cfg.batch_scales:
                if best is None or (cfg.deadline is not None and time.monotonic() > cfg.deadline):
                    skipped[f"batch x{scale} ({device})"] = "no same-objective row to scale" if best is None else "time limit reached"
                    bar.update()
                    continue
                opts = tuple(best["options"].items())
                v = TrainVariant(f"{best['key']}-batch{cfg.batch * scale}", f"{best['variant']}, batch x{scale}", opts,
                                 role="larger batch")
                row, _ = measure(replace(cfg, batch=cfg.batch * scale), device, v, ds)
                rows.append(row)
                bar.update()
    _compare(rows, flops["per_image_per_iteration"], peaks)
    return {"config": asdict(cfg), "flops": flops, "rows": [r.to_dict() for r in rows], "skipped": skipped,
            "goal": goal([r.to_dict() for r in rows])}


def _compare(rows: list[TrainRow], flops_per_image_it: float, peaks: list[Peak]) -> None:
    for device in {r.device for r in rows}:
        mine = [r for r in rows if r.device == device and r.images_per_s]
        base = next((r for r in mine if r.role == "baseline"), None)
        recipe = next((r for r in mine if r.role == "recipe"), None)
        for r in mine:
            assert r.images_per_s is not None
            r.tflops = r.images_per_s * flops_per_image_it / 1e12
            p = peak_for(peaks, device, r.precision)
            if p is not None:
                r.peak, r.pct_peak = f"matmul-{r.precision} {p.value / 1e12:.3g} TFLOP/s", 100 * r.tflops * 1e12 / p.value
            if base is not None and base.images_per_s:
                r.speedup = r.images_per_s / base.images_per_s
            if recipe is not None and recipe.images_per_s:
                r.vs_recipe = r.images_per_s / recipe.images_per_s


def fastest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The row with the most images/s that keeps the objective: no error, not a larger batch, losses matching."""
    ok = [r for r in rows if not r.get("error") and r.get("images_per_s") and not r.get("changes_objective")
          and r.get("parity_ok")]
    return max(ok, key=lambda r: r["images_per_s"]) if ok else None


def goal(rows: list[dict[str, Any]]) -> dict[str, str]:
    what, target = "GPU: training step images/s", f">= {GOAL_SPEEDUP:g}x today's recipe, same objective"
    cuda = [r for r in rows if r["device"] == "cuda"]
    recipe = next((r for r in cuda if r["role"] == "recipe" and r.get("images_per_s")), None)
    best = fastest(cuda)
    if recipe is None or best is None:
        return {"goal": what, "target": target, "status": "not measured", "measured": "no CUDA recipe row and faster row"}
    ratio = best["images_per_s"] / recipe["images_per_s"]
    text = (f"{best['variant']}: {best['images_per_s']:,.0f} images/s vs {recipe['images_per_s']:,.0f} = {ratio:.2f}x "
            f"(batch {best['batch']}, losses within {best['loss_diff']:.3f} of the eager loop)")
    if ratio < GOAL_SPEEDUP:
        text += f"; gap: {GOAL_SPEEDUP / ratio:.2f}x short"
    return {"goal": what, "target": target, "status": "met" if ratio >= GOAL_SPEEDUP else "gap", "measured": text}


# --- the report ------------------------------------------------------------------------------------------------


def markdown(train: dict[str, Any]) -> list[str]:
    """The training section of bench.md."""
    from .goals import fmt

    if not train or not train.get("rows"):
        return []
    c, f = train["config"], train["flops"]
    layout = "" if c.get("upsample", "transpose") == "transpose" else f", G up-sampling by {c['upsample']}"
    lines = ["", f"## Training step, {c['size']}x{c['size']}, conv_dim {c['conv_dim']}, batch {c['batch']}{layout}", "",
             f"The trainer's own iteration (D step with gradient penalty, G step every {f['n_critic']}, EMA), timed over "
             f"windows of whole cycles after {c['warmup_cycles']} warm-up cycles; it/s is the median window (slowest-"
             f"fastest in brackets). FLOPs counted: {f['per_image_per_iteration'] / 1e9:.2f} GFLOP per image per "
             f"iteration ({f['how']}). Speed-up: images/s over the plain eager loop of the same device; losses: max "
             f"|loss - reference| / max(|reference|, 1) over the first {c['parity_iters']} iterations against the eager "
             f"row of the same precision (<= {PARITY_TOL:g}: same computation). Larger-batch rows change the objective.",
             "", "| device | variant | batch | it/s | images/s | TFLOP/s | % of peak | speed-up | vs today's recipe | "
                 "losses vs eager | warm-up s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in train["rows"]:
        if r.get("error"):
            lines.append(f"| {r['device']} | {r['variant']} | {r['batch']} | {r['error']} |  |  |  |  |  |  |  |")
            continue
        lo, hi = r["it_per_s_range"] or (None, None)
        parity = ("changes the objective" if r["changes_objective"] else "reference"
                  if r["parity_reference"] == "(the reference)" else
                  f"{fmt(r['loss_diff'], 4)} {'ok' if r['parity_ok'] else 'DIFFERS'}" if r["loss_diff"] is not None
                  else "no eager row of this precision")
        lines.append(f"| {r['device']} | {r['variant']} | {r['batch']} | {fmt(r['it_per_s'], 1)} ({fmt(lo, 1)}-{fmt(hi, 1)}) | "
                     f"{fmt(r['images_per_s'], 0)} | {fmt(r['tflops'], 3)} | {fmt(r['pct_peak'], 2)} | "
                     f"{fmt(r['speedup'], 2)}x | {fmt(r['vs_recipe'], 2)}x | {parity} | {fmt(r['warmup_s'], 1)} |")
    if train.get("skipped"):
        lines += ["", "Not measured:", ""] + [f"- {k}: {v}" for k, v in train["skipped"].items()]
    g = train.get("goal")
    if g:
        lines += ["", f"Goal: {g['goal']} {g['target']}: **{g['status']}**: {g['measured']}"]
    return lines


def summary(train: dict[str, Any]) -> list[str]:
    from .goals import fmt

    if not train or not train.get("rows"):
        return []
    lines = [f"{'training row':<58}{'batch':>6}{'it/s':>9}{'img/s':>9}{'TFLOP/s':>9}{'speed-up':>10}  losses"]
    for r in train["rows"]:
        if r.get("error"):
            lines.append(f"{(r['device'] + ' ' + r['variant'])[:57]:<58}{r['batch']:>6}  {r['error'][:60]}")
        else:
            ok = ("objective changes" if r["changes_objective"] else "ok" if r["parity_ok"] else
                  "DIFFER" if r["loss_diff"] is not None else "no reference")
            lines.append(f"{(r['device'] + ' ' + r['variant'])[:57]:<58}{r['batch']:>6}{fmt(r['it_per_s'], 1):>9}"
                         f"{fmt(r['images_per_s'], 0):>9}{fmt(r['tflops'], 2):>9}{fmt(r['speedup'], 2) + 'x':>10}  {ok}")
    g = train.get("goal")
    if g:
        lines.append(f"[{g['status']}] {g['goal']} ({g['target']}): {g['measured']}")
    return lines


# --- what the recipe trains with ------------------------------------------------------------------------------


def flags(options: dict[str, Any]) -> list[str]:
    """`stargan-rt train` options for a row's TrainConfig options."""
    out = []
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        out += [flag if v else "--no-" + k.replace("_", "-")] if isinstance(v, bool) else [flag, str(v)]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.training choose bench.json [--device cuda]`: the fastest same-objective row as
    `stargan-rt train` options on the first line and its iterations/s on the second (for the recipe)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.training")
    p.add_argument("action", choices=("choose",))
    p.add_argument("report", help="a bench.json with a train section")
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)
    try:
        doc = json.loads(Path(args.report).read_text())
        rows = [r for r in (doc.get("train") or {}).get("rows", []) if r["device"] == args.device]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"python -m benchmarks.training: {args.report}: no training rows ({exc})", file=sys.stderr)
        return 2
    best = fastest(rows)
    if best is None:
        print(f"python -m benchmarks.training: {args.report}: no {args.device} row without error whose losses match",
              file=sys.stderr)
        return 1
    print(" ".join(flags(best["options"])))
    print(f"{best['it_per_s']:.3f}")
    print(f"chose {best['variant']} ({best['it_per_s']:.1f} it/s, batch {best['batch']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

