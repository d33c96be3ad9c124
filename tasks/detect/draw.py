"""Draw detections on images, and tile images into a grid."""
from __future__ import annotations

import math

import cv2
import numpy as np


def _colour(index: int) -> tuple[int, int, int]:
    hue = (index * 47) % 180
    rgb = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2RGB)[0, 0]
    return tuple(int(v) for v in rgb)


def draw_detections(image: np.ndarray, detections: np.ndarray, names: list[str]) -> np.ndarray:
    """RGB image with each ``[x1, y1, x2, y2, score, class]`` drawn as a labelled box."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 320))
    for x1, y1, x2, y2, score, cls in detections:
        colour = _colour(int(cls))
        cv2.rectangle(canvas, (int(x1), int(y1)), (int(x2), int(y2)), colour, thickness)
        label = f"{names[int(cls)] if int(cls) < len(names) else int(cls)} {score:.2f}"
        cv2.putText(canvas, label, (int(x1), max(int(y1) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thickness, colour, thickness, cv2.LINE_AA)
    return canvas


def image_grid(images: list[np.ndarray], tile: int = 256) -> np.ndarray:
    """Resize each image to ``tile`` px and tile them in a near-square grid."""
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    grid = np.full((rows * tile, columns * tile, 3), 255, np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * tile:(row + 1) * tile, column * tile:(column + 1) * tile] = cv2.resize(image, (tile, tile))
    return grid
