"""The ``Backbone`` module: a feature body plus the multi-scale contract (channels, strides, freezing)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from ._fuse import fuse_model
from ._input import InputSpec


@dataclass(frozen=True)
class Level:
    """One feature level: level ``index`` has stride ``2 ** (index + 1)``."""

    index: int
    channels: int
    stride: int
    module: str
    feature_index: int


def levels_from_feature_info(info: Sequence[dict]) -> dict[int, Level]:
    """Translate timm-style ``feature_info`` into levels keyed by index; the last entry per stride wins."""
    levels: dict[int, Level] = {}
    for position, entry in enumerate(info):
        reduction = int(entry["reduction"])
        if reduction < 2 or reduction & (reduction - 1):
            continue
        index = int(math.log2(reduction)) - 1
        levels[index] = Level(index, int(entry["num_chs"]), reduction, str(entry["module"]), position)
    return dict(sorted(levels.items()))


def describe_levels(levels: dict[int, Level]) -> str:
    """A one-line listing of levels, used in error messages."""
    return ", ".join(f"{lv.index} (stride {lv.stride}, {lv.channels} ch)" for lv in levels.values())


def validate_out_indices(name: str, out_indices: Sequence[int], levels: dict[int, Level]) -> tuple[int, ...]:
    """Check ``out_indices`` is a non-empty, duplicate-free subset of the available levels."""
    indices = tuple(int(i) for i in out_indices)
    problem = None
    if not indices:
        problem = "out_indices is empty"
    elif len(set(indices)) != len(indices):
        problem = f"out_indices {indices} has duplicates"
    elif any(i not in levels for i in indices):
        problem = f"out_indices {indices} asks for levels {sorted(set(indices) - set(levels))} that {name} does not have"
    elif list(indices) != sorted(indices):
        problem = f"out_indices {indices} is not in increasing order"
    if problem:
        raise ValueError(f"{problem}. Valid levels of {name}: {describe_levels(levels)}. Example: out_indices=(2, 3, 4).")
    return indices


class Backbone(nn.Module):
    """Multi-scale feature extractor: ``forward`` returns one NCHW tensor per ``out_indices`` entry.

    ``channels`` and ``strides`` are known at construction. Level ``i`` of an ``H x W`` input is
    exactly ``ceil(H / 2 ** (i + 1)) x ceil(W / 2 ** (i + 1))``: the few networks whose unpadded
    layers give other sizes (SqueezeNet, legacy Xception) are resized bilinearly to it, unless
    ``exact_sizes=False`` asks for the network's native sizes. ``frozen_stages=k`` freezes the stem
    and every level ``<= k`` (mmdet's meaning, -1 freezes nothing); ``norm_eval`` keeps every
    BatchNorm in eval mode during training. ``input_spec`` is the input contract of the weights:
    the per-channel mean and std (one per ``in_chans``) and the range images are scaled to.
    """

    def __init__(
        self,
        body: nn.Module,
        levels: dict[int, Level],
        out_indices: Sequence[int],
        *,
        name: str,
        in_chans: int = 3,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        exact_sizes: bool = True,
        input_spec: InputSpec | None = None,
    ) -> None:
        super().__init__()
        self.exact_sizes = exact_sizes
        self.input_spec = (input_spec or InputSpec()).with_channels(in_chans)
        self.body = body
        self.name = name
        self.levels = dict(levels)
        self.out_indices = tuple(out_indices)
        self.in_chans = in_chans
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.fused = False
        self.folded_norms = 0
        self.channels_last = False
        self._frozen = self._modules_up_to_level(frozen_stages) if frozen_stages >= 0 else []
        for module in self._frozen:
            for param in module.parameters(recurse=False):
                param.requires_grad_(False)
        self.train()

    @property
    def channels(self) -> list[int]:
        return [self.levels[i].channels for i in self.out_indices]

    @property
    def strides(self) -> list[int]:
        return [self.levels[i].stride for i in self.out_indices]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"{self.name} expects NCHW input with {self.in_chans} channels, got shape {tuple(x.shape)}. "
                f"Pass in_chans={x.shape[1] if x.ndim == 4 else '?'} to get_backbone, or convert the images."
            )
        if not x.is_floating_point():
            raise TypeError(f"{self.name} expects float images, got {x.dtype}; convert with images.float() and normalise them")
        weight_dtype = next(self.parameters()).dtype
        if x.dtype != weight_dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{self.name} has {weight_dtype} weights but got {x.dtype} images; convert the images with .to({weight_dtype}), "
                f"or the model with .to({x.dtype}), or run under torch.autocast"
            )
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            features = list(self.body(x))
        except RuntimeError as error:
            if min(x.shape[-2:]) >= 32:
                raise
            raise ValueError(
                f"{self.name} cannot process a {x.shape[-2]}x{x.shape[-1]} input ({str(error).splitlines()[0][:120]}); "
                f"use images of at least 32x32"
            ) from None
        return align_to_strides(features, self.strides, x.shape[-2:]) if self.exact_sizes else features

    def fuse(self, channels_last: bool = False) -> "Backbone":
        """An inference-only copy: re-parameterisable blocks merged and BatchNorm folded into its conv.

        Outputs equal this backbone's in eval mode (to float rounding). With ``channels_last`` the
        weights are stored NHWC and inputs are converted on the way in.
        """
        reference = next(self.parameters())
        example = torch.zeros(1, self.in_chans, 64, 64, device=reference.device, dtype=reference.dtype)
        fused, fused.folded_norms = fuse_model(self, example)
        fused.fused = True
        fused.requires_grad_(False)
        return fused.to_channels_last() if channels_last else fused

    def to_channels_last(self) -> "Backbone":
        """Store the weights NHWC and convert inputs on the way in; returns ``self``."""
        self.channels_last = True
        return self.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> "Backbone":
        if mode and self.fused:
            raise RuntimeError(
                f"this {self.name} backbone is fused (BatchNorm folded) and is inference-only. "
                f"Train the unfused backbone and call .fuse() afterwards."
            )
        super().train(mode)
        if mode:
            for module in self._frozen:
                module.training = False
            if self.norm_eval:
                for module in self.modules():
                    if isinstance(module, _BatchNorm):
                        module.eval()
        return self

    def _modules_up_to_level(self, level: int) -> list[nn.Module]:
        """Modules whose whole subtree runs no later than the output of ``level``.

        When the network has no level ``<= level`` (timm models starting at stride 4), this is the
        stem: everything before the first tapped stage.
        """
        named = list(self.body.named_modules())
        position = {n: i for i, (n, _) in enumerate(named)}
        taps = {}
        for lv in self.levels.values():
            found = next((position[c] for c in _name_candidates(lv.module) if c in position), None)
            if found is None:
                raise ValueError(f"frozen_stages is not supported for {self.name}: cannot locate module {lv.module!r}")
            taps[lv.index] = found
        reached = [_subtree_end(named, p) for index, p in taps.items() if index <= level]
        cut = max(reached) if reached else min(taps.values()) - 1
        return [m for i, (_, m) in enumerate(named) if 0 < i <= cut and _subtree_end(named, i) <= cut]


def _name_candidates(module_name: str) -> list[str]:
    first, _, rest = module_name.partition(".")
    flattened = f"{first}_{rest}" if rest else first
    return [module_name, flattened, f"model.{module_name}", f"body.{module_name}"]


def _subtree_end(named: list[tuple[str, nn.Module]], start: int) -> int:
    prefix = named[start][0] + "."
    end = start
    while end + 1 < len(named) and named[end + 1][0].startswith(prefix):
        end += 1
    return end


def align_to_strides(features: list[torch.Tensor], strides: Sequence[int], input_size: Sequence[int]) -> list[torch.Tensor]:
    """Resize (bilinearly) any level whose size is not ``ceil(input / stride)``; others pass through.

    ``Backbone.forward`` applies it (``exact_sizes``); only networks with unpadded layers
    (SqueezeNet, legacy Xception) are affected.
    """
    aligned = []
    for feature, stride in zip(features, strides):
        size = (-(-int(input_size[0]) // stride), -(-int(input_size[1]) // stride))
        if tuple(feature.shape[-2:]) != size:
            feature = F.interpolate(feature, size=size, mode="bilinear", align_corners=False)
        aligned.append(feature)
    return aligned
