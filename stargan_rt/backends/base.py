"""The one contract every inference backend implements (in the spirit of Polygraphy's runners).

A backend is one module in this package that defines a `Runner` subclass decorated with `@register`.
`open_model` discovers the modules of this package, so adding a backend touches one file. Backend
modules must not import their heavy dependency (torch, tensorrt, pycuda, onnxruntime-gpu) at the top:
they import it in `available()` / `__init__`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from ..bundle import ModelMeta
from ..images import to_frames, to_tensor
from ._checks import check_frames, check_images, ensure_open


class Runner(abc.ABC):
    """A loaded generator on one backend.

    infer:        float32 (N, 3, S, S) RGB in [-1, 1] and float32 (N, c_dim) labels -> float32 (N, 3, S, S)
    infer_frames: uint8 (N, S, S, 3) BGR face crops and labels -> uint8 (N, S, S, 3) BGR
    Backends that can take frames directly (ONNX frames variant, GPU preprocessing) override infer_frames.
    """

    name: ClassVar[str]
    meta: ModelMeta

    @abc.abstractmethod
    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray: ...

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        return to_frames(self.infer(to_tensor(frames, self.meta.preprocess), c), self.meta.preprocess)

    def describe(self) -> str:
        """One line: backend, device, precision (shown when `--backend auto` picks)."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release device memory, sessions, streams."""

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GraphRunner(Runner):
    """A runner over an exported graph (ONNX, OpenVINO IR, TensorRT engine) whose inputs are either float images
    (`io` "float": image, label) or uint8 frames (`io` "frames": frames, label). Both calls work on either graph:
    what the graph does not take is converted on the host. A subclass runs one batch of named inputs (`_run`)."""

    io: str

    @abc.abstractmethod
    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray: ...

    @abc.abstractmethod
    def _handle(self) -> object:
        """The session, model or engine; None once closed."""

    def infer(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self._handle())
        x, c = check_images(x, c, self.meta)
        pre = self.meta.preprocess
        if self.io == "frames":
            return to_tensor(self._run({"frames": to_frames(x, pre), "label": c}), pre)
        return self._run({"image": x, "label": c}).astype(np.float32, copy=False)

    def infer_frames(self, frames: np.ndarray, c: np.ndarray) -> np.ndarray:
        ensure_open(self, self._handle())
        frames, c = check_frames(frames, c, self.meta)
        pre = self.meta.preprocess
        if self.io == "frames":
            return self._run({"frames": frames, "label": c})
        return to_frames(self._run({"image": to_tensor(frames, pre), "label": c}).astype(np.float32, copy=False), pre)


@dataclass(frozen=True)
class BackendInfo:
    name: str
    factory: Callable[..., Runner]
    accepts: Callable[[Path], bool]  # can this backend load that artifact?
    available: Callable[[], tuple[bool, str]]  # (usable here?, why not / what it would use)
    priority: int  # higher is faster; `auto` picks the highest available that accepts the artifact
    # Priority for one artifact, where speed depends on it (an INT8 ONNX on CPU); None: `priority` for all.
    rank: Callable[[Path], int] | None = None
    # Whether `auto` may time it: False for a backend whose first load is minutes of work (an engine build)
    probe: bool = True

    def priority_for(self, artifact: Path) -> int:
        return self.rank(artifact) if self.rank is not None else self.priority


REGISTRY: dict[str, BackendInfo] = {}


def register(
    name: str,
    *,
    accepts: Callable[[Path], bool],
    available: Callable[[], tuple[bool, str]],
    priority: int,
    rank: Callable[[Path], int] | None = None,
    probe: bool = True,
) -> Callable[[Callable[..., Runner]], Callable[..., Runner]]:
    def deco(factory: Callable[..., Runner]) -> Callable[..., Runner]:
        REGISTRY[name] = BackendInfo(name, factory, accepts, available, priority, rank, probe)
        return factory

    return deco
