"""Depth augmentation through albumentations, with depth as a mask target.

Geometric transforms move image and depth together (nearest interpolation on depth); colour
transforms touch the image only. ``MetricZoom`` is a zoom that also divides depth by the zoom
factor, as a camera moving closer would see it.
"""
from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np


class MetricZoom(A.DualTransform):
    """Zoom by ``s`` about the centre (crop or pad back to size) and divide depth by ``s``."""

    def __init__(self, scale_limit: tuple[float, float] = (0.9, 1.25), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.scale_limit = scale_limit

    def get_params(self) -> dict[str, Any]:
        return {"scale": float(self.py_random.uniform(*self.scale_limit))}

    def _zoom(self, array: np.ndarray, scale: float, interpolation: int) -> np.ndarray:
        height, width = array.shape[:2]
        resized = cv2.resize(array, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=interpolation)
        new_h, new_w = resized.shape[:2]
        if scale >= 1:
            top, left = (new_h - height) // 2, (new_w - width) // 2
            return resized[top:top + height, left:left + width]
        canvas = np.zeros((height, width) + array.shape[2:], dtype=array.dtype)
        top, left = (height - new_h) // 2, (width - new_w) // 2
        canvas[top:top + new_h, left:left + new_w] = resized
        return canvas

    def apply(self, img: np.ndarray, scale: float = 1.0, **params: Any) -> np.ndarray:
        return self._zoom(img, scale, cv2.INTER_LINEAR)

    def apply_to_mask(self, mask: np.ndarray, scale: float = 1.0, **params: Any) -> np.ndarray:
        return self._zoom(mask, scale, cv2.INTER_NEAREST) / scale

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale_limit",)


def train_transform(size: tuple[int, int], channels: int = 3, metric_zoom: float = 0.5) -> A.Compose:
    """Resize to ``size`` (H, W), metric zoom (with probability ``metric_zoom``), small rotation, flip, colour jitter
    (brightness/contrast unless RGB).

    The dataset reseeds it per sample from torch's RNG, so training is reproducible by seed.
    """
    height, width = size
    return A.Compose([
        A.Resize(height, width, interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST),
        MetricZoom(p=metric_zoom),
        A.Affine(rotate=(-5, 5), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, mask_interpolation=cv2.INTER_NEAREST, p=0.3),
        A.HorizontalFlip(p=0.5),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8) if channels == 3
        else A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.8),
    ], seed=None)


def val_transform(size: tuple[int, int]) -> A.Compose:
    height, width = size
    return A.Compose([A.Resize(height, width, interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST)])
