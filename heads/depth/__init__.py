"""Depth decoders and the depth head. ``build_decoder(name, in_channels=..., strides=...)``.

A decoder takes backbone levels (finest first) and returns one map with ``out_channels`` channels.
"""
from . import fastdepth, fusion, smp_decoders  # noqa: F401  (registers the decoders)
from .head import DepthHead

__all__ = ["DepthHead"]
