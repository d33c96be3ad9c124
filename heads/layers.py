"""Conv blocks the necks and heads share: conv-BN-act, YOLOv8's C2f and SPPF, depthwise-separable conv."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F



class ConvBnAct(nn.Sequential):
    """Conv2d (same padding, no bias) + BatchNorm + SiLU (or ``act=False`` for none)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs),
            nn.SiLU(inplace=True) if act else nn.Identity(),
        )


class DepthwiseSeparable(nn.Sequential):
    """Depthwise ``kernel`` conv then pointwise conv, each with BN and SiLU."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(ConvBnAct(in_chs, in_chs, kernel, stride, groups=in_chs), ConvBnAct(in_chs, out_chs, 1))


class Bottleneck(nn.Module):
    """Two 3x3 convs with an optional residual."""

    def __init__(self, chs: int, shortcut: bool = True) -> None:
        super().__init__()
        self.conv1 = ConvBnAct(chs, chs, 3)
        self.conv2 = ConvBnAct(chs, chs, 3)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return x + y if self.shortcut else y


class C2f(nn.Module):
    """YOLOv8's CSP block: split, ``depth`` bottlenecks whose outputs are all concatenated, fuse."""

    def __init__(self, in_chs: int, out_chs: int, depth: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.hidden = out_chs // 2
        self.expand = ConvBnAct(in_chs, 2 * self.hidden, 1)
        self.blocks = nn.ModuleList(Bottleneck(self.hidden, shortcut) for _ in range(depth))
        self.project = ConvBnAct((2 + depth) * self.hidden, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.expand(x).chunk(2, 1))
        for block in self.blocks:
            parts.append(block(parts[-1]))
        return self.project(torch.cat(parts, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max-pools concatenated."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        hidden = in_chs // 2
        self.reduce = ConvBnAct(in_chs, hidden, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.project = ConvBnAct(hidden * 4, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        p1 = self.pool(x)
        p2 = self.pool(p1)
        return self.project(torch.cat([x, p1, p2, self.pool(p2)], 1))


def resize_to(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Nearest-resize ``x`` to ``reference``'s spatial size (a no-op when they already match)."""
    if x.shape[-2:] == reference.shape[-2:]:
        return x
    return F.interpolate(x, size=reference.shape[-2:], mode="nearest")


def make_divisible(value: float, divisor: int = 8) -> int:
    return max(divisor, int(value + divisor / 2) // divisor * divisor)
