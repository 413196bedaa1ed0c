"""The SynthFaces attribute classifier that judges translated images in `stargan-rt eval`.

A small CNN with three heads: hair colour (4-way), the binary attributes (Male, Young, Pale_Skin, Eyeglasses,
Smiling) and the expression (8-way). It is trained by this project on SynthFaces renders of its own people
(the "classifier" identity range, never used by datasets or evaluation), reproducibly from a fixed seed, and
cached as safetensors under ~/.cache/stargan-rt (or $STARGAN_RT_CACHE), keyed by the renderer version and the
config. Nothing is downloaded.

Inputs are model-space crops (the CelebA transform: centre crop 178, resize), uint8 BGR of any size; they are
resized to the classifier's size. Training images are randomly blurred and resampled through lower
resolutions, so that a generator's softer output is judged on its content, not its sharpness.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from stargan_rt._optional import require
from stargan_rt.atomic import atomic_write_bytes
from stargan_rt.bundle import Preprocess
from stargan_rt.errors import BadModel
from stargan_rt.host import cache_dir
from stargan_rt.synth.attributes import BINARY, EXPRESSIONS, HAIR_COLOURS, Attributes
from stargan_rt.synth.batch import render_many
from stargan_rt.synth.identity import identity_seed
from stargan_rt.synth.render import CELEBA_SIZE, RENDERER_VERSION

CLASSIFIER_VERSION = 1  # bump when the network or the training recipe changes
CROP = Preprocess(crop_size=178)


@dataclass(frozen=True)
class ClassifierConfig:
    image_size: int = 64
    train_images: int = 8000
    val_images: int = 800
    epochs: int = 8
    batch_size: int = 64
    width: int = 24  # channels of the first convolution (doubling per stage)
    lr: float = 3e-3
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({"renderer": RENDERER_VERSION, "classifier": CLASSIFIER_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]



def training_attributes(rng: np.random.Generator) -> Attributes:
    """Balanced attributes: every hair colour and attribute equally often; three pictures in four show one of the
    eight expressions (drawn uniformly), the rest are neutral and half of those smile (CelebA's Smiling)."""
    expr = str(rng.choice(EXPRESSIONS)) if rng.random() < 0.75 else "neutral"
    return Attributes(hair=str(rng.choice(HAIR_COLOURS)), male=bool(rng.random() < 0.5), young=bool(rng.random() < 0.5),
                      pale_skin=bool(rng.random() < 0.5), eyeglasses=bool(rng.random() < 0.5),
                      smiling=bool(rng.random() < 0.5) if expr == "neutral" else expr == "happy", expression=expr)


NO_EXPRESSION = -100  # cross_entropy's ignore_index


def targets(attrs: list[Attributes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hair index, binary 0/1 matrix, expression index) of attribute values.

    A smiling face with the neutral expression (CelebA's Smiling) has no expression label: RaFD would call
    it happy, SynthFaces calls it neutral; the expression head is neither trained nor scored on it."""
    hair = np.array([HAIR_COLOURS.index(a.hair) for a in attrs], np.int64)
    binary = np.array([[a.get(b) for b in BINARY] for a in attrs], np.float32)
    expr = np.array([NO_EXPRESSION if a.expression == "neutral" and a.smiling else EXPRESSIONS.index(a.expression)
                     for a in attrs], np.int64)
    return hair, binary, expr


def _build_net(width: int) -> Any:
    torch = require("torch", "the SynthFaces attribute classifier")
    nn = torch.nn

    def conv(cin: int, cout: int, stride: int) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    w = width  # four stride-2 stages; all but the first (the costliest, at full resolution) have a second conv
    return nn.Sequential(*conv(3, w, 2), *conv(w, 2 * w, 2), *conv(2 * w, 2 * w, 1), *conv(2 * w, 4 * w, 2),
                         *conv(4 * w, 4 * w, 1), *conv(4 * w, 8 * w, 2), *conv(8 * w, 8 * w, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(8 * w, len(HAIR_COLOURS) + len(BINARY) + len(EXPRESSIONS)))


def _to_input(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 BGR (N, H, W, 3) crops -> float32 (N, 3, size, size) in [-1, 1]."""
    if frames.shape[1] != size or frames.shape[2] != size:
        interp = cv2.INTER_AREA if frames.shape[1] > size else cv2.INTER_LINEAR
        frames = np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in frames])
    return np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32) / 127.5 - 1.0


@dataclass
class Predictions:
    hair: np.ndarray  # (N,) index into HAIR_COLOURS
    binary: np.ndarray  # (N, len(BINARY)) bool
    expression: np.ndarray  # (N,) index into EXPRESSIONS

    def shows(self, name: str) -> np.ndarray:
        """(N,) bool: does each image show domain `name` (a hair colour, binary attribute or expression)?"""
        if name in HAIR_COLOURS:
            return self.hair == HAIR_COLOURS.index(name)
        if name in EXPRESSIONS:
            return self.expression == EXPRESSIONS.index(name)
        return self.binary[:, BINARY.index(name)]

    def group(self, group: str) -> np.ndarray:
        """(N,) the predicted value of one attribute group: "hair", "expression" or a binary attribute."""
        if group == "hair":
            return self.hair
        if group == "expression":
            return self.expression
        return self.binary[:, BINARY.index(group)]


GROUPS = ("hair", *BINARY, "expression")


def group_of(name: str) -> str:
    return "hair" if name in HAIR_COLOURS else "expression" if name in EXPRESSIONS else name


class AttributeClassifier:
    """A trained classifier: `predict(frames)` on uint8 BGR model-space crops."""

    def __init__(self, net: Any, config: ClassifierConfig, report: dict[str, Any]):
        self.net, self.config, self.report = net.eval(), config, report

    def predict(self, frames: np.ndarray, batch_size: int = 256) -> Predictions:
        torch = require("torch", "the SynthFaces attribute classifier")
        outs = []
        with torch.inference_mode():
            for i in range(0, len(frames), batch_size):
                x = torch.from_numpy(_to_input(frames[i : i + batch_size], self.config.image_size))
                outs.append(self.net(x).numpy())
        logits = np.concatenate(outs) if outs else np.zeros((0, len(HAIR_COLOURS) + len(BINARY) + len(EXPRESSIONS)))
        h, b = len(HAIR_COLOURS), len(BINARY)
        return Predictions(logits[:, :h].argmax(1), logits[:, h : h + b] > 0, logits[:, h + b :].argmax(1))

    def accuracy(self, frames: np.ndarray, attrs: list[Attributes]) -> dict[str, float]:
        """Per-group accuracy against the true attributes."""
        p = self.predict(frames)
        acc = {}
        for g in GROUPS:
            truth = _truth(attrs, g)
            scored = truth != NO_EXPRESSION
            acc[g] = float(np.mean(p.group(g)[scored] == truth[scored]))
        return acc


def _truth(attrs: list[Attributes], group: str) -> np.ndarray:
    hair, binary, expr = targets(attrs)
    return hair if group == "hair" else expr if group == "expression" else binary[:, BINARY.index(group)].astype(bool)


def _augment(x: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Flip, blur and resample through a lower resolution, some of the time (uint8 BGR crops at `size`)."""
    out = x.copy()
    for k in range(len(out)):
        img = out[k]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        r = rng.random()
        if r < 0.3:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2) * size / 64)
        elif r < 0.6:
            low = int(size * rng.uniform(0.4, 0.8))
            img = cv2.resize(cv2.resize(img, (low, low), interpolation=cv2.INTER_AREA), (size, size),
                             interpolation=cv2.INTER_LINEAR)
        out[k] = img
    return out


def _render_set(first: int, n: int, seed: int, size: int, progress: bool, desc: str) -> tuple[np.ndarray, list[Attributes]]:
    attrs = [training_attributes(np.random.default_rng([seed, first + i])) for i in range(n)]
    jobs = [(identity_seed("classifier", seed, first + i), a) for i, a in enumerate(attrs)]
    return render_many(jobs, CELEBA_SIZE, CROP, size, progress=progress, desc=desc), attrs


def train_classifier(config: ClassifierConfig = ClassifierConfig(), progress: bool = True) -> AttributeClassifier:
    """Render the training and validation sets and train the classifier (deterministic for a config)."""
    torch = require("torch", "the SynthFaces attribute classifier")
    from tqdm import tqdm

    c = config
    x_train, a_train = _render_set(0, c.train_images, c.seed, c.image_size, progress, "classifier data")
    x_val, a_val = _render_set(c.train_images, c.val_images, c.seed, c.image_size, progress, "classifier val data")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # a GPU only speeds it up
    hair, binary, expr = (torch.from_numpy(t).to(device) for t in targets(a_train))
    torch.manual_seed(c.seed)
    net = _build_net(c.width).to(device)
    steps = c.epochs * (len(x_train) // c.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=c.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=max(steps, 1))
    rng = np.random.default_rng(c.seed)
    h, b = len(HAIR_COLOURS), len(BINARY)
    start = time.perf_counter()
    net.train()
    with tqdm(total=steps, desc="training classifier", unit="step", disable=not progress, dynamic_ncols=True,
              leave=False) as bar:
        for _ in range(c.epochs):
            order = rng.permutation(len(x_train))
            for i in range(0, len(order) - c.batch_size + 1, c.batch_size):
                idx = order[i : i + c.batch_size]
                x = torch.from_numpy(_to_input(_augment(x_train[idx], rng, c.image_size), c.image_size)).to(device)
                out = net(x)
                ix = torch.from_numpy(idx).to(device)
                loss = (torch.nn.functional.cross_entropy(out[:, :h], hair[ix])
                        + torch.nn.functional.binary_cross_entropy_with_logits(out[:, h : h + b], binary[ix]) * b
                        + torch.nn.functional.cross_entropy(out[:, h + b :], expr[ix]))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                bar.update()
    clf = AttributeClassifier(net.cpu(), c, {})
    clf.report = {"val_accuracy": clf.accuracy(x_val, a_val), "train_seconds": round(time.perf_counter() - start, 1),
                  "config": asdict(c), "renderer_version": RENDERER_VERSION, "classifier_version": CLASSIFIER_VERSION}
    return clf


def save_classifier(clf: AttributeClassifier, path: Path) -> None:
    from safetensors.torch import save

    state = {k: v.detach().contiguous() for k, v in clf.net.state_dict().items()}
    atomic_write_bytes(path, save(state, metadata={"stargan_rt.classifier": json.dumps(clf.report)}))


def load_classifier(path: str | Path) -> AttributeClassifier:
    """A classifier saved by save_classifier (its config travels in the file's metadata)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise BadModel(f"{path}: no such classifier file")
    try:
        with safe_open(str(path), "pt") as f:
            report = json.loads((f.metadata() or {})["stargan_rt.classifier"])
        config = ClassifierConfig(**report["config"])
        net = _build_net(config.width)
        net.load_state_dict(load_file(str(path)), strict=True)
    except (SafetensorError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise BadModel(f"{path}: not a usable SynthFaces classifier ({exc}); delete it to retrain") from None
    if report.get("renderer_version") != RENDERER_VERSION:
        print(f"warning: {path} was trained on renderer v{report.get('renderer_version')}, this is v{RENDERER_VERSION}")
    return AttributeClassifier(net, config, report)


def get_classifier(config: ClassifierConfig = ClassifierConfig(), directory: Path | None = None,
                   progress: bool = True) -> AttributeClassifier:
    """The cached classifier for `config`, trained (and cached) first if there is none."""
    path = (directory or cache_dir()) / f"classifier-{config.key()}.safetensors"
    if path.is_file():
        return load_classifier(path)
    if progress:
        print(f"training the SynthFaces attribute classifier (once; cached as {path})")
    clf = train_classifier(config, progress)
    save_classifier(clf, path)
    return clf
