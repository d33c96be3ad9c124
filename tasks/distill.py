"""Feature imitation for distillation: learned 1x1 adapters map the student's feature maps onto the teacher's.

The loss is FitNets' (Romero et al., 2015): the mean squared error between each adapted student map
and the teacher's map at the same level. An adapter whose student and teacher have the same width
starts as the identity, so a student that equals its teacher starts at zero loss. Written here
because no maintained library offers it for arbitrary necks and decoders.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


@contextlib.contextmanager
def captured_output(module: nn.Module) -> Iterator[list]:
    """Collects what ``module`` returns during the ``with`` block (one entry per call)."""
    outputs: list = []
    handle = module.register_forward_hook(lambda _module, _inputs, output: outputs.append(output))
    try:
        yield outputs
    finally:
        handle.remove()


def _as_list(features: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [features] if isinstance(features, torch.Tensor) else list(features)


class FeatureImitation(nn.Module):
    """``forward(student, teacher)``: the mean over levels of MSE(adapter(student map), teacher map)."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(f"the student has {len(student_channels)} feature levels and the teacher {len(teacher_channels)}; "
                             f"feature imitation pairs them level by level")
        self.adapters = nn.ModuleList(nn.Conv2d(s, t, 1) for s, t in zip(student_channels, teacher_channels))
        for adapter, s, t in zip(self.adapters, student_channels, teacher_channels):
            if s == t:
                nn.init.dirac_(adapter.weight)
                nn.init.zeros_(adapter.bias)

    def forward(self, student: torch.Tensor | Sequence[torch.Tensor], teacher: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        losses = []
        for adapter, s, t in zip(self.adapters, _as_list(student), _as_list(teacher)):
            mapped = adapter(s.float())
            if mapped.shape[-2:] != t.shape[-2:]:
                mapped = F.interpolate(mapped, size=t.shape[-2:], mode="bilinear", align_corners=False)
            losses.append(F.mse_loss(mapped, t.float().detach()))
        return torch.stack(losses).mean()


def with_imitation(loss: torch.Tensor, items: dict[str, float], modules: nn.ModuleDict, student_features: list,
                   teacher_features: list, weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """``loss`` and ``items`` plus the weighted feature-imitation term when ``modules`` holds the adapters."""
    if "imitation" not in modules:
        return loss, items
    imitation = modules["imitation"](student_features[0], teacher_features[0])
    return loss + weight * imitation, {**items, "imitation": imitation.item()}
