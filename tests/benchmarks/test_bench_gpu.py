"""The GPU rows of the benchmark, on a tiny generator (run by benchmarks/gpu_check.sh on a CUDA machine)."""

import pytest

torch = pytest.importorskip("torch")

from benchmarks.floor import measure_peaks  # noqa: E402
from benchmarks.generator import GeneratorConfig, run_generator  # noqa: E402
from benchmarks.pipeline import PipelineConfig, run_pipeline  # noqa: E402
from benchmarks.timing import Budget  # noqa: E402
from benchmarks.variants import Workspace, official_meta, random_weights, select  # noqa: E402
from stargan_rt.bundle import Architecture  # noqa: E402

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]

TINY = Architecture(conv_dim=8, repeat_num=1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace(official_meta(TINY), random_weights(TINY), tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="module")
def rows(workspace):
    variants = [v for v in select(["torch-cuda", "bench-torch-cuda"], quick=False) if v.device == "cuda"]
    peaks = measure_peaks("cuda", ("fp32", "tf32", "fp16", "bf16"), budget_s=0.1, quick=True)
    cfg = GeneratorConfig(sizes=(32,), batches=(1, 2), budget=Budget(seconds=0.1, warmup=2, min_iters=5))
    return run_generator(cfg, variants, workspace, peaks).rows


def test_every_torch_cuda_path_is_measured(rows):
    names = {r.variant for r in rows}
    assert {"torch-cuda fp32 eager (baseline)", "torch-cuda fp16 eager", "torch-cuda fp16 + CUDA graphs",
            "torch-cuda bf16 + CUDA graphs (bench only)", "torch-cuda tf32 eager (PyTorch default)"} <= names
    assert all(r.error is None for r in rows), [(r.variant, r.error) for r in rows]


def test_compute_is_timed_apart_from_copies(rows):
    for r in rows:
        assert r.compute and r.h2d and r.d2h, r.variant
        assert 0 < r.compute["p50_ms"] < r.latency["p50_ms"], r.variant  # numpy in/out adds copies and syncs
        assert r.h2d["p50_ms"] > 0 and r.d2h["p50_ms"] > 0
        assert r.images_per_s == pytest.approx(r.batch * 1e3 / r.compute["p50_ms"])
        assert r.pct_compute_floor is not None and r.pct_compute_floor > 0


def test_reduced_precision_rows_stay_close_to_the_fp32_baseline(rows):
    for r in rows:
        if r.is_baseline:
            assert r.speedup == 1.0 and r.psnr_db == 100.0
        else:
            assert r.psnr_db is not None and r.psnr_db > 30, (r.variant, r.psnr_db)


def test_pipeline_runs_on_the_gpu(workspace):
    variants = [v for v in select(["torch-cuda"], quick=False) if v.backend == "torch-cuda"]
    cfg = PipelineConfig(faces=(1, 3), frames=8, width=320, height=240, size=32, modes=("max",), warmup_frames=2,
                         video_source="drawn")
    out = run_pipeline(cfg, variants, workspace)
    assert len(out) == 4 and all(r.error is None for r in out), [r.error for r in out]
    assert all(r.faces_per_frame == r.faces and r.processed == 8 for r in out)
