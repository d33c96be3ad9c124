"""From decoded boxes and scores to final detections: confidence filter, class-aware NMS, max_det."""
from __future__ import annotations

import torch
from torchvision.ops import batched_nms


def non_max_suppression(
    boxes: torch.Tensor, scores: torch.Tensor, conf: float = 0.25, iou: float = 0.7, max_det: int = 300
) -> list[torch.Tensor]:
    """Per image (N, 6) ``[x1, y1, x2, y2, score, class]``, best first.

    ``boxes`` (B, A, 4) xyxy, ``scores`` (B, A, C) probabilities. Each anchor keeps its best class;
    one ``batched_nms`` call covers the whole batch (groups are image x class).
    """
    if not 0 <= conf <= 1 or not 0 <= iou <= 1:
        raise ValueError(f"conf and iou thresholds must lie in [0, 1], got conf={conf}, iou={iou}")
    batch, anchors, num_classes = scores.shape
    best, labels = scores.max(-1)
    image = torch.arange(batch, device=boxes.device).repeat_interleave(anchors)
    flat_boxes, flat_best, flat_labels = boxes.reshape(-1, 4), best.reshape(-1), labels.reshape(-1)
    keep = flat_best > conf
    flat_boxes, flat_best, flat_labels, image = flat_boxes[keep], flat_best[keep], flat_labels[keep], image[keep]
    kept = batched_nms(flat_boxes.float(), flat_best.float(), image * num_classes + flat_labels, iou)
    kept = kept[torch.argsort(image[kept], stable=True)]
    counts = torch.bincount(image[kept], minlength=batch)
    rank = torch.arange(kept.numel(), device=boxes.device) - (torch.cumsum(counts, 0) - counts)[image[kept]]
    kept = kept[rank < max_det]
    rows = torch.cat((flat_boxes[kept], flat_best[kept, None], flat_labels[kept, None].to(flat_boxes.dtype)), 1)
    return list(rows.split(counts.clamp(max=max_det).tolist()))
