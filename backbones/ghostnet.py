"""GhostNet v1 (0.5/1.0/1.3, any width) and GhostNetV2, from timm, tapped at the *last* block per stride.

timm's ``features_only`` for GhostNet reads the first block after each downsampling (80 ch at /16)
and the raw stem conv at /2; the contract needs the last block at each stride (112 ch at /16).
"""
from __future__ import annotations

from typing import Any

import timm
import torch.nn as nn
from timm.models.ghostnet import _create_ghostnet

from ._registry import register_backbone
from ._timm import timm_variant, width_tag

PAPER_V1 = "Han et al., GhostNet: More Features from Cheap Operations, CVPR 2020 (arXiv:1911.11907)"
PAPER_V2 = "Tang et al., GhostNetV2: Enhance Cheap Operation with Long-Range Attention, NeurIPS 2022 (arXiv:2211.12905)"
TAPS = "last ghost bottleneck at each stride (timm's own features_only taps the first one)"


def last_block_taps(model: nn.Module) -> list[dict]:
    """feature_info entries for the last ghost-bottleneck stage before each downsampling, and the final one."""
    taps: list[dict] = []
    reduction = 2
    last = None
    for index, stage in enumerate(model.blocks):
        stride = getattr(stage[0], "stride", 1)
        if stride > 1 and last is not None:
            taps.append(last)
            reduction *= stride
        if hasattr(stage[-1], "ghost2"):
            last = {"num_chs": stage[-1].ghost2.out_chs, "reduction": reduction, "module": f"blocks.{index}"}
    taps.append(last)
    return taps


def ghostnet(width_mult: float = 1.0, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """GhostNet v1 classifier at ``width_mult``, with corrected ``feature_info``."""
    model = _create_ghostnet(timm_variant(f"ghostnet_{width_tag(width_mult)}", pretrained), width=width_mult, pretrained=pretrained, **kwargs)
    model.feature_info = last_block_taps(model)
    return model


def ghostnet_v2(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """GhostNetV2 1.0x classifier, with corrected ``feature_info``."""
    model = timm.create_model("ghostnetv2_100", pretrained=pretrained, **kwargs)
    model.feature_info = last_block_taps(model)
    return model


for _width in (0.5, 1.0, 1.3):
    register_backbone(
        f"ghostnet_{width_tag(_width)}", family="GhostNet", source="timm", paper=PAPER_V1,
        defaults={"width_mult": _width}, wrap="list", taps=TAPS,
    )(ghostnet)
register_backbone("ghostnetv2_100", family="GhostNetV2", source="timm", paper=PAPER_V2, wrap="list", taps=TAPS)(ghostnet_v2)
