"""Anchor points (grid-cell centres) and the box <-> (left, top, right, bottom) distance encoding."""
from __future__ import annotations

from typing import Sequence

import torch


def make_anchors(shapes: Sequence[tuple[int, int]], strides: Sequence[int], device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres in grid units (A, 2) and each anchor's stride (A, 1), levels concatenated."""
    points, stride_column = [], []
    for (height, width), stride in zip(shapes, strides):
        ys = torch.arange(height, device=device, dtype=dtype) + 0.5
        xs = torch.arange(width, device=device, dtype=dtype) + 0.5
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y), -1).reshape(-1, 2))
        stride_column.append(torch.full((height * width, 1), float(stride), device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_column)


def decode_distances(distances: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(..., 4) distances (l, t, r, b) from anchor points -> xyxy boxes, same units as the anchors."""
    left_top, right_bottom = distances.chunk(2, -1)
    return torch.cat((anchors - left_top, anchors + right_bottom), -1)


def bbox_to_distance(anchors: torch.Tensor, boxes: torch.Tensor, max_distance: float) -> torch.Tensor:
    """xyxy boxes -> (l, t, r, b) distances from anchors, clamped to [0, max_distance - 0.01]."""
    x1y1, x2y2 = boxes.chunk(2, -1)
    return torch.cat((anchors - x1y1, x2y2 - anchors), -1).clamp(0, max_distance - 0.01)
