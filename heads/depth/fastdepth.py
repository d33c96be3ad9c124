"""FastDepth's NNConv5 decoder (Wofk et al., ICRA 2019): depthwise 5x5 + pointwise convs, nearest
upsampling by 2, and additive skips from the encoder, from the coarsest level down to stride 1.

Each decoder stage takes the channel count of the skip it meets, so skips add without projection
(as in the paper on MobileNetV1: 1024 -> 512 -> 256 -> 128 -> 64 -> 32).

The last stage meets no skip (backbones have no stride-1 level), so its output is not upsampled
here: the depth head's 1x1 convolution runs at stride 2 and upsamples its one channel to the input
size, bilinearly. The paper upsamples the 32 channels (nearest) and convolves at stride 1: 32 times
the upsampled values, which made the default depth model's forward + backward pass 10% slower on
the CPU (165 against 150 ms), with blockier output (a trained model scored delta1 0.7636 that way,
0.7642 with the bilinear head).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registries import DECODERS


def depthwise_separable_5x5(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chs, in_chs, 5, padding=2, groups=in_chs, bias=False), nn.BatchNorm2d(in_chs), nn.ReLU(inplace=True),
        nn.Conv2d(in_chs, out_chs, 1, bias=False), nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True),
    )


class NNConv5(nn.Module):
    """Decode from the coarsest level, giving ``out_channels`` channels at stride 2 (1 where a stride-1 skip is given)."""

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], last_channels: int = 32) -> None:
        super().__init__()
        self.skip_at = {s: i for i, s in enumerate(strides)}
        stride, chs = strides[-1], in_channels[-1]
        self.stages = nn.ModuleList()
        self.stage_strides = []
        while stride > 1:
            stride //= 2
            out = in_channels[self.skip_at[stride]] if stride in self.skip_at else max(last_channels, chs // 2)
            self.stages.append(depthwise_separable_5x5(chs, out))
            self.stage_strides.append(stride)
            chs = out
        self.out_channels = chs

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for index, (stage, stride) in enumerate(zip(self.stages, self.stage_strides)):
            x = stage(x)
            if stride in self.skip_at:
                skip = features[self.skip_at[stride]]
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")[..., : skip.shape[-2], : skip.shape[-1]] + skip
            elif index < len(self.stages) - 1:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return x


@DECODERS.register("fastdepth")
def fastdepth(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> NNConv5:
    return NNConv5(in_channels, strides, **kwargs)
