"""A lightweight PAN in the spirit of NanoDet-Plus's GhostPAN: uniform width, ghost bottlenecks, depthwise 5x5.

Every level is projected to ``channels`` by a 1x1 conv; fusion blocks are timm's GhostBottleneck
(ghost modules with a depthwise 5x5); downsampling is a depthwise-separable 5x5 stride-2 conv.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from timm.models.ghostnet import GhostBottleneck

from ..layers import ConvBnAct, DepthwiseSeparable
from ..registries import NECKS
from .pan_path import top_down_bottom_up


class GhostFusion(nn.Sequential):
    """Concatenated maps -> 1x1 reduce -> ``blocks`` ghost bottlenecks (5x5 depthwise)."""

    def __init__(self, in_chs: int, out_chs: int, blocks: int = 1, expand: float = 1.0) -> None:
        layers: list[nn.Module] = [ConvBnAct(in_chs, out_chs, 1)]
        layers += [GhostBottleneck(out_chs, int(out_chs * expand), out_chs, dw_kernel_size=5) for _ in range(blocks)]
        super().__init__(*layers)


class GhostPAN(nn.Module):
    """Uniform-width top-down + bottom-up fusion with ghost blocks; optional extra coarser level."""

    def __init__(
        self,
        in_channels: Sequence[int],
        strides: Sequence[int],
        channels: int = 96,
        blocks: int = 1,
        extra_level: bool = False,
    ) -> None:
        super().__init__()
        levels = len(in_channels)
        if len(strides) != levels or levels < 2:
            raise ValueError(f"GhostPAN needs >= 2 levels with matching strides, got channels {in_channels} strides {strides}")
        self.reduce = nn.ModuleList(ConvBnAct(c, channels, 1) for c in in_channels)
        self.top_down = nn.ModuleList(GhostFusion(2 * channels, channels, blocks) for _ in range(levels - 1))
        self.downsample = nn.ModuleList(DepthwiseSeparable(channels, channels, 5, 2) for _ in range(levels - 1))
        self.bottom_up = nn.ModuleList(GhostFusion(2 * channels, channels, blocks) for _ in range(levels - 1))
        self.extra_in = DepthwiseSeparable(channels, channels, 5, 2) if extra_level else None
        self.extra_out = DepthwiseSeparable(channels, channels, 5, 2) if extra_level else None
        self.out_channels = [channels] * (levels + int(extra_level))
        self.out_strides = list(strides) + ([strides[-1] * 2] if extra_level else [])

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        reduced = [conv(f) for conv, f in zip(self.reduce, features)]
        outputs = top_down_bottom_up(reduced, self.top_down, self.downsample, self.bottom_up)
        if self.extra_in is not None:
            outputs.append(self.extra_in(reduced[-1]) + self.extra_out(outputs[-1]))
        return outputs


@NECKS.register("ghostpan")
def ghost_pan(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> GhostPAN:
    return GhostPAN(in_channels, strides, **kwargs)
