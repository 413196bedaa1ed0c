"""Tiny datasets in the real on-disk formats, drawn with OpenCV: colours and shapes encode the labels.

Background colour = hair colour (black / blond / brown), a square for Male and a circle otherwise, a big shape
for Young. Images are 40x48 (portrait, like CelebA's 178x218) so the centre crop matters.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

CELEBA_40 = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
HAIR_BGR = {"Black_Hair": (20, 20, 20), "Blond_Hair": (90, 220, 240), "Brown_Hair": (30, 70, 120)}
EXPRESSION_BGR = {"angry": (40, 40, 220), "happy": (40, 220, 40), "neutral": (200, 200, 200)}


def face(hair: str, male: bool, young: bool, h: int = 48, w: int = 40) -> np.ndarray:
    img = np.full((h, w, 3), HAIR_BGR[hair], np.uint8)
    r = 14 if young else 8
    cx, cy = w // 2, h // 2
    if male:
        cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), (180, 200, 255), -1)
    else:
        cv2.circle(img, (cx, cy), r, (180, 200, 255), -1, cv2.LINE_AA)
    return img


def write_celeba(root: Path, n: int = 24, folder: str = "images") -> Path:
    """CelebA layout: ROOT/list_attr_celeba.txt (count, 40 names, `file v1..v40` with 1/-1) + ROOT/images/."""
    rng = np.random.default_rng(0)
    (root / folder).mkdir(parents=True, exist_ok=True)
    lines = [str(n), " ".join(CELEBA_40)]
    for i in range(n):
        hair = list(HAIR_BGR)[i % 3]
        male, young = bool(rng.integers(2)), bool(rng.integers(2))
        name = f"{i + 1:06d}.jpg"
        cv2.imwrite(str(root / folder / name), face(hair, male, young))
        on = {hair, *(["Male"] if male else []), *(["Young"] if young else [])}
        lines.append(name + " " + " ".join(" 1" if a in on else "-1" for a in CELEBA_40))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def write_rafd(root: Path, per_class: int = 6) -> Path:
    """RaFD layout: one folder per expression."""
    for k, (name, colour) in enumerate(EXPRESSION_BGR.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = np.full((32, 32, 3), 128, np.uint8)
            cv2.circle(img, (16, 16), 6 + i % 4, colour, -1, cv2.LINE_AA)
            cv2.imwrite(str(root / name / f"{name}_{i}.png"), img)
    return root


def write_custom(root: Path, n: int = 16, signed: bool = False) -> Path:
    """Custom layout: ROOT/labels.csv (filename, Square, Red) + ROOT/images/; values 0/1 or -1/1."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    off = -1 if signed else 0
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "Square", "Red"])
        for i in range(n):
            square, red = i % 2, (i // 2) % 2
            img = np.full((24, 24, 3), 60, np.uint8)
            colour = (30, 30, 230) if red else (230, 120, 30)
            if square:
                cv2.rectangle(img, (6, 6), (18, 18), colour, -1)
            else:
                cv2.circle(img, (12, 12), 6, colour, -1, cv2.LINE_AA)
            cv2.imwrite(str(root / "images" / f"s{i}.png"), img)
            w.writerow([f"s{i}.png", square if square else off, red if red else off])
    return root / "labels.csv"


# Options for a model that trains in well under a second per iteration on a shared CPU core.
TINY = ["--image-size", "16", "--g-conv-dim", "4", "--d-conv-dim", "4", "--g-repeat-num", "1", "--d-repeat-num", "2",
        "--batch-size", "4", "--n-critic", "2", "--workers", "0", "--num-samples", "2", "--no-tensorboard",
        "--device", "cpu", "--celeba-test-count", "4"]
