"""The depth head: decoder map -> one positive channel at input resolution.

A 1x1 projection at the decoder's resolution, then bilinear upsampling if needed (as FastDepth
ends); a 3x3 conv at full resolution would cost more than the whole NNConv5 decoder.

``mode="metric"`` outputs metres (``softplus``; ``exp``, the conv predicting log depth; or
``sigmoid`` scaled to ``max_depth``); ``mode="relative"`` outputs inverse depth (``softplus`` or
``exp``), for scale-and-shift-invariant training. With ``exp`` a log-space loss (SILog) is quadratic
in the conv's output at every depth; in metric mode the conv starts at the geometric middle of 1 m
and ``max_depth``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = ("softplus", "exp", "sigmoid")
LOG_RANGE = 12.0  # exp's input is clamped to +-12: 6e-6 to 1.6e5, never 0 or inf


class DepthHead(nn.Module):
    def __init__(self, in_channels: int, mode: str = "metric", activation: str = "softplus", max_depth: float = 10.0) -> None:
        super().__init__()
        if mode not in ("metric", "relative"):
            raise ValueError(f"depth mode must be 'metric' or 'relative', got {mode!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"depth activation must be one of {ACTIVATIONS}, got {activation!r}")
        if activation == "sigmoid" and mode == "relative":
            raise ValueError("activation='sigmoid' scales to max_depth and needs mode='metric'")
        self.conv = nn.Conv2d(in_channels, 1, 1)
        if activation == "exp" and mode == "metric":
            nn.init.constant_(self.conv.bias, math.log(max_depth) / 2)
        self.mode, self.activation, self.max_depth = mode, activation, max_depth

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, C, h, w) -> (B, 1, H, W) positive depth (or inverse depth)."""
        x = self.conv(x)
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if self.activation == "sigmoid":
            return torch.sigmoid(x) * self.max_depth
        if self.activation == "exp":
            return torch.exp(x.clamp(-LOG_RANGE, LOG_RANGE))
        return F.softplus(x) + 1e-4
