"""Data-parallel training on CPU with the gloo backend and 2 processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from stargan_rt.bundle import load_bundle
from trainer_testdata import TINY, write_celeba

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_torchrun_two_processes_write_one_bundle(tmp_path: Path) -> None:
    data = write_celeba(tmp_path / "celeba")
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "stargan_rt.cli", "train", "--data", str(data), *TINY, "--num-iters", "4",
                        "--log-every", "1", "--sample-every", "4", "--out", str(out)],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("trained to iteration 4") == 1  # the master alone reports, logs and saves
    meta, weights = load_bundle(out / "bundle")
    assert meta.provenance["device"] == "2 x cpu"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3, 4]
    assert [p.name for p in (out / "samples").iterdir()] == ["000004.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["celeba", "run"]


def _worker(rank: int, port: int, data: str, out: str, states: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from stargan_rt.cli import build_parser
    from trainer.config import from_args
    from trainer.train import train

    def keep_state(step: int, state: dict) -> None:
        if step == 3:
            torch.save(state["G"].state_dict(), f"{states}/rank{rank}.pt")
            torch.save(state["G_ema"].state_dict(), f"{states}/ema{rank}.pt")

    cfg = from_args(build_parser().parse_args(["train", "--data", data, *TINY, "--num-iters", "3", "--out", out]))
    train(cfg, on_step=keep_state)


def test_processes_stay_in_sync_and_the_bundle_holds_their_generator_and_its_average(tmp_path: Path) -> None:
    data = write_celeba(tmp_path / "celeba")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, states = tmp_path / "run", tmp_path / "states"
    states.mkdir()
    mp.spawn(_worker, args=(port, str(data), str(out), str(states)), nprocs=2, join=True)
    g0 = torch.load(states / "rank0.pt", weights_only=True)
    g1 = torch.load(states / "rank1.pt", weights_only=True)
    # Each process saw different images, yet gradients were averaged: the weights are identical.
    assert all(torch.equal(g0[k], g1[k]) for k in g0)
    _, raw = load_bundle(out / "bundle", raw=True)
    assert all(np.array_equal(raw[k], g0[k].numpy()) for k in g0 if g0[k].is_floating_point())
    # Every process keeps the same moving average of those weights; the bundle's generator is that average.
    e0 = torch.load(states / "ema0.pt", weights_only=True)
    e1 = torch.load(states / "ema1.pt", weights_only=True)
    _, bundle = load_bundle(out / "bundle")
    assert all(torch.equal(e0[k], e1[k]) and np.array_equal(bundle[k], e0[k].numpy()) for k in e0
               if e0[k].is_floating_point())
