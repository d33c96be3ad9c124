"""litebone heads: necks, detection heads and depth decoders, wired by channels and strides alone."""
from . import depth, detect, necks  # noqa: F401  (registers every part)
from .registries import (
    DECODERS,
    HEADS,
    NECKS,
    build_decoder,
    build_head,
    build_neck,
    register_decoder,
    register_head,
    register_neck,
)

__all__ = ["DECODERS", "HEADS", "NECKS", "build_decoder", "build_head", "build_neck", "register_decoder", "register_head",
           "register_neck"]
