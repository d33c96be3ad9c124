"""Depth metrics against hand-computed values; loss invariances; masking of invalid pixels."""
import math

import pytest
import torch

from tasks.depth.losses import BerHuLoss, L1Loss, ScaleShiftInvariantLoss, SILogLoss, build_loss, gradient_matching
from tasks.depth.metrics import DepthMetrics, crop_mask


def test_metrics_match_hand_computed_values():
    gt = torch.tensor([[[1.0, 2.0], [4.0, 0.0]]])
    pred = torch.tensor([[[2.0, 2.0], [3.0, 9.0]]])
    metrics = DepthMetrics(max_depth=10.0)
    metrics.update(pred, gt)
    out = metrics.compute()
    assert out["abs_rel"] == pytest.approx((1 / 1 + 0 + 1 / 4) / 3)
    assert out["sq_rel"] == pytest.approx((1 / 1 + 0 + 1 / 4) / 3)
    assert out["rmse"] == pytest.approx(math.sqrt((1 + 0 + 1) / 3))
    logs = [math.log(2), 0.0, math.log(3 / 4)]
    assert out["rmse_log"] == pytest.approx(math.sqrt(sum(e * e for e in logs) / 3))
    assert out["log10"] == pytest.approx((math.log10(2) + 0 + abs(math.log10(0.75))) / 3)
    assert out["delta1"] == pytest.approx(1 / 3) and out["delta2"] == pytest.approx(2 / 3) and out["delta3"] == pytest.approx(2 / 3)
    mean = sum(logs) / 3
    assert out["silog"] == pytest.approx(100 * math.sqrt(sum(e * e for e in logs) / 3 - mean**2))


def test_metrics_average_per_image_and_skip_all_invalid_images():
    metrics = DepthMetrics(max_depth=10.0)
    gt = torch.tensor([[[1.0, 1.0, 1.0, 1.0]], [[2.0, 0.0, 0.0, 0.0]], [[float("nan"), 0.0, 50.0, float("inf")]]])
    pred = torch.tensor([[[1.0, 1.0, 1.0, 1.0]], [[4.0, 1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0, 1.0]]])
    metrics.update(pred, gt)
    out = metrics.compute()
    assert metrics.images == 2
    assert out["abs_rel"] == pytest.approx((0 + 1.0) / 2)
    assert all(math.isfinite(v) for v in out.values())


def test_median_scaling_and_caps():
    gt = torch.tensor([[[1.0, 2.0, 3.0]]])
    metrics = DepthMetrics(max_depth=10.0, median_scaling=True)
    metrics.update(gt * 7.5, gt)
    assert metrics.compute()["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    capped = DepthMetrics(max_depth=10.0)
    capped.update(torch.tensor([[[100.0]]]), torch.tensor([[[5.0]]]))
    assert capped.compute()["abs_rel"] == pytest.approx(1.0)


def test_crops():
    eigen = crop_mask(480, 640, "eigen")
    assert eigen[45, 41] and not eigen[44, 41] and not eigen[45, 40] and eigen[470, 600] and not eigen[471, 600]
    garg = crop_mask(375, 1242, "garg")
    assert garg.float().mean() == pytest.approx((0.99189189 - 0.40810811) * (0.96405229 - 0.03594771), abs=0.01)
    with pytest.raises(ValueError, match="unknown crop"):
        crop_mask(10, 10, "nyu")


def _scene(seed=0):
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 1, 16, 16, generator=generator) * 5 + 0.5
    pred = gt * (1 + 0.3 * torch.rand(2, 1, 16, 16, generator=generator))
    mask = torch.rand(2, 1, 16, 16, generator=generator) > 0.2
    return pred, gt, mask


def test_ssi_is_invariant_to_prediction_scale_and_shift():
    pred, gt, mask = _scene()
    loss = ScaleShiftInvariantLoss()
    base = loss(pred, gt, mask)
    assert base > 0
    assert loss(pred * 3.7 + 1.9, gt, mask) == pytest.approx(base.item(), rel=1e-4)
    assert loss(gt * 0.2 - 0.4, gt, mask) == pytest.approx(0.0, abs=1e-6)


def test_silog_with_lambda_one_is_invariant_to_global_scale():
    pred, gt, mask = _scene()
    for loss in SILogLoss(variance_focus=1.0, gradient_weight=0.0, delta_weight=0.0), SILogLoss(variance_focus=1.0, delta_weight=0.0):
        assert loss(pred * 4.2, gt, mask) == pytest.approx(loss(pred, gt, mask).item(), rel=1e-4)
    assert SILogLoss(0.85)(pred * 4.2, gt, mask) > SILogLoss(0.85)(pred, gt, mask)


LOSS_SETTINGS = [("silog", {}), ("silog", {"gradient_weight": 0.0, "delta_weight": 0.0}), ("ssi", {}), ("l1", {}), ("berhu", {})]


@pytest.mark.parametrize(("name", "kwargs"), LOSS_SETTINGS)
def test_masked_pixels_never_touch_loss_or_gradient(name, kwargs):
    pred, gt, mask = _scene()
    loss = build_loss(name, **kwargs)
    poisoned = gt.clone()
    poisoned[~mask] = float("nan")
    poisoned[0, 0, 0, 0] = float("inf")
    mask = mask.clone()
    mask[0, 0, 0, 0] = False
    garbage_pred = pred.clone()
    garbage_pred[~mask] = 1e6
    a, b = pred.clone().requires_grad_(), garbage_pred.clone().requires_grad_()
    value_a, value_b = loss(a, gt, mask), loss(b, poisoned, mask)
    value_a.backward()
    value_b.backward()
    assert torch.isfinite(value_b) and value_a.item() == pytest.approx(value_b.item(), rel=1e-5)
    assert torch.isfinite(b.grad).all() and (b.grad[~mask] == 0).all()
    torch.testing.assert_close(a.grad[mask], b.grad[mask], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("name", "kwargs"), LOSS_SETTINGS)
def test_all_invalid_image_contributes_nothing(name, kwargs):
    pred, gt, mask = _scene()
    loss = build_loss(name, **kwargs)
    mask[1] = False
    both = loss(pred, gt, mask)
    only_first = loss(pred[:1], gt[:1], mask[:1])
    assert both.item() == pytest.approx(only_first.item(), rel=1e-5)
    nothing = pred.clone().requires_grad_()
    empty = loss(nothing, gt, torch.zeros_like(mask))
    empty.backward()
    assert empty.item() == 0.0 and torch.isfinite(nothing.grad).all()


def test_silog_gradient_term_adds_the_log_error_gradients_and_ignores_a_global_scale():
    pred, gt, mask = _scene()
    plain, with_gradient = SILogLoss(gradient_weight=0.0, delta_weight=0.0), SILogLoss(delta_weight=0.0)
    log_error = torch.log(pred) - torch.log(gt)
    assert (with_gradient(pred, gt, mask) - plain(pred, gt, mask)).item() == pytest.approx(
        0.5 * gradient_matching(torch.where(mask, log_error, torch.zeros_like(log_error)), mask).mean().item(), rel=1e-5)
    scaled = gt * 1.7
    assert (with_gradient(scaled, gt, mask) - plain(scaled, gt, mask)).item() == pytest.approx(0.0, abs=1e-5)
    checker = torch.ones_like(gt)
    checker[..., ::2, :] = 1.2
    assert (with_gradient(gt * checker, gt, mask) - plain(gt * checker, gt, mask)).item() > 0.03


def test_silog_delta_term_is_a_smooth_count_of_pixels_outside_the_delta1_threshold():
    gt = torch.full((1, 1, 4, 4), 3.0)
    mask = torch.ones_like(gt, dtype=torch.bool)
    mask[..., 0, 0] = False
    plain, with_delta = SILogLoss(gradient_weight=0.0, delta_weight=0.0), SILogLoss(gradient_weight=0.0)
    ratio = torch.ones_like(gt)
    ratio[..., 2:, :] = 20.0  # 8 of the 15 valid pixels far outside delta1's 1.25
    pred = gt * ratio
    added = (with_delta(pred, gt, mask) - plain(pred, gt, mask)).item()
    assert added == pytest.approx(3.0 * 8 / 15, rel=1e-4)
    assert (with_delta(gt, gt, mask) - plain(gt, gt, mask)).item() == pytest.approx(0.0, abs=1e-6)
    width = math.log(1.25)
    pulls = []
    for error in (width, 4 * width):
        pred = (gt * math.exp(error)).requires_grad_()
        (with_delta(pred, gt, mask) - plain(pred, gt, mask)).backward()
        pulls.append(pred.grad[mask].abs().mean().item() * pred[mask].mean().item())
    assert pulls[1] < 0.01 * pulls[0]  # a pixel far beyond the threshold is barely pulled: the mode, not the mean


@pytest.mark.parametrize("kwargs", [{"delta_weight": -1.0}, {"delta_ratio": 1.0}, {"delta_ratio": 0.8}])
def test_silog_refuses_a_delta_term_that_cannot_count(kwargs):
    with pytest.raises(ValueError, match="delta_weight must be >= 0 and delta_ratio > 1"):
        build_loss("silog", **kwargs)


def test_berhu_switches_at_c():
    gt = torch.zeros(1, 1, 1, 3) + 10.0
    pred = gt + torch.tensor([[[[1.0, 2.0, 10.0]]]])
    c = 0.2 * 10.0
    expected = (1.0 + 2.0 + (100 + c * c) / (2 * c)) / 3
    assert BerHuLoss()(pred, gt, torch.ones_like(gt, dtype=torch.bool)).item() == pytest.approx(expected)
    assert L1Loss()(pred, gt, torch.ones_like(gt, dtype=torch.bool)).item() == pytest.approx(13 / 3)
