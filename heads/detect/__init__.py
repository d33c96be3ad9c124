"""Detection heads. ``build_head("yolo", in_channels=..., strides=..., num_classes=...)``."""
from ..registry import Registry

HEADS: Registry = Registry("detection head")

from . import yolo  # noqa: E402,F401
from .anchors import bbox_to_distance, decode_distances, make_anchors  # noqa: E402


def build_head(name: str, **kwargs):
    """Build a registered detection head."""
    return HEADS.build(name, **kwargs)


register_head = HEADS.register

__all__ = ["HEADS", "bbox_to_distance", "build_head", "decode_distances", "make_anchors", "register_head"]
