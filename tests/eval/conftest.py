"""Shared pieces of the evaluation tests: a small attribute classifier (trained once per cache) and runners
whose scores are known: a perfect one that returns the exact ground truth, and one that returns its input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from stargan_rt.backends.base import Runner
from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, Preprocess
from stargan_rt.images import crop_resize, to_frames, to_tensor
from stargan_rt.synth import CELEBA_SIZE, HAIR_COLOURS, RAFD_SIZE, Attributes, identity_seed, render

TEST_CLASSIFIER = dict(image_size=48, train_images=2000, val_images=300, epochs=10, width=16)
CELEBA5 = DomainSet("CelebA", "multi_label", ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
                    (("Black_Hair", "Blond_Hair", "Brown_Hair"),))
RAFD8 = DomainSet("RaFD", "one_hot", ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad",
                                      "surprised"))


def celeba_meta(size: int = 32) -> ModelMeta:
    return ModelMeta(Architecture(image_size=size, c_dim=5, conv_dim=4, repeat_num=1), (CELEBA5,), Preprocess(178))


def rafd_meta(size: int = 32) -> ModelMeta:
    return ModelMeta(Architecture(image_size=size, c_dim=8, conv_dim=4, repeat_num=1), (RAFD8,), Preprocess(None))


def joint_meta(size: int = 32) -> ModelMeta:
    return ModelMeta(Architecture(image_size=size, c_dim=15, conv_dim=4, repeat_num=1), (CELEBA5, RAFD8),
                     Preprocess(178))


def eval_people(n: int = 4):
    """Held-out people in the model's three hair colours (so every domain, and the way back, is drawable)."""
    from trainer.evaluate import Person

    return [Person(identity_seed("heldout", 77, i), Attributes(hair=HAIR_COLOURS[i % 3], male=i % 2 == 1,
                                                              young=i % 3 != 2, smiling=i == 1)) for i in range(n)]


@pytest.fixture(scope="session")
def classifier(request, tmp_path_factory):
    """A small classifier (32 px), trained on first use and kept in pytest's cache between runs."""
    import torch

    from trainer.classifier import ClassifierConfig, get_classifier

    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("stargan-rt-classifier") if cache is not None else tmp_path_factory.mktemp("classifier")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small network on a shared machine: one thread is faster than two fighting
    try:
        return get_classifier(ClassifierConfig(**TEST_CLASSIFIER), directory=where, progress=False)
    finally:
        torch.set_num_threads(threads)


def decode(meta: ModelMeta, label: np.ndarray, attrs: Attributes) -> Attributes:
    """What a label vector asks of a face, written independently of trainer/evaluate.py."""
    offset = 0
    mask = sum(len(ds.domains) for ds in meta.datasets)
    for i, ds in enumerate(meta.datasets):
        part = label[offset : offset + len(ds.domains)]
        offset += len(ds.domains)
        if meta.joint and label[mask + i] < 0.5:
            continue
        if ds.kind == "one_hot":
            attrs = attrs.set(ds.domains[int(np.argmax(part))])
            continue
        for name, v in zip(ds.domains, part):
            if name in HAIR_COLOURS:
                attrs = attrs.set(name) if v > 0.5 else attrs
            else:
                attrs = attrs.set(name, bool(v > 0.5))
    return attrs


class PerfectRunner(Runner):
    """Returns render(identity, target): recognises its inputs by their pixels, as seen or produced before."""

    name = "perfect"

    def __init__(self, meta: ModelMeta, people):
        self.meta = meta
        self.seen: dict[str, tuple[int, Attributes]] = {}
        for p in people:
            self._draw(p.identity, p.attrs)

    def _draw(self, identity: int, attrs: Attributes) -> np.ndarray:
        size = CELEBA_SIZE if self.meta.preprocess.crop_size else RAFD_SIZE  # RaFD-like: whole face-centred picture
        img = crop_resize(render(identity, attrs, size), self.meta.preprocess, self.meta.architecture.image_size)
        self.seen[hashlib.sha1(img.tobytes()).hexdigest()] = (identity, attrs)
        return img

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        out = []
        for f, label in zip(frames, c):
            identity, attrs = self.seen[hashlib.sha1(np.ascontiguousarray(f).tobytes()).hexdigest()]
            out.append(self._draw(identity, decode(self.meta, label, attrs)))
        return np.stack(out)

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return to_tensor(self.infer_frames(to_frames(x), c))


class IdentityRunner(Runner):
    """Returns its input: translates nothing."""

    name = "identity"

    def __init__(self, meta: ModelMeta):
        self.meta = meta

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return x.copy()


class PerfectFramesRunner(Runner):
    """For the whole-frame evaluation: returns each case's true crop, cut from its true frame where the
    translator cuts the input (and the input crop itself for the label that asks nothing). Recognises its
    inputs by their pixels and labels."""

    name = "perfect-frames"

    def __init__(self, meta: ModelMeta, frames, translator):
        from stargan_rt.faces import extract

        from trainer.evaluate import source_label

        self.meta, self.table = meta, {}
        size = meta.architecture.image_size
        for p, person in enumerate(frames.people):
            translator.reset()
            for r in translator.regions(frames.inputs[p]):
                crop = extract(frames.inputs[p], r, size)
                entry = self.table.setdefault(hashlib.sha1(crop.tobytes()).hexdigest(), [])
                entry.append((source_label(meta, person.attrs), crop))
                entry += [(c.label, extract(frames.truths[k], r, size)) for k, c in enumerate(frames.cases)
                          if c.person == p]
        translator.reset()

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        out = []
        for f, label in zip(frames, c):
            entry = self.table[hashlib.sha1(np.ascontiguousarray(f).tobytes()).hexdigest()]
            out.append(next(img for lab, img in entry if np.allclose(lab, label)))
        return np.stack(out)

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        return to_tensor(self.infer_frames(to_frames(x), c))
