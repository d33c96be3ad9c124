"""MobileNetV2 (inverted residuals, linear bottlenecks) at any width, built by timm's generator."""
from __future__ import annotations

from typing import Any

import torch.nn as nn
from timm.models.efficientnet import _gen_mobilenet_v2

from ._registry import register_backbone
from ._timm import timm_variant, width_tag

PAPER = "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018 (arXiv:1801.04381)"


def mobilenet_v2(width_mult: float = 1.0, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """MobileNetV2 classifier; ``width_mult`` scales every layer as timm's mobilenetv2_* variants do."""
    return _gen_mobilenet_v2(
        timm_variant(f"mobilenetv2_{width_tag(width_mult)}", pretrained), channel_multiplier=width_mult,
        pretrained=pretrained, **kwargs,
    )


for _width in (0.5, 0.75, 1.0, 1.4):
    register_backbone(
        f"mobilenetv2_{width_tag(_width)}", family="MobileNetV2", source="timm", paper=PAPER,
        defaults={"width_mult": _width},
    )(mobilenet_v2)
