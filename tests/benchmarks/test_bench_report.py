"""A tiny quick run of `stargan-rt bench` writes the JSON, the Markdown table and the plots, with sane columns."""

import json
import subprocess
import sys

import cv2
import pytest

from benchmarks.cli import main
from benchmarks.timing import PSNR_CAP_DB

TINY_RUN = [
    "--quick", "--conv-dim", "4", "--repeat-num", "1", "--sizes", "32", "--batches", "1,2", "--seconds", "0.05",
    "--backends", "torch-cpu", "ort-cpu", "--faces", "1", "--frames", "6", "--frame-size", "320x240", "--video-source", "drawn", "--threads", "1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main([*TINY_RUN, "-o", str(out)])
    return code, out, json.loads((out / "bench.json").read_text())


def test_quick_run_succeeds_and_writes_every_report(run):
    code, out, _ = run
    assert code == 0
    for name in ("bench.json", "bench.md", "latency_vs_batch.png", "pipeline_stages.png"):
        assert (out / name).is_file(), name
    for name in ("latency_vs_batch.png", "pipeline_stages.png"):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[0] > 200 and img.shape[1] > 300


def test_json_describes_the_machine_and_holds_every_section(run):
    _, _, doc = run
    assert doc["schema"] == "stargan-rt-bench/1"
    m = doc["machine"]
    assert m["cpu"] and m["logical_cores"] >= 1 and "gpu" in m and "git_commit" in m
    assert {"torch", "onnxruntime", "numpy"} <= set(m["libraries"])
    assert {"floor", "generator", "pipeline", "goals", "config"} <= set(doc)
    assert doc["phase_errors"] == {}
    peaks = {p["what"] for p in doc["floor"]["peaks"]}
    assert {"matmul-fp32", "copy"} <= peaks
    assert doc["floor"]["cost"][0]["size"] == 32
    statuses = {g["status"].replace(" (unreliable: busy machine)", "") for g in doc["goals"]}
    assert statuses <= {"met", "gap", "not measured"} and len(doc["goals"]) == 7


def test_every_cpu_path_is_measured_at_every_batch(run):
    _, _, doc = run
    rows = doc["generator"]["rows"]
    names = {r["variant"] for r in rows}
    assert {"torch-cpu fp32 eager (baseline)", "torch-cpu fp32 (runtime)", "ort-cpu fp32", "ort-cpu int8"} <= names
    assert all(r["error"] is None for r in rows), [(r["variant"], r["error"]) for r in rows]
    assert sorted({r["batch"] for r in rows}) == [1, 2]
    for r in rows:
        assert 0 < r["latency"]["p50_ms"] <= r["latency"]["p90_ms"] <= r["latency"]["p99_ms"]
        assert r["images_per_s"] == pytest.approx(r["batch"] * 1e3 / r["latency"]["p50_ms"])
        assert r["pct_compute_floor"] > 0


def test_ratio_and_psnr_columns(run):
    _, _, doc = run
    by = {(r["variant"], r["batch"]): r for r in doc["generator"]["rows"]}
    for b in (1, 2):
        base = by[("torch-cpu fp32 eager (baseline)", b)]
        assert base["speedup"] == 1.0 and base["psnr_db"] == PSNR_CAP_DB
        for r in (r for r in doc["generator"]["rows"] if r["batch"] == b):
            assert r["speedup"] == pytest.approx(base["latency"]["p50_ms"] / r["latency"]["p50_ms"])
        # the same FP32 network through onnxruntime agrees to float rounding; INT8 does not
        assert by[("ort-cpu fp32", b)]["psnr_db"] > 80
        assert 15 < by[("ort-cpu int8", b)]["psnr_db"] < PSNR_CAP_DB


def test_markdown_has_a_row_per_path_and_batch_and_the_goals(run):
    _, out, doc = run
    md = (out / "bench.md").read_text()
    for r in doc["generator"]["rows"]:
        assert f"| {r['variant']} | {r['batch']} |" in md
    assert "| goal | target | status | measured |" in md
    assert "## End to end: the streaming pipeline" in md
    for r in doc["pipeline"]["rows"]:
        assert f"| {r['variant']} | {r['faces']} | {r['mode']} |" in md


def test_pipeline_rows_come_from_the_runtime(run):
    _, _, doc = run
    rows = doc["pipeline"]["rows"]
    assert rows and all(r["error"] is None for r in rows), [r["error"] for r in rows]
    assert all(r["faces_per_frame"] == 1 and r["stages_ms"]["infer"]["count"] >= 1 for r in rows)


def test_summary_and_merge_reuse_a_report(run, tmp_path, capsys):
    _, out, doc = run
    assert main(["--merge", str(out / "bench.json"), str(out / "bench.json"), "-o", str(tmp_path)]) == 0
    merged = json.loads((tmp_path / "bench.json").read_text())
    assert len(merged["generator"]["rows"]) == 2 * len(doc["generator"]["rows"])
    capsys.readouterr()
    assert main(["--summarize", str(out / "bench.json")]) == 0
    text = capsys.readouterr().out
    assert "torch-cpu fp32 eager (baseline)" in text and "[" in text.splitlines()[-1]


@pytest.mark.parametrize("args,expected", [
    (["--batches", "one"], "expected comma-separated positive integers"),
    (["--model", "/nonexistent/bundle"], "no such model bundle"),
    (["--phases", "floor,warp"], "unknown warp"),
    (["--backends", "no-such-backend"], "no benchmark path matches"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, expected, tmp_path):
    r = subprocess.run([sys.executable, "-m", "stargan_rt.cli", "bench", *args, "-o", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert expected in r.stderr and "Traceback" not in r.stderr


def test_tables_are_written_even_when_plots_cannot_be(run, tmp_path, monkeypatch):
    from benchmarks.report import write_reports

    _, _, doc = run
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on a machine without matplotlib
    written = write_reports(dict(doc, phase_errors={}), tmp_path)
    assert set(written) == {"json", "markdown"}
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert "latency_plot" in saved["phase_errors"] and "stages_plot" in saved["phase_errors"]
    assert "## Phases that failed" in (tmp_path / "bench.md").read_text()
