"""stargan-rt: train, export and run StarGAN face attribute translation in real time.

Importing this package loads numpy-level code only; torch, TensorRT and pycuda are imported lazily
by the pieces that need them.
"""

from .bundle import Architecture, DomainSet, ModelMeta, Preprocess, load_bundle, load_meta, save_bundle
from .errors import BadInput, BadModel, MissingDependency, StarGanError
from .labels import LabelSpace, Target, parse_targets

__version__ = "0.1.0"

__all__ = [
    "Architecture", "DomainSet", "ModelMeta", "Preprocess", "load_bundle", "load_meta", "save_bundle",
    "BadInput", "BadModel", "MissingDependency", "StarGanError", "LabelSpace", "Target", "parse_targets",
]
