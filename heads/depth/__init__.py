"""Depth decoders and the depth head. ``build_decoder(name, in_channels=..., strides=...)``.

A decoder takes backbone levels (finest first) and returns one map with ``out_channels`` channels
at stride ``out_stride``.
"""
from ..registry import Registry

DECODERS: Registry = Registry("depth decoder")

from . import fastdepth, fusion, smp_decoders  # noqa: E402,F401
from .head import DepthHead  # noqa: E402


def build_decoder(name: str, **kwargs):
    """Build a registered depth decoder."""
    return DECODERS.build(name, **kwargs)


register_decoder = DECODERS.register

__all__ = ["DECODERS", "DepthHead", "build_decoder", "register_decoder"]
