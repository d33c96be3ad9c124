"""Task-aligned assignment (TOOD, as used by YOLOv8), vectorised over batch, boxes and anchors.

Written here because no maintained library ships it outside a full detector framework.
"""
from __future__ import annotations

import torch


def pairwise_iou(gt: torch.Tensor, pred: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """IoU of (B, M, 4) with (B, A, 4) xyxy boxes -> (B, M, A)."""
    gt, pred = gt.unsqueeze(2), pred.unsqueeze(1)
    lt = torch.maximum(gt[..., :2], pred[..., :2])
    rb = torch.minimum(gt[..., 2:], pred[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_gt = (gt[..., 2:] - gt[..., :2]).clamp(min=0).prod(-1)
    area_pred = (pred[..., 2:] - pred[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_gt + area_pred - inter + eps)


class TaskAlignedAssigner:
    """Assign each anchor to at most one ground-truth box by ``score ** alpha * iou ** beta``.

    For each box the ``topk`` anchors by that metric whose centres lie inside the box become
    candidates; an anchor claimed by several boxes goes to the one it overlaps most. Target scores
    are the one-hot class scaled by the normalised alignment metric.
    """

    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9) -> None:
        self.topk, self.alpha, self.beta, self.eps = topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(
        self,
        scores: torch.Tensor,
        pred_boxes: torch.Tensor,
        anchors: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """scores (B, A, C) probabilities; pred_boxes (B, A, 4) and gt_boxes (B, M, 4) xyxy in the
        anchors' units; gt_labels (B, M) long; gt_mask (B, M) bool.

        Returns target labels (B, A), target boxes (B, A, 4), target scores (B, A, C) and the
        foreground mask (B, A).
        """
        batch, num_anchors, num_classes = scores.shape
        if gt_boxes.shape[1] == 0:
            return (
                torch.zeros(batch, num_anchors, dtype=torch.long, device=scores.device),
                torch.zeros_like(pred_boxes),
                torch.zeros_like(scores),
                torch.zeros(batch, num_anchors, dtype=torch.bool, device=scores.device),
            )
        inside = self._centres_inside(anchors, gt_boxes) & gt_mask.unsqueeze(-1)
        iou = pairwise_iou(gt_boxes, pred_boxes) * inside
        class_scores = scores.gather(2, gt_labels.unsqueeze(1).expand(-1, num_anchors, -1)).transpose(1, 2)
        metric = class_scores.pow(self.alpha) * iou.pow(self.beta) * inside
        topk = min(self.topk, num_anchors)
        top_index = metric.topk(topk, dim=-1).indices
        candidates = torch.zeros_like(metric, dtype=torch.bool).scatter_(-1, top_index, True) & inside
        positive = candidates & (metric > 0)
        claimed = positive.sum(1) > 1
        best_gt = iou.argmax(1)
        unique = torch.nn.functional.one_hot(best_gt, gt_boxes.shape[1]).transpose(1, 2).bool()
        positive = torch.where(claimed.unsqueeze(1), unique & positive, positive)
        foreground = positive.any(1)
        gt_index = positive.float().argmax(1)
        labels = gt_labels.gather(1, gt_index)
        boxes = gt_boxes.gather(1, gt_index.unsqueeze(-1).expand(-1, -1, 4))
        metric = metric * positive
        best_metric = metric.amax(-1, keepdim=True)
        best_iou = (iou * positive).amax(-1, keepdim=True)
        normalised = (metric * best_iou / (best_metric + self.eps)).amax(1)
        target_scores = torch.nn.functional.one_hot(labels, num_classes).float() * (normalised * foreground).unsqueeze(-1)
        return labels, boxes, target_scores, foreground

    def _centres_inside(self, anchors: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
        """(B, M, A): anchor centre strictly inside the box."""
        left_top = anchors.view(1, 1, -1, 2) - gt_boxes[..., None, :2]
        right_bottom = gt_boxes[..., None, 2:] - anchors.view(1, 1, -1, 2)
        return torch.cat((left_top, right_bottom), -1).amin(-1) > self.eps
