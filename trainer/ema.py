"""An exponential moving average of G's weights, as StarGAN v2 keeps (and samples and evaluates with).

After every G update: ema <- d * ema + (1 - d) * G with d = min(decay, (1 + n) / (10 + n)) for the n-th update,
so the average follows G closely at first (TensorFlow's ExponentialMovingAverage warm-up) and a short run still
gets a useful one. Buffers (InstanceNorm's unused running statistics) are copied. The average is what samples,
the bundle and export use; the raw G is kept beside it in the bundle (generator_raw.safetensors).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn


class Ema:
    def __init__(self, g: nn.Module, decay: float, updates: int = 0):
        self.model = copy.deepcopy(g).requires_grad_(False)
        self.decay, self.updates = decay, updates
        self._ema: list[torch.Tensor] = list(self.model.parameters())

    def weight(self) -> float:
        """The decay of the next update."""
        n = self.updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, g: nn.Module) -> None:
        d = self.weight()
        # one kernel per dtype/device group instead of one per tensor
        torch._foreach_lerp_(self._ema, [p.detach() for p in g.parameters()], 1.0 - d)
        for e, b in zip(self.model.buffers(), g.buffers()):
            e.copy_(b)
        self.updates += 1

    def state(self) -> dict[str, Any]:
        return {"G_ema": self.model.state_dict(), "ema_updates": self.updates}

    def load(self, state: Mapping[str, Any], g: nn.Module) -> None:
        """From a checkpoint; one written before the trainer kept an average starts it at the resumed G."""
        from stargan_rt.torch_model import load_state

        if "G_ema" in state:
            load_state(self.model, state["G_ema"], "the checkpoint's moving-average generator")
            self.updates = int(state.get("ema_updates", 0))
        else:
            self.model.load_state_dict(g.state_dict())
            self.updates = 0

    def describe(self) -> dict[str, Any]:
        return {"weights": "ema", "ema_decay": self.decay, "ema_updates": self.updates}
