"""Target labels by name: parse what the user asks for and build the generator's label vector.

Label semantics follow the paper and the official test code:
- labels are 0/1 floats; multi-label attributes (CelebA) are independent, except exclusive groups such as
  hair colours, of which setting one clears the others;
- one-hot datasets (RaFD expressions) have exactly one class set;
- jointly trained models take [dataset 1 labels | dataset 2 labels | mask], where the mask is the one-hot
  index of the dataset whose labels are given and the other dataset's slice is zero.

Target syntax (`parse_targets`): "Blond_Hair" or "+Blond_Hair" sets an attribute, "-Young" clears it,
"Blond_Hair=0.6" moves 60% of the way from the source label towards the target (a strength).

Source labels (what the face is now) matter for attributes that are not asked to change: they are kept.
When the user gives none, every attribute of a multi-label dataset is taken as 0 and a one-hot dataset is
taken to show its "neutral" class (or its first class when it has none).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from .bundle import DomainSet, ModelMeta
from .errors import BadInput

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")

_TOKEN = re.compile(r"^\s*([+-]?)\s*([A-Za-z0-9_]+)\s*(?:=\s*([0-9]*\.?[0-9]+)\s*)?$")


@dataclass(frozen=True)
class Target:
    """One requested change: set (`on`) or clear an attribute, with a strength in [0, 1]."""

    name: str
    on: bool = True
    strength: float = 1.0

    def __str__(self) -> str:
        s = ("" if self.on else "-") + self.name
        return s if self.strength == 1.0 else f"{s}={self.strength:g}"


def parse_targets(spec: str | Sequence[str]) -> list[Target]:
    """Parse "Blond_Hair,+Male,-Young=0.5" (or a list of such tokens) into Targets."""
    tokens = spec.split(",") if isinstance(spec, str) else [t for s in spec for t in s.split(",")]
    targets = []
    for tok in tokens:
        if not tok.strip():
            continue
        m = _TOKEN.match(tok)
        if not m:
            raise BadInput(f"cannot parse target {tok.strip()!r}: use NAME, +NAME, -NAME or NAME=STRENGTH")
        sign, name, strength = m.groups()
        s = 1.0 if strength is None else float(strength)
        if not 0.0 <= s <= 1.0:
            raise BadInput(f"target {tok.strip()!r}: strength must be between 0 and 1")
        targets.append(Target(name=name, on=sign != "-", strength=s))
    if not targets:
        raise BadInput("no target attributes given")
    return targets


class LabelSpace:
    """The label vector layout of one model, and the operations on it."""

    def __init__(self, meta: ModelMeta):
        self.meta = meta
        self.c_dim = meta.label_dim
        self._where: dict[str, tuple[int, int]] = {}  # domain -> (dataset index, channel)
        self._offsets: list[int] = []
        offset = 0
        for i, ds in enumerate(meta.datasets):
            self._offsets.append(offset)
            for j, name in enumerate(ds.domains):
                self._where[name] = (i, offset + j)
            offset += len(ds.domains)
        self._mask_offset = offset

    @property
    def names(self) -> tuple[str, ...]:
        return self.meta.domain_names

    def dataset_of(self, name: str) -> DomainSet:
        return self.meta.datasets[self._locate(name)[0]]

    def _locate(self, name: str) -> tuple[int, int]:
        try:
            return self._where[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"unknown attribute {name!r}{hint}; this model knows: {', '.join(self.names)}") from None

    def source(self, dataset: int, attrs: Mapping[str, float] | Iterable[str] | None = None) -> np.ndarray:
        """The source labels of one dataset's slice: given attributes set, defaults elsewhere.

        Names (what a user says a face has) must not contradict each other. A mapping of label values is a
        dataset's annotation and is taken as annotated: CelebA labels some faces with two hair colours, and the
        model was trained on those labels."""
        ds = self.meta.datasets[dataset]
        vec = np.zeros(len(ds.domains), np.float32)
        annotated = isinstance(attrs, Mapping)
        given = dict(attrs) if annotated else {a: 1.0 for a in (attrs or ())}
        for name, value in given.items():
            i, ch = self._locate(name)
            if i == dataset:
                vec[ch - self._offsets[i]] = float(value)
        for group in [ds.domains] if ds.kind == "one_hot" else ds.exclusive:
            on = [name for name in group if vec[ds.domains.index(name)] > 0]
            if len(on) > 1 and not annotated:
                raise BadInput(f"source attributes {' and '.join(on)} exclude each other (a face has one of "
                               f"{', '.join(group)}): give the one it has")
        if ds.kind == "one_hot" and not vec.any():
            vec[ds.domains.index("neutral") if "neutral" in ds.domains else 0] = 1.0
        return vec

    def unchanged(self, target: np.ndarray, source: Mapping[str, float] | Iterable[str] | None = None) -> np.ndarray:
        """The label that asks nothing of a face with `source` attributes, in the dataset `target` addresses (for
        a joint model the one its mask selects): what the face is, as `encode` sees it before any target."""
        dataset = int(np.argmax(target[self._mask_offset :])) if self.meta.joint else 0
        return self._assemble(dataset, self.source(dataset, source))

    def _assemble(self, dataset: int, labels: np.ndarray) -> np.ndarray:
        out = np.zeros(self.c_dim, np.float32)
        start = self._offsets[dataset]
        out[start : start + len(labels)] = labels
        if self.meta.joint:
            out[self._mask_offset + dataset] = 1.0
        return out

    def encode(
        self, targets: Sequence[Target] | str, source: Mapping[str, float] | Iterable[str] | None = None
    ) -> np.ndarray:
        """The label vector (c_dim,) that applies `targets` to a face with `source` attributes."""
        if isinstance(targets, str):
            targets = parse_targets(targets)
        if not targets:
            raise BadInput("no target attributes given")
        datasets = {self._locate(t.name)[0] for t in targets}
        if len(datasets) > 1:
            names = ", ".join(f"{t.name} ({self.dataset_of(t.name).name})" for t in targets)
            raise BadInput(
                f"targets come from different datasets ({names}); a jointly trained model applies one "
                "dataset's labels per pass: translate twice"
            )
        (dataset,) = datasets
        ds = self.meta.datasets[dataset]
        _refuse_conflicts(targets, ds)
        labels = self.source(dataset, source)
        for t in targets:
            ch = self._locate(t.name)[1] - self._offsets[dataset]
            desired = labels.copy()
            if ds.kind == "one_hot":
                if not t.on:
                    raise BadInput(f"{t.name} is one of {ds.name}'s exclusive classes: it can be set, not cleared")
                desired[:] = 0.0
                desired[ch] = 1.0
            else:
                desired[ch] = 1.0 if t.on else 0.0
                if t.on:
                    for group in ds.exclusive:
                        if t.name in group:
                            for other in group:
                                if other != t.name:
                                    desired[ds.domains.index(other)] = 0.0
            labels = labels + t.strength * (desired - labels)
        return self._assemble(dataset, labels)

    def grid(self, source: Mapping[str, float] | Iterable[str] | None = None) -> list[tuple[str, np.ndarray]]:
        """One (title, label) per domain, as the official test's create_labels: the paper's Figure 2 columns.

        A multi-label attribute in an exclusive group is set (the rest of its group cleared); any other
        multi-label attribute is flipped relative to the source; each one-hot class is set.
        """
        columns = []
        for i, ds in enumerate(self.meta.datasets):
            src = self.source(i, source)
            for j, name in enumerate(ds.domains):
                if ds.kind == "one_hot" or any(name in g for g in ds.exclusive):
                    t = Target(name)
                else:
                    t = Target(name, on=src[j] < 0.5)
                title = name if t.on else f"-{name}"
                columns.append((title, self.encode([t], source)))
        return columns


def _refuse_conflicts(targets: Sequence[Target], ds: DomainSet) -> None:
    """BadInput for targets that contradict each other: one attribute named twice (+Male,-Male), or two that a face
    cannot have at once (two hair colours, two expressions)."""
    seen: dict[str, Target] = {}
    for t in targets:
        if t.name in seen:
            raise BadInput(f"{t.name} is asked for twice ({seen[t.name]} and {t}): give each attribute once")
        seen[t.name] = t
    groups = [ds.domains] if ds.kind == "one_hot" else list(ds.exclusive)
    for group in groups:
        on = [str(t) for t in targets if t.on and t.strength > 0 and t.name in group]
        if len(on) > 1:
            raise BadInput(f"{' and '.join(on)} exclude each other (a face has one of {', '.join(group)}): ask for one")


def exclusive_groups(attrs: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """CelebA's exclusive groups among the selected attributes: the hair colours, when two or more are chosen."""
    hair = tuple(a for a in attrs if a in HAIR_COLOURS)
    return (hair,) if len(hair) > 1 else ()
