"""Writes that survive kills: a folder swap killed at any step leaves the old or the new version (never neither, once
recovered), leftovers of killed runs go, a live run's temporaries stay, and a user's own file is never replaced.

The kills are injected at named steps of the swap (atomic.fault_hook), not left to timing luck.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stargan_rt import atomic
from stargan_rt.errors import BadInput

SWAP_KILLED_AT = """
import os, signal, sys
from pathlib import Path
import stargan_rt.atomic as atomic

target, step = Path(sys.argv[1]), sys.argv[2]
atomic.USE_EXCHANGE = sys.argv[3] == "exchange"
atomic.fault_hook = lambda name, dest: os.kill(os.getpid(), signal.SIGKILL) if (name, dest) == (step, target) else None
with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:
    (tmp / "payload.txt").write_text("x" * 100_000)
    (tmp / "version.txt").write_text("new")
"""

HOLDS_A_TEMPORARY = """
import sys, time
from pathlib import Path
import stargan_rt.atomic as atomic

with atomic.atomic_directory(Path(sys.argv[1]), replaces=["*.txt"]) as tmp:
    (tmp / "version.txt").write_text("live")
    Path(sys.argv[2]).write_text(str(tmp))
    time.sleep(60)
"""


def _version(target: Path) -> str | None:
    return (target / "version.txt").read_text() if (target / "version.txt").is_file() else None


def _beside(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name != target.name)


def _old_version(tmp_path: Path) -> Path:
    target = tmp_path / "checkpoint"
    target.mkdir()
    (target / "version.txt").write_text("old")
    return target


@pytest.mark.parametrize("mode, step, after", [
    ("exchange", "written", "old"), ("exchange", "exchanged", "new"),
    ("renames", "written", "old"), ("renames", "moved_old", "old"), ("renames", "swapped", "new"),
])
def test_a_swap_killed_at_any_step_leaves_one_whole_version_and_no_leftovers(tmp_path, mode, step, after):
    target = _old_version(tmp_path)
    r = subprocess.run([sys.executable, "-c", SWAP_KILLED_AT, str(target), step, mode], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    if (mode, step) == ("renames", "moved_old"):
        assert not target.exists() and ".checkpoint.old" in _beside(target)  # the window the recovery closes
    atomic.recover(target)  # what the next run (atomic_directory, --resume, load_bundle) does first
    assert _version(target) == after
    assert (target / "payload.txt").is_file() == (after == "new")
    assert _beside(target) == []
    with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:  # and the next save works as usual
        (tmp / "version.txt").write_text("next")
    assert _version(target) == "next" and _beside(target) == []


def test_a_live_runs_temporary_is_left_alone_and_cleaned_once_it_is_killed(tmp_path):
    target = _old_version(tmp_path)
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", HOLDS_A_TEMPORARY, str(target), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        temporary = Path(ready.read_text())
        atomic.recover(target)
        with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:  # a concurrent save beside it
            (tmp / "version.txt").write_text("concurrent")
        assert temporary.is_dir() and _version(target) == "concurrent"
    finally:
        child.kill()
        child.wait()
    atomic.recover(target)
    assert not temporary.exists() and _beside(target) == ["ready"]


def test_leftover_files_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.mp4"
    for name in (".out.mp4.abcd1234.tmp", ".out.abcd_234.partial.mp4"):
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / ".out.mine.mp4").write_bytes(b"a user's file that only looks alike")
    atomic.atomic_write_bytes(target, b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mine.mp4", "out.mp4"]


def test_a_folder_holding_anything_else_is_never_replaced(tmp_path):
    target = _old_version(tmp_path)
    (target / "thesis.docx").write_bytes(b"a user's")
    with pytest.raises(BadInput, match="thesis.docx"):
        with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:
            (tmp / "version.txt").write_text("new")
    assert (target / "thesis.docx").read_bytes() == b"a user's" and _version(target) == "old" and _beside(target) == []


def test_a_file_appearing_during_the_work_stops_the_swap(tmp_path):
    target = _old_version(tmp_path)
    with pytest.raises(BadInput, match="late.txt.bak"):
        with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:
            (target / "late.txt.bak").write_text("saved meanwhile")
            (tmp / "version.txt").write_text("new")
    assert _version(target) == "old" and (target / "late.txt.bak").is_file() and _beside(target) == []


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux")
def test_the_swap_is_one_exchange_where_the_file_system_has_it(tmp_path, monkeypatch):
    target = _old_version(tmp_path)
    steps = []
    monkeypatch.setattr(atomic, "fault_hook", lambda name, dest: steps.append(name))
    with atomic.atomic_directory(target, replaces=["*.txt"]) as tmp:
        (tmp / "version.txt").write_text("new")
    assert steps == ["written", "exchanged"] and _version(target) == "new"
    assert os.listdir(tmp_path) == ["checkpoint"]
