"""SynthFaces: procedural faces with exact ground truth in every domain (numpy + OpenCV only, no torch).

    from stargan_rt.synth import Attributes, render
    img = render(1234, Attributes(hair="Blond_Hair", male=True, smiling=True))   # 178x218 BGR uint8

An identity (an integer seed) fixes the person, the picture around them and its noise; the attributes
decide the domain. `render(seed, a)` and `render(seed, b)` differ only where a and b differ.
"""

from .attributes import (BINARY, CELEBA_ATTRIBUTES, EXPRESSIONS, HAIR_COLOURS, RENDERED, Attributes,
                         sample_attributes)
from .identity import Identity, identity_seed, make_identity
from .render import CELEBA_SIZE, RAFD_SIZE, RENDERER_VERSION, landmarks, render

__all__ = [
    "Attributes", "BINARY", "CELEBA_ATTRIBUTES", "EXPRESSIONS", "HAIR_COLOURS", "RENDERED", "sample_attributes",
    "Identity", "identity_seed", "make_identity", "CELEBA_SIZE", "RAFD_SIZE", "RENDERER_VERSION", "landmarks",
    "render",
]
