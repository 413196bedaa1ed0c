"""The rule for replacing the embedded default model: a candidate must be at least as good on every eval number."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "trainer" / "recipes" / "beats_default.py"
TODAY = SCRIPT.parent / "default_model_eval"


def candidate_like_today(tmp_path: Path, change=None) -> Path:
    """A copy of today's eval reports, with change(crops, frames) applied to them."""
    crops = json.loads((TODAY / "report.json").read_text())
    frames = json.loads((TODAY / "frames" / "report.json").read_text())
    if change:
        change(crops, frames)
    (tmp_path / "frames").mkdir()
    (tmp_path / "report.json").write_text(json.dumps(crops))
    (tmp_path / "frames" / "report.json").write_text(json.dumps(frames))
    return tmp_path


def verdict(candidate: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(candidate)], capture_output=True, text=True)


def test_equal_on_every_number_is_not_worse(tmp_path):
    r = verdict(candidate_like_today(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\b(\d+) of \1 numbers at least as good$", r.stdout, re.M), r.stdout  # all of them


@pytest.mark.parametrize("phase, domain, metric, delta", [
    ("crops", "Male", "accuracy", -0.01),   # larger is better
    ("crops", "-Young", "l1", +0.001),      # smaller is better
    ("crops", "Blond_Hair", "checkerboard", +0.01),
    ("frames", "Blond_Hair", "spill", +0.1),
    ("frames", None, "gain", -0.01),        # the mean counts too
])
def test_one_number_worse_fails_and_is_named(tmp_path, phase, domain, metric, delta):
    def change(crops, frames):
        report = crops if phase == "crops" else frames
        row = report["summary"] if domain is None else next(c for c in report["columns"] if c["domain"] == domain)
        row[metric] += delta
    r = verdict(candidate_like_today(tmp_path, change))
    assert r.returncode == 1
    assert f"worse: {phase} {domain or 'mean'} {metric}" in r.stdout


def test_reports_of_different_people_are_not_compared(tmp_path):
    r = verdict(candidate_like_today(tmp_path, lambda crops, frames: frames.update(people=50)))
    assert r.returncode == 2 and "people differs" in r.stderr and "Traceback" not in r.stderr


def test_a_missing_report_is_one_line(tmp_path):
    r = verdict(tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
