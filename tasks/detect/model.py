"""``Detector = backbone -> neck -> head``, wired by channels and strides alone."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from backbones import ImageNormalize, get_backbone
from heads import build_head, build_neck

from .config import DetectModelConfig
from .letterbox import detections_to_original, letterbox
from .postprocess import non_max_suppression


class Detector(nn.Module):
    """Training forward returns the head's raw maps; ``predict`` returns boxes in original pixels.

    Images enter as raw 0-255 pixels with ``in_chans`` channels; the backbone's ``input_spec`` normalises them.
    """

    def __init__(
        self,
        backbone: str,
        num_classes: int,
        out_indices: Sequence[int] = (2, 3, 4),
        pretrained: bool | str = False,
        in_chans: int = 3,
        backbone_kwargs: dict | None = None,
        frozen_stages: int = -1,
        neck: str = "ghostpan",
        neck_kwargs: dict | None = None,
        head: str = "yolo",
        head_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        self.backbone = get_backbone(backbone, out_indices=out_indices, pretrained=pretrained, in_chans=in_chans,
                                     frozen_stages=frozen_stages, **(backbone_kwargs or {}))
        self.neck = build_neck(neck, in_channels=self.backbone.channels, strides=self.backbone.strides, **(neck_kwargs or {}))
        self.head = build_head(head, in_channels=self.neck.out_channels, strides=self.neck.out_strides, num_classes=num_classes, **(head_kwargs or {}))
        self.num_classes = num_classes
        self.normalize = ImageNormalize(self.backbone.input_spec)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalize(images)
        features = self.backbone(x)
        return self.head(self.neck(features))

    def fuse(self, size: int = 320, channels_last: bool | None = None) -> "Detector":
        """An inference-only copy with every BatchNorm of backbone, neck and head folded, re-parameterisable
        blocks merged, and NHWC storage where it is faster at ``size`` on this device (``channels_last=None``)."""
        from ..inference import inference_copy

        device = self.normalize.mean.device
        return inference_copy(self, torch.zeros(1, self.backbone.in_chans, size, size, device=device), channels_last)

    @torch.no_grad()
    def detect(self, images: torch.Tensor, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> list[torch.Tensor]:
        """Letterboxed batch -> per image (N, 6) ``[x1, y1, x2, y2, score, class]`` in input pixels."""
        boxes, scores = self.head.decode(self(images))
        return non_max_suppression(boxes, scores, conf, iou, max_det)

    @torch.no_grad()
    def predict(self, images: list[np.ndarray], img_size: int = 320, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> list[np.ndarray]:
        """uint8 (H, W, in_chans) images of any size -> per image (N, 6) detections in that image's pixels."""
        self.eval()
        device = self.normalize.mean.device
        boxed = [letterbox(image, img_size) for image in images]
        batch = torch.stack([torch.from_numpy(b.transpose(2, 0, 1).copy()) for b, _ in boxed]).to(device)
        return detections_to_original(self.detect(batch, conf, iou, max_det), [info for _, info in boxed])


def build_detector(config: DetectModelConfig, num_classes: int) -> Detector:
    """A ``Detector`` from a ``DetectModelConfig`` (its fields, but ``init``, are the constructor's arguments)."""
    fields = dataclasses.asdict(config)
    fields.pop("init")
    return Detector(num_classes=num_classes, **fields)
