"""GPU paths of the runtime: PyTorch CUDA FP16 with CUDA graphs, and whatever GPU backends exist.

Skipped with a reason where there is no CUDA. On a GPU machine run benchmarks/gpu_check.sh (it runs
`pytest -m gpu` plus the backend contract suite, whose CUDA cases then run instead of skipping).
"""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.backends import open_model
from stargan_rt.bundle import Architecture, ModelMeta, save_bundle

from .conftest import CELEBA_TINY

pytestmark = pytest.mark.gpu


def _cuda():
    torch = pytest.importorskip("torch", reason="the CUDA paths need torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    return torch


@pytest.fixture(scope="module")
def official_bundle(tmp_path_factory):
    """A random generator of the official size (128 px, conv_dim 64, 6 residual blocks)."""
    torch = _cuda()
    from stargan_rt.torch_model import build_generator, generator_state_numpy

    meta = ModelMeta(architecture=Architecture(image_size=128, c_dim=5, conv_dim=64, repeat_num=6), datasets=(CELEBA_TINY,))
    torch.manual_seed(0)
    g = build_generator(meta.architecture)
    path = tmp_path_factory.mktemp("official") / "bundle"
    save_bundle(path, meta, generator_state_numpy(g))
    return path


def _batch(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 3, 128, 128)).astype(np.float32)
    c = np.zeros((n, 5), np.float32)
    c[np.arange(n), rng.integers(0, 5, n)] = 1
    return x, c


def test_torch_cuda_fp16_matches_cpu_fp32_at_the_official_size(official_bundle):
    x, c = _batch(2)
    with open_model(official_bundle, "torch-cpu") as cpu, open_model(official_bundle, "torch-cuda") as gpu:
        ref, out = cpu.infer(x, c), gpu.infer(x, c)
    diff = np.abs(out - ref)
    assert diff.mean() < 0.01 and diff.max() < 0.1, (diff.mean(), diff.max())


@pytest.mark.parametrize("n", [1, 2, 3])
def test_cuda_graph_replay_equals_eager_and_refreshes_its_static_inputs(official_bundle, n):
    a, ca = _batch(n, seed=1)
    b, cb = _batch(n, seed=2)
    with open_model(official_bundle, "torch-cuda") as graphs, open_model(official_bundle, "torch-cuda", cuda_graphs=False) as eager:
        ya, yb, ya2 = graphs.infer(a, ca), graphs.infer(b, cb), graphs.infer(a, ca)
        np.testing.assert_allclose(ya, eager.infer(a, ca), atol=2e-3)
        np.testing.assert_allclose(yb, eager.infer(b, cb), atol=2e-3)
    np.testing.assert_array_equal(ya, ya2)  # replays are deterministic
    assert np.abs(ya - yb).mean() > 1e-3  # and read the new inputs, not the captured ones


def test_frames_are_converted_on_the_gpu_like_images_to_tensor(official_bundle):
    frames = np.random.default_rng(3).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    c = np.eye(5, dtype=np.float32)[:2]
    with open_model(official_bundle, "torch-cpu") as cpu, open_model(official_bundle, "torch-cuda") as gpu:
        ref, out = cpu.infer_frames(frames, c), gpu.infer_frames(frames, c)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert out.dtype == np.uint8 and diff.mean() < 2 and diff.max() <= 32


def test_auto_prefers_cuda_for_a_bundle(official_bundle):
    _cuda()
    with open_model(official_bundle) as runner:
        assert runner.name == "torch-cuda", runner.reason
