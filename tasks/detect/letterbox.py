"""Letterbox: resize keeping aspect ratio, pad to a square; and the exact inverse for boxes."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

PAD_VALUE = 114


@dataclass(frozen=True)
class LetterboxInfo:
    """How an image was letterboxed: ``input = original * ratio + (pad_x, pad_y)``."""

    ratio: float
    pad_x: float
    pad_y: float
    original_height: int
    original_width: int


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, LetterboxInfo]:
    """Resize the longest side to ``size`` and pad the rest evenly with grey."""
    height, width = image.shape[:2]
    ratio = size / max(height, width)
    new_w, new_h = max(1, round(width * ratio)), max(1, round(height * ratio))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (width, height) else image
    resized = resized.reshape(new_h, new_w, image.shape[2])
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    left, top = int(round(pad_x - 0.1)), int(round(pad_y - 0.1))
    canvas = np.full((size, size, image.shape[2]), PAD_VALUE, dtype=image.dtype)
    canvas[top:top + new_h, left:left + new_w] = resized
    return canvas, LetterboxInfo(ratio, left, top, height, width)


def from_letterbox(boxes: np.ndarray | torch.Tensor, info: LetterboxInfo):
    """xyxy boxes in letterboxed input pixels -> original pixels, clipped to the image."""
    out = boxes.clone() if isinstance(boxes, torch.Tensor) else boxes.copy()
    out[..., [0, 2]] = (out[..., [0, 2]] - info.pad_x) / info.ratio
    out[..., [1, 3]] = (out[..., [1, 3]] - info.pad_y) / info.ratio
    out[..., [0, 2]] = out[..., [0, 2]].clip(0, info.original_width)
    out[..., [1, 3]] = out[..., [1, 3]].clip(0, info.original_height)
    return out


def detections_to_original(detections: list[torch.Tensor], infos: list[LetterboxInfo]) -> list[np.ndarray]:
    """Per image (N, 6) ``[x1, y1, x2, y2, score, class]`` in letterboxed pixels -> float32 arrays in original pixels."""
    mapped = []
    for rows, info in zip(detections, infos):
        rows = rows.float().cpu()
        rows[:, :4] = from_letterbox(rows[:, :4], info)
        mapped.append(rows.numpy())
    return mapped
