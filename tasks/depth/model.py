"""``DepthModel = backbone -> decoder -> depth head``; output positive, at input resolution."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from backbones import align_to_strides, available_levels, get_backbone
from heads.depth import DepthHead, build_decoder
from heads.layers import ImageNormalize


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
        backbone_kwargs: dict | None = None,
        decoder_kwargs: dict | None = None,
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        kwargs = backbone_kwargs or {}
        indices = tuple(out_indices) if out_indices is not None else tuple(available_levels(backbone, **kwargs))
        self.backbone = get_backbone(backbone, out_indices=indices, pretrained=pretrained, frozen_stages=frozen_stages, **kwargs)
        self.decoder = build_decoder(decoder, in_channels=self.backbone.channels, strides=self.backbone.strides, **(decoder_kwargs or {}))
        self.head = DepthHead(self.decoder.out_channels, mode=mode, activation=activation, max_depth=max_depth)
        self.mode = mode
        self.normalize = ImageNormalize()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.normalize(images)
        features = align_to_strides(self.backbone(x), self.backbone.strides, x.shape[-2:])
        return self.head(self.decoder(features), x.shape[-2:])

    @torch.no_grad()
    def predict(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 image of any size -> (H, W) float32 output at that image's size."""
        import cv2

        self.eval()
        resized = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        batch = torch.from_numpy(resized.transpose(2, 0, 1).copy())[None].to(self.normalize.mean.device)
        out = self(batch)[0, 0].float().cpu().numpy()
        return cv2.resize(out, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def build_depth_model(config, max_depth: float) -> DepthModel:
    """A ``DepthModel`` from a ``DepthModelConfig``."""
    return DepthModel(
        backbone=config.backbone, decoder=config.decoder, out_indices=config.out_indices, mode=config.mode,
        activation=config.activation, max_depth=max_depth, pretrained=config.pretrained,
        backbone_kwargs=config.backbone_kwargs, decoder_kwargs=config.decoder_kwargs, frozen_stages=config.frozen_stages,
    )
