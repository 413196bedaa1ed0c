"""What a SynthFaces image shows besides the person: the CelebA-like attributes and the RaFD-like expression.

An `Attributes` value plus an identity seed determine an image exactly. Domain names are the CelebA column
names (`Black_Hair`, `Male`, ...) and the RaFD folder names (`happy`, ...), so a model trained on the written
datasets has domains this module can read back (`get`) and apply (`set`) for ground-truth rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import BadInput

# The 40 columns of list_attr_celeba.txt, in the official order.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
BINARY = ("Male", "Young", "Pale_Skin", "Eyeglasses", "Smiling")
# RaFD's eight expressions; alphabetical, which is also the class order of an ImageFolder over them.
EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")
# Every domain name the renderer can draw on demand.
RENDERED = HAIR_COLOURS + BINARY + EXPRESSIONS

# Marginals for sampled datasets: every image has one hair colour; the rest independent, near CelebA's
# frequencies but less skewed so that every domain has enough examples to learn from.
HAIR_P = {"Black_Hair": 0.32, "Blond_Hair": 0.25, "Brown_Hair": 0.33, "Gray_Hair": 0.10}
BINARY_P = {"Male": 0.45, "Young": 0.70, "Pale_Skin": 0.15, "Eyeglasses": 0.15, "Smiling": 0.48}


@dataclass(frozen=True)
class Attributes:
    """The controllable content of one image. `smiling` applies to the neutral expression only: any other
    expression sets the mouth itself (and "happy" smiles)."""

    hair: str = "Black_Hair"
    male: bool = False
    young: bool = True
    pale_skin: bool = False
    eyeglasses: bool = False
    smiling: bool = False
    expression: str = "neutral"

    def __post_init__(self) -> None:
        if self.hair not in HAIR_COLOURS:
            raise BadInput(f"unknown hair colour {self.hair!r}; use one of {', '.join(HAIR_COLOURS)}")
        if self.expression not in EXPRESSIONS:
            raise BadInput(f"unknown expression {self.expression!r}; use one of {', '.join(EXPRESSIONS)}")

    @property
    def mouth_smiles(self) -> bool:
        return self.smiling if self.expression == "neutral" else self.expression == "happy"

    def get(self, name: str) -> bool:
        """Whether the image shows domain `name` (a CelebA attribute or an expression)."""
        if name in HAIR_COLOURS:
            return self.hair == name
        if name in EXPRESSIONS:
            return self.expression == name
        if name == "Smiling":
            return self.mouth_smiles
        if name in BINARY:
            return bool(getattr(self, _field(name)))
        raise BadInput(f"SynthFaces does not render {name!r}; it renders {', '.join(RENDERED)}")

    def set(self, name: str, on: bool = True) -> "Attributes":
        """These attributes with domain `name` set (or cleared). Setting a hair colour or an expression
        replaces the current one; a hair colour or expression cannot be cleared without naming another."""
        if name in HAIR_COLOURS or name in EXPRESSIONS:
            if not on:
                if self.get(name):
                    raise BadInput(f"{name} cannot be cleared on its own: set another hair colour or expression")
                return self
            if name in HAIR_COLOURS:
                return replace(self, hair=name)
            return replace(self, expression=name, smiling=name == "happy")
        if name == "Smiling" and self.expression != "neutral":
            return replace(self, expression="neutral", smiling=on)
        if name not in BINARY:
            raise BadInput(f"SynthFaces does not render {name!r}; it renders {', '.join(RENDERED)}")
        change: dict[str, Any] = {_field(name): bool(on)}
        return replace(self, **change)

    def names(self) -> list[str]:
        """The domains this image shows (hair colour, set binary attributes, expression)."""
        return [n for n in RENDERED if self.get(n)]

    def celeba_row(self, *, bangs: bool = False, wavy: bool = False) -> list[int]:
        """The 40 CelebA values (1/-1). Columns the renderer does not control are -1, except those that follow
        from what is drawn: Bangs and Wavy/Straight_Hair (the hairstyle), 5_o_Clock_Shadow (men's stubble),
        No_Beard (no full beard is ever drawn), Bags_Under_Eyes (age), Mouth_Slightly_Open (a smile shows teeth)."""
        derived = {
            "Bangs": bangs,
            "Wavy_Hair": wavy,
            "Straight_Hair": not wavy,
            "5_o_Clock_Shadow": self.male,
            "No_Beard": True,
            "Bags_Under_Eyes": not self.young,
            "Mouth_Slightly_Open": self.mouth_smiles or self.expression in ("surprised", "fearful", "disgusted"),
        }
        return [
            1 if (self.get(a) if a in HAIR_COLOURS or a in BINARY else derived.get(a, False)) else -1
            for a in CELEBA_ATTRIBUTES
        ]


def _field(name: str) -> str:
    return name.lower()


def sample_attributes(rng: np.random.Generator, kind: str = "celeba") -> Attributes:
    """Random attributes with the dataset's marginals. "celeba": neutral expression, independent binary
    attributes; "rafd": a uniformly drawn expression (RaFD is balanced), no glasses, smile only when happy."""
    hair = str(rng.choice(HAIR_COLOURS, p=[HAIR_P[h] for h in HAIR_COLOURS]))
    b = {name: bool(rng.random() < p) for name, p in BINARY_P.items()}
    if kind == "celeba":
        return Attributes(hair=hair, male=b["Male"], young=b["Young"], pale_skin=b["Pale_Skin"],
                          eyeglasses=b["Eyeglasses"], smiling=b["Smiling"])
    if kind == "rafd":
        expr = str(rng.choice(EXPRESSIONS))
        return Attributes(hair=hair, male=b["Male"], young=b["Young"], pale_skin=b["Pale_Skin"],
                          eyeglasses=False, smiling=expr == "happy", expression=expr)
    raise BadInput(f"unknown dataset kind {kind!r}: use celeba or rafd")
