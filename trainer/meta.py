"""The ModelMeta a trained or imported generator is bundled with, and the provenance it records."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

from stargan_rt.bundle import Architecture, DomainSet, ModelMeta, Preprocess
from stargan_rt.errors import BadInput, BadModel
from stargan_rt.labels import exclusive_groups

RAFD_EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")


def celeba_domains(attrs: Sequence[str]) -> DomainSet:
    return DomainSet("CelebA", "multi_label", tuple(attrs), exclusive_groups(attrs))


def rafd_domains(classes: Sequence[str] = RAFD_EXPRESSIONS) -> DomainSet:
    return DomainSet("RaFD", "one_hot", tuple(classes))


def label_dim(domain_sets: Sequence[DomainSet]) -> int:
    """G's label channels: every dataset's domains, plus the one-hot mask when there are several datasets."""
    n = sum(len(d.domains) for d in domain_sets)
    return n + (len(domain_sets) if len(domain_sets) > 1 else 0)


def build_meta(domain_sets: Sequence[DomainSet], image_size: int, conv_dim: int, repeat_num: int,
               preprocess: Preprocess, provenance: Mapping[str, Any], upsample: str = "transpose") -> ModelMeta:
    arch = Architecture(image_size=image_size, c_dim=label_dim(domain_sets), conv_dim=conv_dim, repeat_num=repeat_num,
                        upsample=upsample)
    try:
        return ModelMeta(arch, tuple(domain_sets), preprocess, dict(provenance))
    except BadModel as exc:  # e.g. the same attribute name in two joint datasets
        raise BadInput(str(exc)) from None


def git_commit(where: str | Path | None = None) -> str | None:
    """The commit of the code doing the training, '+dirty' when it has local changes; None outside git."""
    where = Path(where or Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        # --no-optional-locks: a status for provenance never writes .git/index.lock (left behind on a full disk)
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
