"""Necks: fuse backbone levels into detection-ready maps. ``build_neck(name, in_channels=..., strides=...)``."""
from . import ghost_pan, pan  # noqa: F401  (registers the necks)
