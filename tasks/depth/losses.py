"""Depth losses with a validity mask: SILog (BTS) with gradient matching of the log error (MegaDepth) and
a Welsch term at delta1's threshold, scale-and-shift-invariant with gradient matching (MiDaS), L1 and
BerHu. Invalid pixels never touch the value or the gradient; an image with no valid pixel contributes
nothing.

Written here: these are a few lines each and no maintained library ships them with masking.
"""
from __future__ import annotations

import math

import torch

from backbones import Registry

LOSSES: Registry = Registry("depth loss")


def _safe(gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, gt, torch.ones_like(gt))


def _per_image_mean(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mean per image (B,) and which images have any valid pixel."""
    counts = mask.flatten(1).sum(1)
    sums = torch.where(mask, values, torch.zeros_like(values)).flatten(1).sum(1)
    return sums / counts.clamp(min=1), counts > 0


def _mean_over_valid_images(per_image: torch.Tensor, has_pixels: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    if not has_pixels.any():
        return anchor.sum() * 0.0
    return per_image[has_pixels].mean()


@LOSSES.register("silog")
class SILogLoss(torch.nn.Module):
    """``scale * sqrt(mean(e^2) - lambda * mean(e)^2)``, e = log(pred) - log(gt), per image then averaged,
    plus ``gradient_weight`` times the multi-scale gradient matching of e (MegaDepth's gradient term in
    log space), which penalises depth edges the ground truth lacks (copied texture) and blurred edges it
    has, plus ``delta_weight`` times ``mean(1 - exp(-e^2 / (2 log(delta_ratio)^2)))``: Welsch's robust loss
    with its width at delta1's threshold, a smooth count of the pixels outside it. Its pull fades for
    errors far beyond the threshold, so it draws the prediction towards the most common depth where the
    image leaves depth ambiguous, which delta1 rewards, rather than towards the mean, which the square
    root's term alone settles on. ``gradient_weight=0, delta_weight=0`` is BTS's loss alone.
    """

    def __init__(self, variance_focus: float = 0.85, scale: float = 10.0, gradient_weight: float = 0.5,
                 gradient_scales: int = 4, delta_weight: float = 3.0, delta_ratio: float = 1.25) -> None:
        super().__init__()
        if delta_weight < 0 or not delta_ratio > 1:
            raise ValueError(f"silog: delta_weight must be >= 0 and delta_ratio > 1 (delta1's is 1.25), got "
                             f"delta_weight={delta_weight}, delta_ratio={delta_ratio}")
        self.variance_focus, self.scale = variance_focus, scale
        self.gradient_weight, self.gradient_scales = gradient_weight, gradient_scales
        self.delta_weight, self.delta_width = delta_weight, math.log(delta_ratio)

    def forward(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        error = torch.where(mask, torch.log(pred.clamp(min=1e-6)) - torch.log(_safe(gt, mask)), torch.zeros_like(pred))
        mean_sq, has = _per_image_mean(error**2, mask)
        mean, _ = _per_image_mean(error, mask)
        per_image = self.scale * torch.sqrt((mean_sq - self.variance_focus * mean**2).clamp(min=1e-8))
        if self.gradient_weight:
            per_image = per_image + self.gradient_weight * gradient_matching(error, mask, self.gradient_scales)
        if self.delta_weight:
            outside, _ = _per_image_mean(1 - torch.exp(-(error**2) / (2 * self.delta_width**2)), mask)
            per_image = per_image + self.delta_weight * outside
        return _mean_over_valid_images(per_image, has, pred)


def below_full_size(loss: torch.nn.Module) -> torch.nn.Module:
    """The loss for the epochs below full size (progressive resizing): SILog's delta term waits for full size, any
    other loss is ``loss``. On from the first epoch, the term left the default recipe's AbsRel 0.009 worse (README:
    depth ladder)."""
    if not isinstance(loss, SILogLoss) or not loss.delta_weight:
        return loss
    return SILogLoss(loss.variance_focus, loss.scale, loss.gradient_weight, loss.gradient_scales, delta_weight=0.0)


def align_scale_shift(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Least-squares per-image scale s and shift t minimising |s * pred + t - target|^2 on valid pixels."""
    m = mask.float()
    p, y = torch.where(mask, pred, torch.zeros_like(pred)), torch.where(mask, target, torch.zeros_like(target))
    a00, a01, a11 = (m * p * p).flatten(1).sum(1), (m * p).flatten(1).sum(1), m.flatten(1).sum(1)
    b0, b1 = (m * p * y).flatten(1).sum(1), (m * y).flatten(1).sum(1)
    det = a00 * a11 - a01 * a01
    ok = det.abs() > 1e-10
    det = torch.where(ok, det, torch.ones_like(det))
    scale = torch.where(ok, (a11 * b0 - a01 * b1) / det, torch.ones_like(det))
    shift = torch.where(ok, (-a01 * b0 + a00 * b1) / det, torch.zeros_like(det))
    return scale.view(-1, 1, 1, 1) * pred + shift.view(-1, 1, 1, 1)


def gradient_matching(residual: torch.Tensor, mask: torch.Tensor, scales: int = 4) -> torch.Tensor:
    """Mean absolute difference of neighbouring residuals, summed over ``scales`` subsamplings, per image (B,): MiDaS's
    gradient loss on the aligned residual, MegaDepth's on the log error."""
    total = residual.new_zeros(residual.shape[0])
    for level in range(scales):
        step = 2**level
        r, m = residual[..., ::step, ::step], mask[..., ::step, ::step]
        r = torch.where(m, r, torch.zeros_like(r))
        mx, my = m[..., :, 1:] & m[..., :, :-1], m[..., 1:, :] & m[..., :-1, :]
        gx = torch.where(mx, (r[..., :, 1:] - r[..., :, :-1]).abs(), torch.zeros_like(r[..., :, 1:]))
        gy = torch.where(my, (r[..., 1:, :] - r[..., :-1, :]).abs(), torch.zeros_like(r[..., 1:, :]))
        count = (m.flatten(1).sum(1)).clamp(min=1)
        total = total + (gx.flatten(1).sum(1) + gy.flatten(1).sum(1)) / count
    return total


@LOSSES.register("ssi")
class ScaleShiftInvariantLoss(torch.nn.Module):
    """MiDaS: per-image least-squares alignment, MSE on valid pixels, plus ``alpha`` x gradient matching."""

    def __init__(self, alpha: float = 0.5, scales: int = 4) -> None:
        super().__init__()
        self.alpha, self.scales = alpha, scales

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        target = _safe(target, mask)
        aligned = align_scale_shift(pred, target, mask)
        residual = aligned - target
        mse, has = _per_image_mean(residual**2, mask)
        per_image = mse + self.alpha * gradient_matching(residual, mask, self.scales) if self.alpha else mse
        return _mean_over_valid_images(per_image, has, pred)


@LOSSES.register("l1")
class L1Loss(torch.nn.Module):
    def forward(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        per_image, has = _per_image_mean((pred - _safe(gt, mask)).abs(), mask)
        return _mean_over_valid_images(per_image, has, pred)


@LOSSES.register("berhu")
class BerHuLoss(torch.nn.Module):
    """Reverse Huber: |x| below c, (x^2 + c^2) / 2c above; c = 0.2 * max|x| over the batch's valid pixels."""

    def __init__(self, threshold: float = 0.2) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        error = torch.where(mask, (pred - _safe(gt, mask)).abs(), torch.zeros_like(pred))
        c = (self.threshold * error.detach().max()).clamp(min=1e-6)
        berhu = torch.where(error <= c, error, (error**2 + c**2) / (2 * c))
        per_image, has = _per_image_mean(berhu, mask)
        return _mean_over_valid_images(per_image, has, pred)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean absolute log ratio of the student's output to the teacher's over every pixel (the teacher has no holes)."""
    return (torch.log(student.float().clamp(min=1e-6)) - torch.log(teacher.float().detach().clamp(min=1e-6))).abs().mean()


def build_loss(name: str, **kwargs) -> torch.nn.Module:
    """A registered depth loss."""
    return LOSSES.build(name, **kwargs)
