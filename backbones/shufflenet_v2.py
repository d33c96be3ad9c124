"""ShuffleNetV2 0.5x-2.0x: torchvision's network and weights, tapped per stride.

Level 4 is ``conv5`` (1024 ch at 1.0x), the last layer at stride 32; pass ``conv5=False`` to tap
``stage4`` (464 ch) instead, as NanoDet does.
"""
from __future__ import annotations

from typing import Any

import torch.nn as nn
import torchvision

from ._input import torchvision_input_spec
from ._registry import register_backbone
from ._weights import with_in_chans

PAPER = "Ma et al., ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design, ECCV 2018 (arXiv:1807.11164)"
WIDTHS = (0.5, 1.0, 1.5, 2.0)


def _tag(width_mult: float) -> str:
    return str(width_mult).replace(".", "_")


def shufflenet_v2(
    width_mult: float = 1.0, pretrained: bool = False, in_chans: int = 3, conv5: bool = True, **kwargs: Any
) -> nn.Module:
    """torchvision ShuffleNetV2 classifier with ``feature_info`` for the five strides."""
    if width_mult not in WIDTHS:
        raise ValueError(f"ShuffleNetV2 width_mult must be one of {WIDTHS} (torchvision's variants), got {width_mult}")
    builder = getattr(torchvision.models, f"shufflenet_v2_x{_tag(width_mult)}")
    model = builder(weights="DEFAULT" if pretrained else None, **kwargs)
    model.conv1[0] = with_in_chans(model.conv1[0], in_chans)
    stem, s2, s3, s4, last = model._stage_out_channels
    model.feature_info = [
        {"num_chs": stem, "reduction": 2, "module": "conv1"},
        {"num_chs": stem, "reduction": 4, "module": "maxpool"},
        {"num_chs": s2, "reduction": 8, "module": "stage2"},
        {"num_chs": s3, "reduction": 16, "module": "stage3"},
        {"num_chs": s4, "reduction": 32, "module": "stage4"},
    ]
    if conv5:
        model.feature_info.append({"num_chs": last, "reduction": 32, "module": "conv5"})
    return model


for _width in WIDTHS:
    register_backbone(
        f"shufflenet_v2_x{_tag(_width)}", family="ShuffleNetV2", source="torchvision", paper=PAPER,
        defaults={"width_mult": _width}, wrap="list", flatten_sequential=False,
        taps="conv1 (/2), maxpool (/4), stage2, stage3, then conv5 at /32 (conv5=False taps stage4)",
        input_spec=torchvision_input_spec(f"ShuffleNet_V2_X{_tag(_width).upper()}_Weights"),
    )(shufflenet_v2)
