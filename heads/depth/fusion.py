"""A MiDaS-style feature-fusion decoder (Ranftl et al., TPAMI 2022): project every level to one width,
then fuse coarse to fine with residual conv units and bilinear upsampling.

Written here: MiDaS is not packaged as a library, and smp's DPT decoder expects a ViT encoder.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registries import DECODERS


class ResidualConvUnit(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3 with a residual connection (no normalisation, as in MiDaS)."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(chs, chs, 3, padding=1)
        self.conv2 = nn.Conv2d(chs, chs, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """Add the refined skip, refine, upsample by 2."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.skip_unit = ResidualConvUnit(chs)
        self.unit = ResidualConvUnit(chs)
        self.out = nn.Conv2d(chs, chs, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False) + self.skip_unit(skip)
        x = self.unit(x)
        return self.out(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


class FusionDecoder(nn.Module):
    """Coarse-to-fine fusion over all given levels; output at half the finest level's stride."""

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], features: int = 64) -> None:
        super().__init__()
        self.project = nn.ModuleList(nn.Conv2d(c, features, 3, padding=1, bias=False) for c in in_channels)
        self.blocks = nn.ModuleList(FusionBlock(features) for _ in in_channels)
        self.out_channels = features

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        projected = [conv(f) for conv, f in zip(self.project, features)]
        x = self.blocks[-1](projected[-1])
        for i in range(len(projected) - 2, -1, -1):
            x = self.blocks[i](x, projected[i])
        return x


@DECODERS.register("fusion")
def fusion(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> FusionDecoder:
    return FusionDecoder(in_channels, strides, **kwargs)
