"""Real images of the model's domain, with plausible target labels: for INT8 calibration and quality checks.

Random noise is not what the model sees; calibrating on it sets activation ranges for the wrong inputs.
Images come from a folder (--calib DIR) or, when no folder is given, from SynthFaces renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stargan_rt.bundle import ModelMeta
from stargan_rt.errors import BadInput
from stargan_rt.images import crop_resize, read_image, to_tensor
from stargan_rt.labels import LabelSpace

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Samples:
    """Model inputs: float (N, 3, S, S) images in [-1, 1] and (N, c_dim) labels, plus where they came from."""

    x: np.ndarray
    c: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.x)

    def split(self, every: int = 4) -> tuple["Samples", "Samples"]:
        """(calibration, evaluation): every `every`-th sample held out, so quality is measured on unseen images."""
        if len(self) < 2:
            return self, self
        held = np.zeros(len(self), bool)
        held[every - 1 :: every] = True
        if not held.any():
            held[-1] = True
        return (Samples(self.x[~held], self.c[~held], f"{(~held).sum()} of {self.source}"),
                Samples(self.x[held], self.c[held], f"{held.sum()} held-out of {self.source}"))


def target_labels(meta: ModelMeta, n: int) -> np.ndarray:
    """n label vectors cycling through the official test targets (one column of the paper's grid each)."""
    columns = [label for _, label in LabelSpace(meta).grid()]
    return np.stack([columns[i % len(columns)] for i in range(n)]).astype(np.float32)


def folder_samples(meta: ModelMeta, folder: str | Path, limit: int) -> Samples:
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder of calibration images")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:limit]
    if not files:
        raise BadInput(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) to calibrate on")
    s = meta.architecture.image_size
    frames = np.stack([crop_resize(read_image(f), meta.preprocess, s) for f in files])
    return Samples(to_tensor(frames, meta.preprocess), target_labels(meta, len(files)), f"{len(files)} images from {folder}")


def synth_samples(meta: ModelMeta, count: int, seed: int = 0) -> Samples:
    """SynthFaces renders (the project's procedural faces) of held-out identities, in the model's dataset style."""
    try:
        from stargan_rt.synth import CELEBA_SIZE, RAFD_SIZE, identity_seed, render, sample_attributes
    except ImportError:
        raise BadInput(
            "INT8 calibration needs real face images: pass --calib DIR (a folder of face images), or --no-int8"
        ) from None
    s = meta.architecture.image_size
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        kind = "rafd" if meta.datasets[i % len(meta.datasets)].kind == "one_hot" else "celeba"
        picture = render(identity_seed("heldout", seed, i), sample_attributes(rng, kind), RAFD_SIZE if kind == "rafd" else CELEBA_SIZE)
        frames.append(crop_resize(picture, meta.preprocess, s))
    return Samples(to_tensor(np.stack(frames), meta.preprocess), target_labels(meta, count), f"{count} SynthFaces renders")


def real_samples(meta: ModelMeta, folder: str | Path | None, count: int) -> Samples:
    return folder_samples(meta, folder, count) if folder is not None else synth_samples(meta, count)


def scikit_image_faces(n: int, size: int) -> np.ndarray:
    """n real face photos (uint8 BGR, size x size) that ship with scikit-image, for tests and measurements.

    The astronaut portrait's face, then faces of its LFW subset (25x25 greyscale, upsampled: blurry but real).
    """
    import cv2
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut()[20:260, 90:330], cv2.COLOR_RGB2BGR)
    faces = [cv2.resize(astronaut, (size, size), interpolation=cv2.INTER_AREA)]
    for face in data.lfw_subset()[: max(0, n - 1)]:
        grey = (face * 255).round().astype(np.uint8)
        faces.append(cv2.cvtColor(cv2.resize(grey, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR))
    return np.stack(faces[:n])
