"""``Detector = backbone -> neck -> head``, wired by channels and strides alone."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from backbones import align_to_strides, get_backbone
from heads import build_head, build_neck
from heads.layers import ImageNormalize

from .letterbox import from_letterbox, letterbox
from .postprocess import non_max_suppression


class Detector(nn.Module):
    """Training forward returns the head's raw maps; ``predict`` returns boxes in original pixels."""

    def __init__(
        self,
        backbone: str,
        num_classes: int,
        out_indices: Sequence[int] = (2, 3, 4),
        neck: str = "ghostpan",
        head: str = "yolo",
        pretrained: bool | str = False,
        backbone_kwargs: dict | None = None,
        neck_kwargs: dict | None = None,
        head_kwargs: dict | None = None,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        self.backbone = get_backbone(backbone, out_indices=out_indices, pretrained=pretrained, frozen_stages=frozen_stages, **(backbone_kwargs or {}))
        self.neck = build_neck(neck, in_channels=self.backbone.channels, strides=self.backbone.strides, **(neck_kwargs or {}))
        self.head = build_head(head, in_channels=self.neck.out_channels, strides=self.neck.out_strides, num_classes=num_classes, **(head_kwargs or {}))
        self.num_classes = num_classes
        self.normalize = ImageNormalize()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalize(images)
        features = self.backbone(x)
        features = align_to_strides(features, self.backbone.strides, x.shape[-2:])
        return self.head(self.neck(features))

    @torch.no_grad()
    def detect(self, images: torch.Tensor, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> list[torch.Tensor]:
        """Letterboxed batch -> per image (N, 6) ``[x1, y1, x2, y2, score, class]`` in input pixels."""
        boxes, scores = self.head.decode(self(images))
        return non_max_suppression(boxes, scores, conf, iou, max_det)

    @torch.no_grad()
    def predict(self, images: list[np.ndarray], img_size: int = 320, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> list[np.ndarray]:
        """RGB uint8 images of any size -> per image (N, 6) detections in that image's pixels."""
        self.eval()
        device = self.normalize.mean.device
        boxed = [letterbox(image, img_size) for image in images]
        batch = torch.stack([torch.from_numpy(b.transpose(2, 0, 1).copy()) for b, _ in boxed]).to(device)
        results = []
        for detections, (_, info) in zip(self.detect(batch, conf, iou, max_det), boxed):
            detections = detections.float().cpu()
            detections[:, :4] = from_letterbox(detections[:, :4], info)
            results.append(detections.numpy())
        return results


def build_detector(config, num_classes: int) -> Detector:
    """A ``Detector`` from a ``DetectModelConfig``."""
    return Detector(
        backbone=config.backbone,
        num_classes=num_classes,
        out_indices=config.out_indices,
        neck=config.neck,
        head=config.head,
        pretrained=config.pretrained,
        backbone_kwargs=config.backbone_kwargs,
        neck_kwargs=config.neck_kwargs,
        head_kwargs={"reg_max": config.reg_max, "depthwise": config.depthwise_head},
        frozen_stages=config.frozen_stages,
    )
