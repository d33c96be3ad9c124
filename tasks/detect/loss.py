"""YOLOv8-style detection loss: BCE classification, CIoU box and Distribution Focal Loss, vectorised."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import complete_box_iou_loss

from heads.detect import bbox_to_distance, decode_distances, make_anchors
from heads.detect.yolo import YOLOHead

from .assigner import TaskAlignedAssigner


@dataclass
class LossGains:
    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5


def pad_targets(targets: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 6) rows ``[image index, class, x1, y1, x2, y2]`` -> labels (B, M), boxes (B, M, 4), mask (B, M).

    Vectorised: each row's slot is its rank among rows of the same image.
    """
    device = targets.device
    if targets.shape[0] == 0:
        return (torch.zeros(batch_size, 0, dtype=torch.long, device=device),
                torch.zeros(batch_size, 0, 4, device=device), torch.zeros(batch_size, 0, dtype=torch.bool, device=device))
    image = targets[:, 0].long()
    order = torch.argsort(image, stable=True)
    targets, image = targets[order], image[order]
    counts = torch.bincount(image, minlength=batch_size)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(targets.shape[0], device=device) - starts[image]
    width = int(counts.max())
    labels = torch.zeros(batch_size, width, dtype=torch.long, device=device)
    boxes = torch.zeros(batch_size, width, 4, device=device)
    mask = torch.zeros(batch_size, width, dtype=torch.bool, device=device)
    labels[image, slot] = targets[:, 1].long()
    boxes[image, slot] = targets[:, 2:6]
    mask[image, slot] = True
    return labels, boxes, mask


def distribution_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DFL (Li et al., GFL): cross-entropy on the two bins around each continuous target -> (N,)."""
    left = target.long()
    right = left + 1
    weight_left = right.float() - target
    weight_right = 1 - weight_left
    reg_max = logits.shape[-1]
    loss = (
        F.cross_entropy(logits.reshape(-1, reg_max), left.reshape(-1), reduction="none").view(left.shape) * weight_left
        + F.cross_entropy(logits.reshape(-1, reg_max), right.clamp(max=reg_max - 1).reshape(-1), reduction="none").view(left.shape) * weight_right
    )
    return loss.mean(-1)


def distillation_loss(student: YOLOHead, student_raw: list[torch.Tensor], teacher: YOLOHead, teacher_raw: list[torch.Tensor],
                      temperature: float) -> torch.Tensor:
    """KL divergence from the teacher's class scores (per-class Bernoulli) and DFL box distributions (softmax over
    bins) to the student's, on the student's anchor points, softened by ``temperature``; zero when they agree."""
    student_box, student_cls = (t.float() for t in student.flatten(student_raw))
    teacher_box, teacher_cls = (t.float().detach() for t in teacher.flatten(teacher_raw))
    s, t = student_cls / temperature, teacher_cls / temperature
    target = torch.sigmoid(t)
    cls = target * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - target) * (F.logsigmoid(-t) - F.logsigmoid(-s))
    bins = student.reg_max
    s_box = (student_box / temperature).reshape(*student_box.shape[:2], 4, bins).log_softmax(-1)
    t_box = (teacher_box / temperature).reshape(*teacher_box.shape[:2], 4, bins).log_softmax(-1)
    box = (t_box.exp() * (t_box - s_box)).sum(-1)
    return (cls.sum(-1).mean() + box.sum(-1).mean()) * temperature**2


class DetectionLoss(nn.Module):
    """Loss for a ``YOLOHead``'s raw maps given targets in input pixels."""

    def __init__(self, gains: LossGains | None = None, topk: int = 10, alpha: float = 0.5, beta: float = 6.0) -> None:
        super().__init__()
        self.gains = gains or LossGains()
        self.assigner = TaskAlignedAssigner(topk=topk, alpha=alpha, beta=beta)

    def forward(self, head: YOLOHead, raw: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts for ``head``'s ``raw`` maps; ``targets`` is (N, 6) ``[image, class, x1, y1, x2, y2]`` in pixels."""
        batch = raw[0].shape[0]
        anchors, stride = make_anchors([r.shape[-2:] for r in raw], head.strides, raw[0].device)
        box_logits, cls_logits = head.flatten(raw)
        box_logits, cls_logits = box_logits.float(), cls_logits.float()
        pred_boxes = decode_distances(head.distances(box_logits), anchors)
        labels, gt_boxes, gt_mask = pad_targets(targets.to(raw[0].device).float(), batch)
        target_labels, target_boxes, target_scores, foreground = self.assigner(
            cls_logits.detach().sigmoid(),
            (pred_boxes.detach() * stride).to(gt_boxes.dtype),
            anchors * stride,
            labels,
            gt_boxes,
            gt_mask,
        )
        score_sum = target_scores.sum().clamp(min=1)
        loss_cls = F.binary_cross_entropy_with_logits(cls_logits, target_scores, reduction="sum") / score_sum
        loss_box = loss_dfl = cls_logits.new_zeros(())
        if foreground.any():
            weight = target_scores.sum(-1)[foreground]
            target_grid = target_boxes / stride
            loss_box = (complete_box_iou_loss(pred_boxes[foreground], target_grid[foreground], reduction="none") * weight).sum() / score_sum
            target_distances = bbox_to_distance(anchors.expand(batch, -1, -1)[foreground], target_grid[foreground], head.reg_max - 1)
            dfl_logits = box_logits[foreground].view(-1, 4, head.reg_max)
            loss_dfl = (distribution_focal_loss(dfl_logits, target_distances) * weight).sum() / score_sum
        total = self.gains.box * loss_box + self.gains.cls * loss_cls + self.gains.dfl * loss_dfl
        return total, {"box": loss_box.item(), "cls": loss_cls.item(), "dfl": loss_dfl.item()}
