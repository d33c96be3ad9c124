"""ShuffleNetV1 (grouped 1x1 convs with channel shuffle), written natively: neither timm nor torchvision has it.

Follows megvii's official ShuffleNet-Series architecture: the first block of stage 2 uses an
ungrouped 1x1 conv, stride-2 blocks concatenate a 3x3 average-pooled shortcut, the bottleneck is a
quarter of the output width, and the classifier is a bias-free linear layer. The stem has 24
channels (12 at 0.5x, 48 at 2.0x), raised where needed so the first concatenation divides by the
group count. Groups 1, 2 and 4 use the paper's Table 1 widths.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._input import InputSpec
from ._registry import register_backbone

PAPER = "Zhang et al., ShuffleNet: An Extremely Efficient CNN for Mobile Devices, CVPR 2018 (arXiv:1707.01083)"
STAGE2_WIDTH = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
STEM_WIDTH = {0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}
STAGE_REPEATS = (4, 8, 4)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels across groups, in megvii's (channels-per-group, groups) order."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, channels // groups, groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)


def _divisible(value: float, divisor: int) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ShuffleUnit(nn.Module):
    """1x1 group conv -> shuffle -> 3x3 depthwise -> 1x1 group conv, with an add or concat shortcut."""

    def __init__(self, in_chs: int, out_chs: int, groups: int, stride: int, first_group: bool) -> None:
        super().__init__()
        self.groups = groups
        self.stride = stride
        mid_chs = out_chs // 4
        branch_chs = out_chs - in_chs if stride == 2 else out_chs
        self.reduce = nn.Sequential(
            nn.Conv2d(in_chs, mid_chs, 1, bias=False, groups=1 if first_group else groups),
            nn.BatchNorm2d(mid_chs),
            nn.ReLU(inplace=True),
        )
        self.expand = nn.Sequential(
            nn.Conv2d(mid_chs, mid_chs, 3, stride, 1, groups=mid_chs, bias=False),
            nn.BatchNorm2d(mid_chs),
            nn.Conv2d(mid_chs, branch_chs, 1, groups=groups, bias=False),
            nn.BatchNorm2d(branch_chs),
        )
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.reduce(x)
        if self.groups > 1:
            branch = channel_shuffle(branch, self.groups)
        branch = self.expand(branch)
        if self.stride == 1:
            return F.relu(branch + x)
        return torch.cat((self.shortcut(x), F.relu(branch)), 1)


class ShuffleNetV1(nn.Module):
    """ShuffleNetV1 classifier with ``groups`` in {1, 2, 3, 4, 8} and a width ``scale``."""

    def __init__(self, groups: int = 3, scale: float = 1.0, num_classes: int = 1000, in_chans: int = 3) -> None:
        super().__init__()
        if groups not in STAGE2_WIDTH:
            raise ValueError(f"ShuffleNetV1 groups must be one of {sorted(STAGE2_WIDTH)}, got {groups}")
        widths = [_divisible(STAGE2_WIDTH[groups] * scale * 2**i, 4 * groups) for i in range(3)]
        stem = STEM_WIDTH.get(scale, _divisible(24 * scale, 4))
        while (widths[0] - stem) % groups:
            stem += 1
        self.first_conv = nn.Sequential(
            nn.Conv2d(in_chans, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_chs = stem
        stages = []
        for stage_index, (repeats, out_chs) in enumerate(zip(STAGE_REPEATS, widths)):
            units = []
            for unit_index in range(repeats):
                first = unit_index == 0
                units.append(ShuffleUnit(in_chs, out_chs, groups, 2 if first else 1, first and stage_index == 0))
                in_chs = out_chs
            stages.append(nn.Sequential(*units))
        self.stage2, self.stage3, self.stage4 = stages
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_chs, num_classes, bias=False)
        self.feature_info = [
            {"num_chs": stem, "reduction": 2, "module": "first_conv"},
            {"num_chs": stem, "reduction": 4, "module": "maxpool"},
            {"num_chs": widths[0], "reduction": 8, "module": "stage2"},
            {"num_chs": widths[1], "reduction": 16, "module": "stage3"},
            {"num_chs": widths[2], "reduction": 32, "module": "stage4"},
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.first_conv(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.classifier(self.global_pool(x).flatten(1))


def shufflenet_v1(groups: int = 3, width_mult: float = 1.0, pretrained: bool = False, in_chans: int = 3, **kwargs: Any) -> nn.Module:
    """ShuffleNetV1 classifier; there are no upstream weights, so ``pretrained=True`` is an error."""
    if pretrained:
        raise ValueError(
            "ShuffleNetV1 has no upstream weights in timm or torchvision; pass pretrained=False or a local file path"
        )
    return ShuffleNetV1(groups=groups, scale=width_mult, in_chans=in_chans, **kwargs)


for _groups in (1, 2, 3, 4, 8):
    for _scale in (0.5, 1.0, 1.5, 2.0):
        register_backbone(
            f"shufflenet_v1_g{_groups}_x{str(_scale).replace('.', '_')}", family="ShuffleNetV1", source="native",
            paper=PAPER, defaults={"groups": _groups, "width_mult": _scale}, wrap="list", flatten_sequential=False,
            taps="stem conv (/2), max-pool (/4), then the last unit of stage 2, 3 and 4",
            input_spec=InputSpec(source="ShuffleNetV1 (native): ImageNet mean and std, as its reference training used"),
        )(shufflenet_v1)
