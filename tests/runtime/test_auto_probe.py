"""`--backend auto` measures: it probes the candidates on first use, caches the verdict, and says why.

Timings are injected (`measure=`), so no test depends on how fast anything runs on the test machine.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

from stargan_rt.backends import _probe, backends, choose_backend, open_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A probe cache of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("STARGAN_RT_CACHE", str(folder))
    monkeypatch.delenv(_probe.PROBE_ENV, raising=False)
    return folder / _probe.CACHE_FILE


@pytest.fixture
def default_layout(tiny_models, tmp_path):
    """A folder like the embedded default model: a bundle plus its INT8 ONNX (torch and ONNX backends compete)."""
    d = tmp_path / "default"
    shutil.copytree(tiny_models["bundle"], d)
    shutil.copy(tiny_models["int8_onnx"], d / "generator_int8.onnx")
    return d


def timings(ms: dict[str, float], calls: list[str] | None = None):
    """A `measure` that returns fixed milliseconds per backend (inf for any other) and records what it timed."""

    def measure(info, artifact, batch):
        if calls is not None:
            calls.append(f"{info.name}@{batch}")
        return ms.get(info.name, math.inf)

    return measure


def available(*names):
    return all(backends()[n].available()[0] for n in names)


needs_cpu_backends = pytest.mark.skipif(not available("ort-cpu", "ov-cpu", "torch-cpu"),
                                        reason="needs onnxruntime, OpenVINO and torch")


@needs_cpu_backends
def test_the_measured_fastest_wins_over_the_static_order(default_layout, cache):
    # the static order puts ov-cpu first for an INT8 ONNX; the probe says onnxruntime is faster on this machine
    info, artifact, reason = choose_backend(default_layout, measure=timings({"ov-cpu": 9.0, "ort-cpu": 5.0, "torch-cpu": 40.0}))
    assert (info.name, artifact.name) == ("ort-cpu", "generator_int8.onnx")
    assert reason.startswith("auto: ort-cpu is the fastest") and "probed now" in reason
    assert "ort-cpu:generator_int8.onnx 5.0 ms" in reason and "ov-cpu:generator_int8.onnx 9.0 ms" in reason


@needs_cpu_backends
def test_a_tie_within_five_percent_goes_by_the_static_order(default_layout, cache):
    info, _, reason = choose_backend(default_layout, measure=timings({"ov-cpu": 10.0, "ort-cpu": 9.8, "torch-cpu": 40.0}))
    assert info.name == "ov-cpu" and "static order" in reason
    info, _, _ = choose_backend(default_layout, batch=2, measure=timings({"ov-cpu": 10.0, "ort-cpu": 9.4, "torch-cpu": 40.0}))
    assert info.name == "ort-cpu"  # 6% faster is faster


@needs_cpu_backends
def test_the_verdict_is_cached_per_model_batch_and_options(default_layout, cache):
    calls: list[str] = []
    fast_ort = timings({"ov-cpu": 9.0, "ort-cpu": 5.0}, calls)
    choose_backend(default_layout, measure=fast_ort)
    probed = len(calls)
    assert probed >= 3 and json.loads(cache.read_text())  # every available candidate once; the file is JSON

    info, _, reason = choose_backend(default_layout, measure=fast_ort)
    assert len(calls) == probed and info.name == "ort-cpu" and "cached probe" in reason

    choose_backend(default_layout, batch=3, measure=fast_ort)  # another batch size is another question
    assert len(calls) == 2 * probed and calls[-1].endswith("@3")
    choose_backend(default_layout, options={"threads": 1}, measure=fast_ort)  # so are other options
    assert len(calls) == 3 * probed

    shutil.copy(default_layout / "generator_int8.onnx", default_layout.parent / "int8.onnx")
    shutil.copy(default_layout.parent / "int8.onnx", default_layout / "generator_int8.onnx")  # a new file, same bytes
    choose_backend(default_layout, measure=fast_ort)
    assert len(calls) == 3 * probed  # still cached: the key is the content
    with open(default_layout / "generator_int8.onnx", "ab") as f:
        f.write(b"\0")  # another model (by content)
    choose_backend(default_layout, measure=fast_ort)
    assert len(calls) == 4 * probed


@needs_cpu_backends
def test_refresh_probes_again_and_probing_can_be_switched_off(default_layout, cache, monkeypatch):
    calls: list[str] = []
    choose_backend(default_layout, measure=timings({"ort-cpu": 5.0, "ov-cpu": 9.0}, calls))
    monkeypatch.setenv(_probe.PROBE_ENV, "refresh")
    info, _, _ = choose_backend(default_layout, measure=timings({"ort-cpu": 9.0, "ov-cpu": 5.0}, calls))
    assert info.name == "ov-cpu" and len(calls) == 2 * len(set(calls))

    def never(*args):
        raise AssertionError("probing is off: nothing may be timed")

    for off in ("0", "off"):
        monkeypatch.setenv(_probe.PROBE_ENV, off)
        info, _, reason = choose_backend(default_layout, measure=never)
        assert info.name == list(n for n, i in backends().items() if i.available()[0] and i.accepts(default_layout / "generator_int8.onnx"))[0]
        assert "probing is off" in reason
    monkeypatch.delenv(_probe.PROBE_ENV)
    assert "probing is off" in choose_backend(default_layout, probe=False, measure=never)[2]


@needs_cpu_backends
def test_a_candidate_that_fails_never_wins_and_a_broken_cache_is_replaced(default_layout, cache):
    cache.parent.mkdir(parents=True)
    cache.write_text("{ not json")
    info, _, reason = choose_backend(default_layout, measure=timings({"ov-cpu": math.inf, "ort-cpu": 30.0}))
    assert info.name == "ort-cpu" and "ov-cpu:generator_int8.onnx failed" in reason
    assert json.loads(cache.read_text())  # rewritten whole
    info, _, reason = choose_backend(default_layout, measure=timings({}))  # from the cache: the failure is remembered
    assert info.name == "ort-cpu" and "cached probe" in reason and "ov-cpu:generator_int8.onnx failed" in reason


@needs_cpu_backends
def test_open_model_probes_for_real_and_says_so(default_layout, cache, capsys):
    with open_model(default_layout, batch=2) as runner:
        assert runner.reason.startswith(f"auto: {runner.name} is the fastest") and "at batch 2" in runner.reason
    err = capsys.readouterr().err
    assert "auto: probing" in err and f"auto: {runner.name}:" in err and str(cache) in err
    with open_model(default_layout, batch=2) as again:  # the second time: from the cache, silently
        assert again.name == runner.name and "cached probe" in again.reason
    assert capsys.readouterr().err == ""


def test_one_candidate_needs_no_probe(tiny_models, cache):
    def never(*args):
        raise AssertionError("a lone candidate is not timed")

    info, _, reason = choose_backend(tiny_models["openvino_ir"], measure=never) if available("ov-cpu") else \
        pytest.skip("OpenVINO is not installed")
    assert info.name == "ov-cpu" and "the only candidate" in reason and not cache.exists()
