"""The speed levers change how the training step runs, never what it computes; the moving average of G is what
samples, the bundle and export use, and survives a resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stargan_rt.bundle import has_raw_weights, load_bundle, load_meta
from stargan_rt.cli import main
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.data import DeviceBatches, load_dataset, make_loader
from trainer.ema import Ema
from trainer.step import adam, load_optimizer
from trainer_testdata import TINY, write_celeba

ITERS = ["--num-iters", "6", "--log-every", "1", "--sample-every", "0"]


def losses(out: Path) -> list[dict[str, float]]:
    return [{k: v for k, v in json.loads(line).items() if "loss" in k} for line in
            (out / "metrics.jsonl").read_text().splitlines()]


def run(tmp_path: Path, name: str, *levers: str) -> Path:
    data = tmp_path / "celeba"
    if not data.exists():
        write_celeba(data, n=24)
    out = tmp_path / name
    assert main(["train", "--data", str(data), *TINY, *ITERS, "--out", str(out), *levers]) == 0
    return out


def test_batches_cut_on_the_device_are_the_loaders_bit_for_bit(tmp_path: Path) -> None:
    write_celeba(tmp_path / "celeba", n=12)
    (tmp_path / "celeba" / "images" / "000003.jpg").write_bytes(b"not a JPEG")  # replaced by the next readable one
    cfg = TrainConfig(image_size=16, d_repeat_num=2, batch_size=5, celeba_test_count=0, workers=0, seed=7)
    ds = load_dataset(str(tmp_path / "celeba"), cfg)
    loader = iter(make_loader(ds, cfg, 3, 0, 1, False))
    on_device = iter(DeviceBatches(ds, cfg, 3, 0, 1, torch.device("cpu")))
    skipped = []
    for _ in range(4):
        (x, c, bad), (xd, cd, badd) = next(loader), next(on_device)
        assert torch.equal(x, xd) and torch.equal(c, cd) and bad == badd
        skipped += bad
    assert skipped  # the unreadable image was drawn and replaced on both paths


@pytest.mark.parametrize("levers", [["--data-on-device"], ["--adam", "fused"], ["--adam", "foreach"],
                                    ["--data-on-device", "--adam", "fused", "--log-every", "3"]],
                         ids=["data_on_device", "fused_adam", "foreach_adam", "combined"])
def test_levers_train_to_the_same_losses_as_the_eager_loop(tmp_path: Path, levers: list[str]) -> None:
    base, fast = losses(run(tmp_path, "base")), losses(run(tmp_path, "fast", *levers))
    every = [r for r in base if r]
    assert len(every) == 6
    logged = {i + 1: r for i, r in enumerate(base)}
    fast_logged = [json.loads(line)["iteration"] for line in (tmp_path / "fast" / "metrics.jsonl").read_text().splitlines()]
    for it, r in zip(fast_logged, fast):
        assert r.keys() == logged[it].keys()
        assert all(abs(r[k] - logged[it][k]) <= 1e-5 * max(1.0, abs(logged[it][k])) for k in r), (it, r, logged[it])


@pytest.mark.slow
def test_compiled_g_and_d_train_to_the_same_losses(tmp_path: Path) -> None:
    # D's gradient-penalty pass stays eager (compiled autograd has no double backward); its other passes compile.
    base, fast = losses(run(tmp_path, "base")), losses(run(tmp_path, "compiled", "--compile", "gd"))
    assert len(fast) == len(base) == 6
    for a, b in zip(fast, base):
        assert all(abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(b[k])) for k in b)


def test_cuda_graphs_need_a_cuda_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_celeba(tmp_path / "celeba", n=24)
    rc = main(["train", "--data", str(tmp_path / "celeba"), *TINY, *ITERS, "--out", str(tmp_path / "run"),
               "--cuda-graphs"])
    err = capsys.readouterr().err
    assert rc == 2 and "--cuda-graphs needs a CUDA device" in err and "Traceback" not in err


def test_moving_average_follows_the_warm_up_formula() -> None:
    g = torch.nn.Linear(3, 2)
    ema = Ema(g, decay=0.9)
    start = [p.detach().clone() for p in ema.model.parameters()]
    expected = start
    for n in range(1, 6):
        with torch.no_grad():
            for p in g.parameters():
                p.add_(1.0)
        d = min(0.9, (1 + n) / (10 + n))
        assert ema.weight() == pytest.approx(d)
        ema.update(g)
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, g.parameters())]
        assert all(torch.allclose(e, p) for e, p in zip(expected, ema.model.parameters()))
    assert ema.updates == 5 and not any(p.requires_grad for p in ema.model.parameters())


def test_the_bundle_is_the_moving_average_and_keeps_the_raw_generator(tmp_path: Path) -> None:
    out = run(tmp_path, "run")  # TINY: a G step every 2nd iteration, so 3 updates of the average
    state = load_checkpoint(out)
    assert state["ema_updates"] == 3
    meta, weights = load_bundle(out / "bundle")
    _, raw = load_bundle(out / "bundle", raw=True)
    assert meta.provenance["generator_weights"] == {"weights": "ema", "ema_decay": 0.999, "ema_updates": 3}
    floats = [k for k in weights if weights[k].dtype == np.float32]
    assert all(np.array_equal(weights[k], state["G_ema"][k].numpy()) for k in floats)
    assert all(np.array_equal(raw[k], state["G"][k].numpy()) for k in floats)
    assert any(not np.array_equal(weights[k], raw[k]) for k in floats)

    plain = run(tmp_path, "no_ema", "--ema-decay", "0")
    assert not has_raw_weights(plain / "bundle") and "G_ema" not in load_checkpoint(plain)
    assert load_meta(plain / "bundle").provenance["generator_weights"] == {"weights": "raw"}


def test_a_checkpoint_from_before_the_average_resumes_with_it_started_at_g(tmp_path: Path) -> None:
    out = run(tmp_path, "run")
    state = load_checkpoint(out)
    del state["G_ema"], state["ema_updates"]
    torch.save(state, out / "checkpoint" / "state.pt")
    assert main(["train", "--out", str(out), "--resume", "--num-iters", "8"]) == 0
    resumed = load_checkpoint(out)
    assert resumed["iteration"] == 8 and resumed["ema_updates"] == 1


def test_resumed_optimiser_keeps_the_implementation_asked_for_now() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    before = adam([p], 1e-3, TrainConfig(adam="foreach"), torch.device("cpu"))
    p.grad = torch.ones(3)
    before.step()
    after = adam([p], 1e-3, TrainConfig(adam="fused"), torch.device("cpu"))
    load_optimizer(after, before.state_dict())
    group = after.param_groups[0]
    assert group["fused"] is True and not group.get("foreach")
    assert after.state[p]["step"].item() == 1 and after.state[p]["step"].device == p.device
    after.step()  # the fused kernel accepts the loaded state
    assert after.state[p]["step"].item() == 2


def test_cuda_graphs_warm_up_capture_once_per_step_and_dataset_then_replay_on_fresh_batches(monkeypatch) -> None:
    """The bookkeeping of trainer.step.CudaGraphs, with stand-ins for the CUDA calls (no GPU here): a stand-in
    graph keeps the step it captured and replays it on the static buffers, writing into the captured outputs."""
    from contextlib import nullcontext

    from trainer import step as step_module
    from trainer.step import Batch, CudaGraphs

    class Stream:
        def wait_stream(self, other: object) -> None:
            pass

    class Graph:
        def replay(self) -> None:
            for name, value in self.run().items():
                self.out[name].copy_(value)

    capturing: list[Graph] = []

    class Capture:
        def __init__(self, graph: Graph):
            self.graph = graph

        def __enter__(self) -> None:
            capturing.append(self.graph)

        def __exit__(self, *exc: object) -> None:
            capturing.pop()

    cuda = step_module.torch.cuda
    monkeypatch.setattr(cuda, "Stream", Stream)
    monkeypatch.setattr(cuda, "current_stream", lambda: Stream())
    monkeypatch.setattr(cuda, "stream", lambda s: nullcontext())
    monkeypatch.setattr(cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(cuda, "graph", Capture)

    calls = {"eager": 0, "captured": 0}

    def step(s: Batch) -> dict[str, torch.Tensor]:
        out = {"sum": s.x_real.sum() + s.c_trg.sum()}
        if capturing:  # what the graph will do on each replay: the step on the static buffers, into these outputs
            calls["captured"] += 1
            capturing[-1].run = lambda: {"sum": s.x_real.sum() + s.c_trg.sum()}
            capturing[-1].out = out
        else:
            calls["eager"] += 1
        return out

    graphs = CudaGraphs()
    for it in range(6):
        for k in (0, 1):  # two datasets: a graph and a set of input buffers each
            x = torch.full((2, 3, 4, 4), float(it + 10 * k))
            c = torch.full((2, 5), float(k))
            b = Batch(x, c, c, c, c, slice(0, 5), "multi_label")
            out = graphs.run(("d", k), step, b)
            assert out["sum"].item() == x.sum().item() + c.sum().item()  # this batch's result, not a stale one
    assert calls == {"eager": 2 * CudaGraphs.WARMUP, "captured": 2}
    assert set(graphs.captured) == {("d", 0), ("d", 1)} and set(graphs.static) == {0, 1}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("levers", [["--cuda-graphs", "--data-on-device", "--adam", "fused"],
                                    ["--cuda-graphs", "--compile", "g", "--amp", "bf16", "--channels-last"]],
                         ids=["graphs", "graphs_compile_bf16"])
def test_cuda_levers_train_to_the_eager_losses_on_a_gpu(tmp_path: Path, levers: list[str]) -> None:
    data = write_celeba(tmp_path / "celeba", n=24)
    precision = [a for a in levers if a in ("--amp", "bf16", "--channels-last")]
    common = [*TINY, "--device", "cuda", "--num-iters", "20", "--log-every", "1", "--sample-every", "0"]
    base, fast = tmp_path / "eager", tmp_path / "fast"
    assert main(["train", "--data", str(data), *common, *precision, "--out", str(base)]) == 0
    assert main(["train", "--data", str(data), *common, *levers, "--out", str(fast)]) == 0
    a, b = losses(base), losses(fast)
    assert len(a) == len(b) == 20  # past the capture of both steps (3 warm-up steps each, a G step every 2nd)
    for x, y in zip(a, b):
        assert all(abs(x[k] - y[k]) <= 2e-2 * max(1.0, abs(x[k])) for k in x), (x, y)
