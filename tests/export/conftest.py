"""Shared fixtures for the export tests: a tiny random generator bundle, real face images, one full export.

Tiny on purpose (conv_dim 8, repeat 2, 32x32): the whole export suite runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, save_bundle  # noqa: E402

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
TINY = Architecture(image_size=32, c_dim=5, conv_dim=8, repeat_num=2)


def tiny_meta() -> ModelMeta:
    return ModelMeta(TINY, (DomainSet("celeba", "multi_label", ATTRS, (ATTRS[:3],)),), provenance={"source": "test: random init"})


def make_bundle(path: Path, seed: int = 0) -> Path:
    import torch

    from stargan_rt.torch_model import build_generator, generator_state_numpy

    torch.manual_seed(seed)
    return save_bundle(path, tiny_meta(), generator_state_numpy(build_generator(TINY)))


def stargan_rt_process(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a new process, as a user would."""
    return subprocess.run([sys.executable, "-m", "stargan_rt.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def stargan_rt(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command line's main() in this process (no interpreter + torch start-up per call): exit code and output."""
    from stargan_rt.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(list(map(str, args)), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="session")
def other_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture, different weights: an artifact that must NOT agree with `bundle`."""
    return make_bundle(tmp_path_factory.mktemp("bundle") / "other", seed=1)


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real face photos (scikit-image's astronaut and LFW crops) as image files, like a user's --calib folder."""
    pytest.importorskip("skimage")
    import cv2

    from export.calibration import scikit_image_faces

    folder = tmp_path_factory.mktemp("faces")
    for i, face in enumerate(scikit_image_faces(12, 64)):
        cv2.imwrite(str(folder / f"face{i:02d}.png"), face)
    return folder


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, bundle: Path, faces_dir: Path) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """One full `stargan-rt export` (float, frames, FP16, INT8, OpenVINO IR, Triton) shared by the tests that inspect it."""
    root = tmp_path_factory.mktemp("export")
    out, triton = root / "out", root / "triton"
    r = stargan_rt_process("export", bundle, "-o", out, "--calib", faces_dir, "--batch", "1:2:4", "--triton", triton,
                           "--openvino-ir")
    assert r.returncode == 0, r.stderr
    return out, triton, r


def rng() -> np.random.Generator:
    return np.random.default_rng()
