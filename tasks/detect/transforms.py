"""Training augmentation through albumentations, boxes kept consistent: mosaic, affine, HSV, flip, letterbox."""
from __future__ import annotations

import albumentations as A
import cv2

from .letterbox import PAD_VALUE


def train_transform(size: int, mosaic: float = 1.0, channels: int = 3) -> A.Compose:
    """Mosaic (p=``mosaic``) -> letterbox to ``size`` -> random affine -> HSV (RGB only)/brightness -> horizontal flip.

    The dataset reseeds it per sample from torch's RNG, so training is reproducible by seed.
    """
    return A.Compose(
        [
            A.Mosaic(target_size=(size, size), cell_shape=(size, size), fit_mode="contain", fill=PAD_VALUE, p=mosaic),
            A.LongestMaxSize(max_size=size),
            A.PadIfNeeded(size, size, border_mode=cv2.BORDER_CONSTANT, fill=PAD_VALUE),
            A.Affine(scale=(0.6, 1.4), translate_percent=(-0.1, 0.1), border_mode=cv2.BORDER_CONSTANT, fill=PAD_VALUE, p=0.7),
            A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=40, val_shift_limit=30, p=0.7 if channels == 3 else 0.0),
            A.RandomBrightnessContrast(p=0.3),
            A.HorizontalFlip(p=0.5),
        ],
        bbox_params=A.BboxParams(format="yolo", label_fields=["class_labels"], min_visibility=0.3, clip=True, filter_invalid_bboxes=True),
        seed=None,
    )
