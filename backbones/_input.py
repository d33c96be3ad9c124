"""The backbone's input contract: the per-channel mean and std its weights expect, their range, the channel count.

It comes from where the weights come from: timm's ``pretrained_cfg``, torchvision's weight
metadata, or the family's own declaration. Consumers (task models, the smp bridge, exports) take
it from ``Backbone.input_spec`` and never re-derive it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn as nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputSpec:
    """Images enter as ``(x - mean) / std`` with ``x`` scaled to ``input_range``; one mean and std per channel."""

    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    input_range: tuple[float, float] = (0.0, 1.0)
    source: str = "ImageNet default"

    @property
    def channels(self) -> int:
        return len(self.mean)

    def with_channels(self, channels: int) -> "InputSpec":
        """The spec for ``channels`` inputs, matching how the first conv's RGB weights are adapted (timm's
        ``adapt_input_conv``): one channel is the mean of the RGB statistics, more repeat R, G, B cyclically."""
        if channels == len(self.mean):
            return self
        if channels == 1:
            return replace(self, mean=(sum(self.mean) / len(self.mean),), std=(sum(self.std) / len(self.std),))
        return replace(self, mean=tuple(self.mean[i % len(self.mean)] for i in range(channels)),
                       std=tuple(self.std[i % len(self.std)] for i in range(channels)))


def timm_input_spec(*names: str) -> InputSpec:
    """The spec in timm's ``pretrained_cfg`` of the first of ``names`` timm knows; ImageNet's when none."""
    import timm

    for name in names:
        cfg = timm.get_pretrained_cfg(name)
        if cfg is not None:
            return InputSpec(tuple(cfg.mean), tuple(cfg.std), source=f"timm pretrained_cfg of {name}")
    return InputSpec()


def torchvision_input_spec(weights: str) -> InputSpec:
    """The spec in torchvision's metadata of weights enum ``weights`` (e.g. ``ShuffleNet_V2_X1_0_Weights``)."""
    import torchvision

    transform = getattr(torchvision.models, weights).DEFAULT.transforms()
    return InputSpec(tuple(transform.mean), tuple(transform.std), source=f"torchvision {weights}.DEFAULT")


class ImageNormalize(nn.Module):
    """Pixels in ``[0, pixel_max]`` -> the normalised input ``spec`` asks for.

    Inside the model, so exports take raw pixels: ``(pixel / pixel_max * (hi - lo) + lo - mean) / std`` per channel.
    ``pixel_max`` is 255 for uint8 pixels (litebone's tasks) and 1 for images already scaled to ``[0, 1]`` (Ultralytics).
    """

    def __init__(self, spec: InputSpec, pixel_max: float = 255.0) -> None:
        super().__init__()
        low, high = spec.input_range
        scale = pixel_max / (high - low)
        mean = (torch.tensor(spec.mean) - low) * scale
        std = torch.tensor(spec.std) * scale
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - self.mean) / self.std
