"""Depth maps to colour images (turbo, near = warm) and side-by-side panels."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402


def colorize(depth: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """(H, W) depth -> (H, W, 3) uint8 RGB; invalid (0, NaN, inf) is black."""
    valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        return np.zeros(depth.shape + (3,), np.uint8)
    low = vmin if vmin is not None else float(np.percentile(depth[valid], 2))
    high = vmax if vmax is not None else float(np.percentile(depth[valid], 98))
    scaled = np.clip((np.where(valid, depth, high) - low) / max(high - low, 1e-6), 0, 1)
    rgb = (colormaps["turbo"](1 - scaled)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb
