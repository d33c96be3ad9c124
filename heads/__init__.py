"""litebone heads: necks, detection heads and depth decoders, wired by channels and strides alone."""
from .detect import build_head, register_head
from .necks import build_neck, register_neck
from .registry import Registry

__all__ = ["Registry", "build_head", "build_neck", "register_head", "register_neck"]
