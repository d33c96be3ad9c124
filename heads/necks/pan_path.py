"""The top-down then bottom-up fusion path (PANet) that both necks share."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..layers import resize_to


def top_down_bottom_up(
    laterals: list[torch.Tensor], top_down: Sequence[nn.Module], downsample: Sequence[nn.Module], bottom_up: Sequence[nn.Module]
) -> list[torch.Tensor]:
    """The PAN path both necks share: coarse-to-fine fusion (upsample, concat), then fine-to-coarse."""
    fused = [laterals[-1]]
    for i in range(len(laterals) - 2, -1, -1):
        up = resize_to(fused[0], laterals[i])
        fused.insert(0, top_down[i](torch.cat([up, laterals[i]], 1)))
    outputs = [fused[0]]
    for i in range(len(fused) - 1):
        down = resize_to(downsample[i](outputs[-1]), fused[i + 1])
        outputs.append(bottom_up[i](torch.cat([down, fused[i + 1]], 1)))
    return outputs
