"""`stargan-rt bench --phases train`: the trainer's own iteration timed per lever, with counted FLOPs, speed-ups
against the plain eager loop, loss parity, the recipe's choice, and the recipe script's budget."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from benchmarks.cli import main
from benchmarks.training import TrainBenchConfig, count_flops, fastest, flags
from stargan_rt.bundle import Architecture
from trainer.config import TrainConfig, add_arguments, from_args

RECIPE = Path(__file__).resolve().parents[2] / "trainer" / "recipes" / "default_model.sh"
TINY = ["--phases", "train", "--device", "cpu", "--train-size", "64", "--train-conv-dim", "4", "--train-batch", "2",
        "--train-variants", "plain,device,fused", "--train-batch-scales", "2", "--train-seconds", "0.2", "--threads", "1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-train")
    code = main([*TINY, "-o", str(out)])
    return code, out, json.loads((out / "bench.json").read_text())


def test_every_row_is_measured_against_the_plain_loop(run):
    code, out, doc = run
    assert code == 0 and not doc["phase_errors"]
    rows = doc["train"]["rows"]
    # the plain loop and today's recipe always run; then the rows asked for; then the fastest one at twice the batch
    assert [r["key"] for r in rows][:4] == ["plain", "bf16", "device", "fused"]
    assert rows[-1]["role"] == "larger batch" and rows[-1]["batch"] == 4 and rows[-1]["changes_objective"]
    base = rows[0]
    assert base["speedup"] == pytest.approx(1.0)
    for r in rows:
        assert r["error"] is None and r["it_per_s"] > 0 and r["iterations_timed"] >= 3
        assert r["images_per_s"] == pytest.approx(r["it_per_s"] * r["batch"])
        assert r["speedup"] == pytest.approx(r["images_per_s"] / base["images_per_s"])
        assert r["tflops"] == pytest.approx(r["images_per_s"] * doc["train"]["flops"]["per_image_per_iteration"] / 1e12)
        assert 0 < r["pct_peak"] < 100 and r["peak"].startswith(f"matmul-{r['precision']}")


def test_levers_are_checked_to_compute_what_the_eager_loop_computes(run):
    rows = {r["key"]: r for r in run[2]["train"]["rows"]}
    assert rows["plain"]["parity_reference"] == rows["bf16"]["parity_reference"] == "(the reference)"
    for key in ("device", "fused"):  # bf16 rows against the eager bf16 row
        assert rows[key]["parity_reference"] == rows["bf16"]["variant"]
        assert rows[key]["loss_diff"] < 1e-3 and rows[key]["parity_ok"]


def test_markdown_and_summary_show_the_table_and_the_goal(run):
    _, out, doc = run
    md = (out / "bench.md").read_text()
    assert "## Training step, 64x64, conv_dim 4, batch 2" in md
    for r in doc["train"]["rows"]:
        assert f"| cpu | {r['variant']} | {r['batch']} |" in md
    assert "Goal: GPU: training step images/s" in md and "**not measured**" in md


def test_counted_flops_are_per_image_and_match_torchs_flop_counter_on_g():
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.floor import generator_cost

    shape = TrainBenchConfig(size=64, conv_dim=4)
    a, b = count_flops(shape, batch=2), count_flops(shape, batch=3)
    assert a["per_image_per_iteration"] == pytest.approx(b["per_image_per_iteration"])
    # A cycle of 5 D steps and a G step holds at least the 2 G forwards of the G step and the 5 of the D steps.
    g_forward = 2 * generator_cost(Architecture(image_size=64, conv_dim=4, c_dim=5, repeat_num=6), 64).macs
    assert a["per_image_per_iteration"] * 5 > 7 * g_forward
    with FlopCounterMode(display=False) as counter:  # the formulas are torch's own
        from stargan_rt.torch_model import Generator

        Generator(4, 5, 6)(torch.zeros(1, 3, 64, 64), torch.zeros(1, 5))
    assert counter.get_total_flops() == g_forward


def test_the_bench_times_the_up_sampling_that_will_train():
    from dataclasses import replace

    shape = TrainBenchConfig(size=64, conv_dim=4)
    official, resize = count_flops(shape), count_flops(replace(shape, upsample="resize"))
    assert resize["per_image_per_iteration"] > official["per_image_per_iteration"]  # a 3x3 conv at twice the side


def test_choose_takes_the_fastest_row_that_keeps_the_objective():
    rows = [{"key": "a", "images_per_s": 100, "parity_ok": True, "changes_objective": False, "error": None},
            {"key": "b", "images_per_s": 900, "parity_ok": True, "changes_objective": True, "error": None},
            {"key": "c", "images_per_s": 500, "parity_ok": False, "changes_objective": False, "error": None},
            {"key": "d", "images_per_s": 300, "parity_ok": True, "changes_objective": False, "error": None},
            {"key": "e", "images_per_s": None, "parity_ok": True, "changes_objective": False, "error": "OOM"}]
    assert fastest(rows)["key"] == "d"
    assert fastest(rows[1:3]) is None


def test_a_rows_options_become_train_flags_that_parse_back():
    import argparse

    options = {"amp": "bf16", "channels_last": True, "data_on_device": True, "adam": "fused", "cuda_graphs": False,
               "compile": "g", "log_every": 100}
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = from_args(parser.parse_args(flags(options)))
    assert all(getattr(cfg, k) == v for k, v in options.items())
    assert cfg == TrainConfig(**options)


def test_choose_command_prints_flags_and_rate(run, capsys):
    from benchmarks.training import main as training_main

    assert training_main(["choose", str(run[1] / "bench.json"), "--device", "cpu"]) == 0
    first, rate = capsys.readouterr().out.splitlines()
    best = fastest(run[2]["train"]["rows"])
    assert first == " ".join(flags(best["options"])) and float(rate) == pytest.approx(best["it_per_s"], rel=1e-3)
    assert training_main(["choose", str(run[1] / "bench.json"), "--device", "cuda"]) == 1


@pytest.mark.parametrize("args, expected", [
    (["--train-variants", "nope"], "--train-variants: unknown nope"),
    (["--train-size", "96"], "--train-size must be a positive multiple of 64"),
    (["--train-batch-scales", "x"], "--train-batch-scales"),
])
def test_bad_training_arguments_give_one_line_and_exit_2(args, expected, tmp_path):
    import sys

    r = subprocess.run([sys.executable, "-m", "benchmarks", "--phases", "train", *args, "-o", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and expected in r.stderr and "Traceback" not in r.stderr


def test_recipe_is_valid_bash_and_passes_shellcheck():
    assert subprocess.run(["bash", "-n", str(RECIPE)], capture_output=True).returncode == 0
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", "-S", "warning", "-x", str(RECIPE)], capture_output=True, text=True,
                           cwd=RECIPE.parents[2])
        assert r.returncode == 0, r.stdout


def test_recipe_defaults_fit_one_gpu_budget_in_calls_under_ten_minutes():
    text = RECIPE.read_text()

    def default(name: str) -> float:
        return float(re.search(rf"\${{{name}:-([0-9.]+)}}", text).group(1))

    assert default("CALL_MINUTES") < 10
    start_up, bench = 1.5, (default("BENCH_SECONDS") + 20) / 60  # a row that starts just before the limit ends later
    assert start_up + bench + default("TRAIN_MINUTES") + default("FINISH_MINUTES") <= 15 - 1  # a minute to spare
    assert "--no-index" in (RECIPE.parent / "offline_env.sh").read_text()
