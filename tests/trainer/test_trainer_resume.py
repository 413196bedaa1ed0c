"""A killed run resumed with --resume ends exactly where an uninterrupted one does; NaN stops a run cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stargan_rt.bundle import load_bundle
from stargan_rt.cli import build_parser, main
from trainer.checkpoint import load_checkpoint
from trainer.config import from_args
from trainer.train import train
from trainer_testdata import TINY, write_celeba

# 8 iterations with G steps every 2, the learning rate decaying from iteration 4, a checkpoint every 3.
OPTIONS = [*TINY, "--num-iters", "8", "--num-iters-decay", "4", "--lr-update-step", "1", "--save-every", "3",
           "--log-every", "1", "--sample-every", "0"]


def losses_by_iteration(out: Path) -> dict[int, dict]:
    """The last record logged for each iteration (a resumed run logs again what the killed one had logged),
    without its wall-clock time."""
    records = map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
    return {r["iteration"]: {k: v for k, v in r.items() if k != "seconds"} for r in records}


def test_resumed_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    data = str(write_celeba(tmp_path / "celeba", n=20))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", "--data", data, *OPTIONS, "--out", str(whole)]) == 0

    def kill_at_7(step: int, _: dict) -> None:  # dies after iteration 7, before anything is saved for it
        if step == 7:
            raise KeyboardInterrupt

    cfg = from_args(build_parser().parse_args(["train", "--data", data, *OPTIONS, "--out", str(killed)]))
    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_step=kill_at_7)
    assert load_checkpoint(killed)["iteration"] == 6
    assert main(["train", "--out", str(killed), "--resume"]) == 0  # the options come from the checkpoint

    a, b = losses_by_iteration(whole), losses_by_iteration(killed)
    assert sorted(b) == list(range(1, 9))
    for it in range(1, 9):
        assert a[it] == b[it], f"iteration {it} differs"
    assert a[8]["g_lr"] < a[4]["g_lr"]  # the schedule did decay across the resume
    wa, wb = load_bundle(whole / "bundle")[1], load_bundle(killed / "bundle")[1]
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str],
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = str(write_celeba(tmp_path / "celeba", n=20))
    out = tmp_path / "run"
    assert main(["train", "--data", data, *TINY, "--num-iters", "2", "--save-every", "2", "--out", str(out)]) == 0
    good = load_checkpoint(out)
    capsys.readouterr()
    # A gradient penalty gone NaN makes D's loss NaN at the next iteration (--lambda-gp nan is refused when parsed).
    import trainer.step

    monkeypatch.setattr(trainer.step, "gradient_penalty", lambda d, real, fake: torch.tensor(float("nan")))
    rc = main(["train", "--out", str(out), "--resume", "--num-iters", "6", "--save-every", "1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error:" in ln]
    assert "diverged at iteration 3" in line and "D/loss = nan" in line and "last good checkpoint (iteration 2)" in line
    kept = load_checkpoint(out)
    assert kept["iteration"] == 2
    assert all(torch.equal(kept["G"][k], good["G"][k]) for k in good["G"])
    assert all(np.isfinite(v).all() for v in load_bundle(out / "bundle")[1].values())


KILLED_INSIDE_THE_CHECKPOINT_SWAP = """
import os, signal, sys
import stargan_rt.atomic as atomic
from stargan_rt.cli import main

atomic.USE_EXCHANGE = False  # the two-rename swap, whose window between the renames used to lose the checkpoint
atomic.fault_hook = lambda step, dest: (os.kill(os.getpid(), signal.SIGKILL)
                                        if (step, dest.name) == ("moved_old", "checkpoint") else None)
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_between_the_checkpoint_renames_resumes_from_the_checkpoint_before(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import signal
    import subprocess
    import sys

    data = str(write_celeba(tmp_path / "celeba", n=20))
    out = tmp_path / "run"
    argv = ["train", "--data", data, *TINY, "--num-iters", "2", "--save-every", "1", "--out", str(out)]
    r = subprocess.run([sys.executable, "-c", KILLED_INSIDE_THE_CHECKPOINT_SWAP, *argv], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr  # killed while saving iteration 2, the first replacing a checkpoint
    assert not (out / "checkpoint").exists() and (out / ".checkpoint.old").is_dir()
    assert main(argv) == 2  # a fresh run still sees the run it would overwrite
    assert "already holds a run (checkpoint at iteration 1)" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--num-iters", "3"]) == 0
    assert "training from iteration 1" in capsys.readouterr().err
    assert load_checkpoint(out)["iteration"] == 3
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_second_train_into_a_run_being_written_is_refused_and_leaves_the_first_alone(tmp_path: Path, capsys) -> None:
    """Two `train --out X` at once would interleave checkpoints and metrics; the second is refused in one line while
    the first holds the run (here: a held lock stands for the first, still-running train)."""
    from trainer.checkpoint import RunLock

    data = str(write_celeba(tmp_path / "celeba", n=8))
    out = tmp_path / "run"
    out.mkdir()
    first = RunLock(out)
    try:
        assert main(["train", "--data", data, *OPTIONS, "--out", str(out)]) == 2
        assert "another train is writing this run" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [".train.lock"]  # nothing of a run written beside the first
    finally:
        first.release()
    assert main(["train", "--data", data, *OPTIONS, "--out", str(out)]) == 0  # once the first is done, it may run
    assert not (out / ".train.lock").exists()


def test_a_lock_taken_on_a_file_its_holder_just_removed_is_not_a_lock(tmp_path: Path, monkeypatch) -> None:
    """A run that opens the lock file as the first run releases it (and removes it), while a third run locks the new
    file, must not hold a lock on the removed one: it locks what is at the path now, or is refused."""
    import fcntl

    import pytest

    from stargan_rt.errors import BadInput
    from trainer import checkpoint
    from trainer.checkpoint import RunLock

    first = RunLock(tmp_path)
    third: list[RunLock] = []
    real_flock = fcntl.flock
    calls = iter(range(10**6))

    def first_finishes_then_third_starts(f, op):  # between the second run's open and its lock
        if next(calls) == 0:
            first.release()
            third.append(RunLock(tmp_path))
        return real_flock(f, op)

    monkeypatch.setattr(checkpoint.fcntl, "flock", first_finishes_then_third_starts)
    with pytest.raises(BadInput, match="another train is writing this run"):
        RunLock(tmp_path)  # the second
    third[0].release()
