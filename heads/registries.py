"""The registries of heads' pluggable parts, each an instance of the one ``backbones.Registry`` class.

A part registers itself with a decorator (``@NECKS.register("pan")``); ``heads/__init__.py``
imports every part module so that importing ``heads`` registers them all.
"""
from __future__ import annotations

from typing import Any

from backbones import Registry

NECKS: Registry = Registry("neck")
HEADS: Registry = Registry("detection head")
DECODERS: Registry = Registry("depth decoder")


def build_neck(name: str, **kwargs: Any):
    """Build a registered neck; it exposes ``out_channels`` and ``out_strides``."""
    return NECKS.build(name, **kwargs)


def build_head(name: str, **kwargs: Any):
    """Build a registered detection head."""
    return HEADS.build(name, **kwargs)


def build_decoder(name: str, **kwargs: Any):
    """Build a registered depth decoder; it exposes ``out_channels``."""
    return DECODERS.build(name, **kwargs)


register_neck = NECKS.register
register_head = HEADS.register
register_decoder = DECODERS.register
