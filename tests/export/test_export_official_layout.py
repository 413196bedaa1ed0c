"""A state dict in the official layout (yunjey/stargan keys, PyTorch 0.3: no num_batches_tracked) imports, exports and matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ATTRS, TINY, stargan_rt


def official_checkpoint(path: Path) -> Path:
    from stargan_rt.torch_model import build_generator

    torch.manual_seed(7)
    state = {k: v for k, v in build_generator(TINY).state_dict().items() if not k.endswith("num_batches_tracked")}
    for k in state:  # running stats as a trained checkpoint has them (ignored by correct inference)
        if "running" in k:
            state[k] = torch.rand_like(state[k]) + 0.5
    last = 9 + TINY.repeat_num + 6  # main.21 at the official repeat_num 6
    assert {"main.0.weight", "main.9.main.1.running_var", f"main.{last}.weight"} <= set(state)
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_official_layout_checkpoint_imports_exports_and_matches_pytorch(tmp_path):
    pytest.importorskip("trainer.official", reason="the importer (trainer engineer) is not in this tree")
    from trainer.official import import_official

    bundle = import_official(official_checkpoint(tmp_path / "200000-G.ckpt"), tmp_path / "bundle", list(ATTRS), image_size=TINY.image_size)
    r = stargan_rt("export", bundle, "-o", tmp_path / "out", "--no-int8")
    assert r.returncode == 0, r.stderr
    check = stargan_rt("check", bundle, tmp_path / "out" / "generator.onnx", "--batch", "3")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "agree" in check.stdout

    from stargan_rt.torch_model import Generator

    official = Generator(TINY.conv_dim, TINY.c_dim, TINY.repeat_num)  # loaded strictly from the raw checkpoint
    official.load_state_dict(torch.load(tmp_path / "200000-G.ckpt", weights_only=True), strict=True)
    import onnxruntime as ort

    x = np.random.default_rng().uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    c = np.eye(5, dtype=np.float32)[[1, 3]]
    got = ort.InferenceSession(str(tmp_path / "out" / "generator.onnx"), providers=["CPUExecutionProvider"]).run(None, {"image": x, "label": c})[0]
    with torch.no_grad():
        assert np.abs(got - official(torch.from_numpy(x), torch.from_numpy(c)).numpy()).max() <= 1e-4
