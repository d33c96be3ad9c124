"""The standard depth metrics, computed per image over valid pixels and averaged over images.

Per-image averaging (as in the BTS and Monodepth evaluation code) means every image counts the
same regardless of how many valid pixels it has; an image without valid pixels is skipped.
Predictions are clamped to [min_depth, max_depth] before scoring, as those protocols do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3", "silog")
EIGEN_CROP = (45 / 480, 471 / 480, 41 / 640, 601 / 640)
GARG_CROP = (0.40810811, 0.99189189, 0.03594771, 0.96405229)


def valid_mask(depth: np.ndarray | torch.Tensor, max_depth: float, min_depth: float = 1e-3):
    """Valid ground truth, the one rule data, losses and metrics share: finite, above ``min_depth``, below ``max_depth``."""
    if isinstance(depth, torch.Tensor):
        return torch.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
    return np.isfinite(depth) & (depth > min_depth) & (depth < max_depth)


def crop_mask(height: int, width: int, crop: str | None, device=None) -> torch.Tensor:
    """Boolean (H, W) region kept by the Eigen (NYU) or Garg (KITTI) crop, or everything."""
    mask = torch.zeros(height, width, dtype=torch.bool, device=device)
    if crop is None or crop == "none":
        mask[:] = True
        return mask
    fractions = {"eigen": EIGEN_CROP, "garg": GARG_CROP}.get(crop)
    if fractions is None:
        raise ValueError(f"unknown crop {crop!r}; use 'eigen' (NYU), 'garg' (KITTI) or none")
    top, bottom, left, right = fractions
    mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
    return mask


def image_metrics(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, float]:
    """All metrics for one image's valid pixels (1-D tensors of equal length, both > 0)."""
    ratio = torch.maximum(gt / pred, pred / gt)
    log_error = torch.log(pred) - torch.log(gt)
    return {
        "abs_rel": ((gt - pred).abs() / gt).mean().item(),
        "sq_rel": ((gt - pred) ** 2 / gt).mean().item(),
        "rmse": torch.sqrt(((gt - pred) ** 2).mean()).item(),
        "rmse_log": torch.sqrt((log_error**2).mean()).item(),
        "log10": (torch.log10(pred) - torch.log10(gt)).abs().mean().item(),
        "delta1": (ratio < 1.25).float().mean().item(),
        "delta2": (ratio < 1.25**2).float().mean().item(),
        "delta3": (ratio < 1.25**3).float().mean().item(),
        "silog": 100 * torch.sqrt(((log_error**2).mean() - log_error.mean() ** 2).clamp(min=0)).item(),
    }


@dataclass
class DepthMetrics:
    """Accumulates per-image metrics; ``compute()`` returns their means (and ``images`` counted)."""

    min_depth: float = 1e-3
    max_depth: float = 10.0
    crop: str | None = None
    median_scaling: bool = False
    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(NAMES, 0.0))
    images: int = 0

    @torch.no_grad()
    def update(self, pred: torch.Tensor, gt: torch.Tensor) -> None:
        """``pred`` and ``gt`` (B, 1, H, W) or (B, H, W) metres; invalid gt is 0, NaN, inf or out of range."""
        pred, gt = pred.reshape(-1, *pred.shape[-2:]).float(), gt.reshape(-1, *gt.shape[-2:]).float()
        region = crop_mask(gt.shape[-2], gt.shape[-1], self.crop, gt.device)
        for p, g in zip(pred, gt):
            valid = valid_mask(g, self.max_depth, self.min_depth) & region
            if not valid.any():
                continue
            p, g = p[valid], g[valid]
            if self.median_scaling:
                p = p * (g.median() / p.median().clamp(min=1e-8))
            p = p.clamp(self.min_depth, self.max_depth)
            for name, value in image_metrics(p, g).items():
                self.totals[name] += value
            self.images += 1

    def compute(self) -> dict[str, float]:
        if not self.images:
            return dict.fromkeys(NAMES, float("nan"))
        return {name: total / self.images for name, total in self.totals.items()}
