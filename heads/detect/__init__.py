"""Detection heads. ``build_head("yolo", in_channels=..., strides=..., num_classes=...)``."""
from . import yolo  # noqa: F401  (registers the head)
from .anchors import bbox_to_distance, decode_distances, make_anchors

__all__ = ["bbox_to_distance", "decode_distances", "make_anchors"]
