"""Necks: fuse backbone levels into detection-ready maps. ``build_neck(name, in_channels=..., strides=...)``."""
from ..registry import Registry

NECKS: Registry = Registry("neck")

from . import ghost_pan, pan  # noqa: E402,F401


def build_neck(name: str, **kwargs):
    """Build a registered neck; it exposes ``out_channels`` and ``out_strides``."""
    return NECKS.build(name, **kwargs)


register_neck = NECKS.register
