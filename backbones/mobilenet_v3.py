"""MobileNetV3 Large and Small (SE, h-swish) at any width, built by timm's generator."""
from __future__ import annotations

from typing import Any

import torch.nn as nn
from timm.models.mobilenetv3 import _gen_mobilenet_v3

from ._registry import register_backbone
from ._timm import timm_variant, width_tag

PAPER = "Howard et al., Searching for MobileNetV3, ICCV 2019 (arXiv:1905.02244)"


def mobilenet_v3(size: str = "large", width_mult: float = 1.0, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MobileNetV3 classifier; ``size`` is 'large' or 'small'."""
    if size not in ("large", "small"):
        raise ValueError(f"MobileNetV3 size must be 'large' or 'small', got {size!r}")
    variant = timm_variant(f"mobilenetv3_{size}_{width_tag(width_mult)}", pretrained)
    return _gen_mobilenet_v3(variant, channel_multiplier=width_mult, pretrained=pretrained, **kwargs)


for _size in ("large", "small"):
    for _width in (0.75, 1.0):
        register_backbone(
            f"mobilenetv3_{_size}_{width_tag(_width)}", family="MobileNetV3", source="timm", paper=PAPER,
            defaults={"size": _size, "width_mult": _width},
            taps="last block at each stride; stride 32 is the 1x1 expansion conv (960 / 576 ch) before pooling",
        )(mobilenet_v3)
