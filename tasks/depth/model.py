"""``DepthModel = backbone -> decoder -> depth head``; output positive, at input resolution."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from backbones import ImageNormalize, available_levels, get_backbone
from heads import build_decoder
from heads.depth import DepthHead

from .config import DepthModelConfig


class DepthModel(nn.Module):
    """Metres in ``metric`` mode, inverse depth in ``relative`` mode; (B, 1, H, W)."""

    def __init__(
        self,
        backbone: str,
        decoder: str = "fastdepth",
        out_indices: Sequence[int] | None = None,
        mode: str = "metric",
        activation: str = "softplus",
        max_depth: float = 10.0,
        pretrained: bool | str = False,
        in_chans: int = 3,
        backbone_kwargs: dict | None = None,
        decoder_kwargs: dict | None = None,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        kwargs = backbone_kwargs or {}
        indices = tuple(out_indices) if out_indices is not None else tuple(available_levels(backbone, **kwargs))
        self.backbone = get_backbone(backbone, out_indices=indices, pretrained=pretrained, in_chans=in_chans, frozen_stages=frozen_stages,
                                     **kwargs)
        self.decoder = build_decoder(decoder, in_channels=self.backbone.channels, strides=self.backbone.strides, **(decoder_kwargs or {}))
        self.head = DepthHead(self.decoder.out_channels, mode=mode, activation=activation, max_depth=max_depth)
        self.mode = mode
        self.normalize = ImageNormalize(self.backbone.input_spec)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.normalize(images)
        return self.head(self.decoder(self.backbone(x)), x.shape[-2:])

    def fuse(self, size: tuple[int, int] = (256, 320), channels_last: bool | None = None) -> "DepthModel":
        """An inference-only copy with every BatchNorm of backbone, decoder and head folded, re-parameterisable
        blocks merged, and NHWC storage where it is faster at ``size`` (H, W) on this device (``channels_last=None``)."""
        from ..inference import inference_copy

        device = self.normalize.mean.device
        return inference_copy(self, torch.zeros(1, self.backbone.in_chans, *size, device=device), channels_last)

    @torch.no_grad()
    def predict(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """uint8 (H, W, in_chans) image of any size -> (H, W) float32 output at that image's size."""
        import cv2

        self.eval()
        resized = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR).reshape(size[0], size[1], -1)
        batch = torch.from_numpy(resized.transpose(2, 0, 1).copy())[None].to(self.normalize.mean.device)
        out = self(batch)[0, 0].float().cpu().numpy()
        return cv2.resize(out, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def build_depth_model(config: DepthModelConfig, max_depth: float) -> DepthModel:
    """A ``DepthModel`` from a ``DepthModelConfig`` (its fields, but ``init``, are the constructor's arguments)."""
    fields = dataclasses.asdict(config)
    fields.pop("init")
    return DepthModel(max_depth=max_depth, **fields)
