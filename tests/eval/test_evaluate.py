"""stargan-rt eval: the metrics, the classifier as a judge, and scores that move the right way."""

import json

import numpy as np
import pytest

from stargan_rt.cli import main
from stargan_rt.errors import BadInput
from stargan_rt.images import crop_resize, read_image
from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, Preprocess
from stargan_rt.synth import BINARY, HAIR_COLOURS, Attributes, identity_seed, render
from trainer.evaluate import check_domains, checkerboard, evaluate, l1, markdown, psnr, ssim, write_report

from .conftest import IdentityRunner, PerfectRunner, celeba_meta, eval_people, joint_meta, rafd_meta


def test_metrics_of_identical_and_different_images():
    a = np.random.default_rng(0).integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    assert psnr(a, a).tolist() == [100.0, 100.0] and l1(a, a).tolist() == [0.0, 0.0]
    assert np.allclose(ssim(a, a), 1.0)
    mse = ((a.astype(float) - b) ** 2).mean(axis=(1, 2, 3))
    assert np.allclose(psnr(a, b), 10 * np.log10(255**2 / mse))
    assert np.all(ssim(a, b) < 1) and np.all(l1(a, b) > 0)


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    x = render(identity_seed("heldout", 5, 0), Attributes(), (64, 78))
    y = render(identity_seed("heldout", 5, 0), Attributes(hair="Blond_Hair", male=True), (64, 78))
    ref = metrics.structural_similarity(x, y, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, data_range=255)
    assert ssim(x[None], y[None])[0] == pytest.approx(ref, abs=2e-3)


def test_checkerboard_measures_the_amplitude_of_a_grid_locked_pattern_and_not_the_picture():
    pre = Preprocess(178)
    clean = np.stack([crop_resize(render(identity_seed("heldout", 6, i), Attributes(hair=HAIR_COLOURS[i % 4])), pre, 128)
                      for i in range(8)])
    assert checkerboard(clean).mean() < 1.2, "true renders measure about 0.8: edges that happen to lie along the grid"
    rng = np.random.default_rng(0)
    period2 = np.array([[1.0, -1.0], [-1.0, 1.0]])[:, :, None].repeat(3, axis=2)
    period4 = rng.normal(size=(4, 4, 3))
    period4 = (period4 - period4.mean(axis=(0, 1))) / np.sqrt(((period4 - period4.mean(axis=(0, 1))) ** 2).mean())
    for pattern in (period2, period4):
        tiled = np.tile(pattern, (128 // len(pattern), 128 // len(pattern), 1))
        tiled[:64] *= -1  # the up-convolution's pattern follows the content: its sign may differ across the face
        for amplitude in (2.0, 4.0, 8.0):
            noisy = np.clip(clean + amplitude * tiled, 0, 255).astype(np.uint8)
            excess = np.sqrt(checkerboard(noisy) ** 2 - checkerboard(clean) ** 2)  # the two add as energies
            assert excess.mean() == pytest.approx(amplitude, rel=0.1)
    moved = clean[:, 1:, 1:]  # the picture a pixel up and left: content is not locked to the grid
    assert checkerboard(moved).mean() < 1.2


def test_the_classifier_sees_each_attribute_flip_on_true_renders(classifier):
    people = [identity_seed("heldout", 31, i) for i in range(6)]
    pre, size = Preprocess(178), classifier.config.image_size

    def judge(pairs):
        return classifier.predict(np.stack([crop_resize(render(p, a), pre, size) for p, a in pairs]))

    base = [Attributes(hair=HAIR_COLOURS[i % 4], male=i % 2 == 0, young=i % 3 > 0) for i in range(6)]
    for name in BINARY:
        on, off = (judge([(p, b.set(name, v)) for p, b in zip(people, base)]).shows(name) for v in (True, False))
        flips = np.mean(on & ~off)
        assert flips >= 5 / 6, f"{name}: the classifier's decision flips for only {flips:.0%} of people"
    for hair in HAIR_COLOURS:
        seen = judge([(p, b.set(hair)) for p, b in zip(people, base)]).shows(hair)
        assert seen.mean() >= 5 / 6, f"{hair} recognised on only {seen.mean():.0%} of people"
    for expr in ("happy", "surprised", "sad", "angry"):
        seen = judge([(p, b.set(expr)) for p, b in zip(people, base)]).shows(expr)
        assert seen.mean() >= 4 / 6, f"{expr} recognised on only {seen.mean():.0%} of people"


def test_a_perfect_model_scores_at_the_ceiling(classifier, tmp_path):
    meta, people = celeba_meta(), eval_people()
    report, grid = evaluate(PerfectRunner(meta, people), classifier, people, workers=1, progress=False)
    s = report["summary"]
    assert s["n"] == len(people) * 5 and s["accuracy"] == s["ceiling"] >= 0.9
    assert s["psnr"] == 100.0 and s["ssim"] == pytest.approx(1.0) and s["l1"] == 0.0
    assert s["cycle_l1"] == 0.0 and s["preserved"] == 1.0
    assert s["checkerboard"] == pytest.approx(report["checkerboard_of_truth"], abs=1e-3), "the truth's own floor"
    assert report["cross_dataset"] is None
    write_report(report, grid, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["summary"] == s
    assert "| -Male |" in (tmp_path / "report.md").read_text() or "| Male |" in (tmp_path / "report.md").read_text()
    assert read_image(tmp_path / "grid.png").shape[0] > 2 * 4 * 32, "two rows (truth, model) per person"


def test_a_model_that_changes_nothing_scores_low(classifier):
    meta, people = celeba_meta(), eval_people()
    perfect, _ = evaluate(PerfectRunner(meta, people), classifier, people, workers=1, progress=False)
    idle, _ = evaluate(IdentityRunner(meta), classifier, people, workers=1, progress=False)
    s = idle["summary"]
    assert s["accuracy"] <= 0.45 and s["accuracy"] < perfect["summary"]["accuracy"] - 0.4
    assert s["psnr"] < 40 and s["l1"] > 0.005 and s["ssim"] < 0.99
    assert s["cycle_l1"] == 0.0, "doing nothing twice gives the input back"
    assert s["ceiling"] == perfect["summary"]["ceiling"], "the ceiling depends on the targets only"


def test_joint_models_report_the_cross_dataset_case(classifier):
    meta, people = joint_meta(), eval_people(3)
    report, _ = evaluate(PerfectRunner(meta, people), classifier, people, workers=1, progress=False)
    cross = report["cross_dataset"]
    assert cross["n"] == 3 * 8 and report["summary"]["n"] == 3 * 5
    assert cross["accuracy"] == cross["ceiling"] and cross["psnr"] == 100.0
    assert [c["domain"] for c in report["columns"] if c["cross_dataset"]][:2] == ["angry", "contemptuous"]
    assert "cross-dataset" in markdown(report)


def test_rafd_models_are_measured_on_rafd_like_people(classifier):
    from trainer.evaluate import heldout_people

    meta = rafd_meta()
    people = heldout_people(meta, 3, seed=4)
    assert all(not p.attrs.eyeglasses for p in people), "RaFD-like people, as the model was trained on"
    report, _ = evaluate(PerfectRunner(meta, people), classifier, people, workers=1, progress=False)
    s = report["summary"]
    assert s["n"] == 3 * 8 and report["cross_dataset"] is None
    assert s["accuracy"] == s["ceiling"] and s["psnr"] == 100.0 and s["cycle_l1"] == 0.0


def test_models_of_other_domains_are_refused():
    meta = ModelMeta(Architecture(image_size=32, c_dim=1, conv_dim=4, repeat_num=1),
                     (DomainSet("CelebA", "multi_label", ("Wearing_Hat",)),), Preprocess(178))
    with pytest.raises(BadInput, match="Wearing_Hat"):
        check_domains(meta)


def test_eval_command_end_to_end_on_a_tiny_model(classifier, tmp_path, capsys):
    import torch

    from stargan_rt.bundle import save_bundle
    from stargan_rt.torch_model import build_generator, generator_state_numpy
    from trainer.classifier import save_classifier

    meta = celeba_meta(32)
    torch.manual_seed(0)
    bundle = save_bundle(tmp_path / "tiny", meta, generator_state_numpy(build_generator(meta.architecture)))
    save_classifier(classifier, tmp_path / "clf.safetensors")
    out = tmp_path / "report"
    args = ["eval", str(bundle), "-n", "3", "-o", str(out), "-q", "--workers", "1", "--grid-rows", "2",
            "--classifier", str(tmp_path / "clf.safetensors")]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    s = report["summary"]
    assert s["n"] == 15 and 0 <= s["accuracy"] <= 1 and 0 < s["psnr"] < 40 and 0 < s["cycle_l1"] < 1
    assert read_image(out / "grid.png").shape[0] > 4 * 32 and "| mean" not in (out / "report.md").read_text()[:10]
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "missing"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing" in err
