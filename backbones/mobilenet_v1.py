"""MobileNetV1 (depthwise-separable convolutions) at any width, built by timm's MobileNetV1 generator."""
from __future__ import annotations

from typing import Any

import torch.nn as nn
from timm.models.efficientnet import _gen_mobilenet_v1

from ._registry import register_backbone
from ._timm import timm_variant, width_tag

PAPER = "Howard et al., MobileNets: Efficient CNNs for Mobile Vision Applications, 2017 (arXiv:1704.04861)"


def mobilenet_v1(width_mult: float = 1.0, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MobileNetV1 classifier; ``width_mult`` scales every layer, the stem included."""
    return _gen_mobilenet_v1(
        timm_variant(f"mobilenetv1_{width_tag(width_mult)}", pretrained), channel_multiplier=width_mult, pretrained=pretrained, **kwargs)


for _width in (0.25, 0.5, 0.75, 1.0):
    register_backbone(
        f"mobilenetv1_{width_tag(_width)}", family="MobileNetV1", source="timm", paper=PAPER,
        defaults={"width_mult": _width},
    )(mobilenet_v1)
