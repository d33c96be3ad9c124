"""YOLOv8-style PAN-FPN with C2f blocks, width and depth multipliers, and an optional extra level.

Each backbone level is first projected to its neck width (the top one through SPPF), so any
backbone's channels work. Widths follow YOLOv8: 256/512/1024 at strides 8/16/32 times ``width``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..layers import C2f, SPPF, ConvBnAct, make_divisible
from ..registries import NECKS
from .pan_path import top_down_bottom_up

BASE_WIDTH = {4: 128, 8: 256, 16: 512, 32: 1024, 64: 1024, 128: 1024}


class PAN(nn.Module):
    """Top-down then bottom-up fusion; returns one map per input level (plus one if ``extra_level``)."""

    def __init__(
        self,
        in_channels: Sequence[int],
        strides: Sequence[int],
        width: float = 0.25,
        depth: float = 0.33,
        extra_level: bool = False,
    ) -> None:
        super().__init__()
        if len(in_channels) != len(strides) or len(in_channels) < 2:
            raise ValueError(f"PAN needs >= 2 levels with matching strides, got channels {in_channels} strides {strides}")
        widths = [make_divisible(BASE_WIDTH.get(s, 1024) * width) for s in strides]
        blocks = max(round(3 * depth), 1)
        top = len(in_channels) - 1
        self.lateral = nn.ModuleList(
            SPPF(c, w) if i == top else ConvBnAct(c, w, 1) for i, (c, w) in enumerate(zip(in_channels, widths))
        )
        self.top_down = nn.ModuleList(C2f(widths[i + 1] + widths[i], widths[i], blocks) for i in range(top))
        self.downsample = nn.ModuleList(ConvBnAct(widths[i], widths[i], 3, 2) for i in range(top))
        self.bottom_up = nn.ModuleList(C2f(widths[i] + widths[i + 1], widths[i + 1], blocks) for i in range(top))
        self.extra = ConvBnAct(widths[-1], widths[-1], 3, 2) if extra_level else None
        self.out_channels = widths + ([widths[-1]] if extra_level else [])
        self.out_strides = list(strides) + ([strides[-1] * 2] if extra_level else [])

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        laterals = [conv(f) for conv, f in zip(self.lateral, features)]
        outputs = top_down_bottom_up(laterals, self.top_down, self.downsample, self.bottom_up)
        if self.extra is not None:
            outputs.append(self.extra(outputs[-1]))
        return outputs


@NECKS.register("pan")
def pan(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> PAN:
    return PAN(in_channels, strides, **kwargs)
