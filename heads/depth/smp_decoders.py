"""segmentation-models-pytorch's Unet and FPN decoders, fed directly by litebone levels.

smp decoders expect ``[input, stride 2, 4, 8, 16, 32]``; a level the backbone lacks (stride 2 on
networks that start at stride 4) is a zero-channel map, so its skip is a no-op.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from segmentation_models_pytorch.decoders.fpn.decoder import FPNDecoder
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

from ..registries import DECODERS

SMP_STRIDES = (2, 4, 8, 16, 32)


class _SmpLevels(nn.Module):
    """Map litebone levels onto smp's five-stride layout."""

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], needed: Sequence[int]) -> None:
        super().__init__()
        missing = [s for s in needed if s not in strides and s != 2]
        if missing:
            raise ValueError(f"this smp decoder needs backbone levels at strides {list(needed)}; missing {missing}. "
                             f"Use out_indices covering levels 1 to 4.")
        self.position = {s: strides.index(s) for s in SMP_STRIDES if s in strides}
        self.channels = [0] + [in_channels[self.position[s]] if s in self.position else 0 for s in SMP_STRIDES]

    def arrange(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """smp's list: a zero-channel map at input size (Unet sizes its output from it), then the levels."""
        finest = min(self.position)
        reference = features[self.position[finest]]
        out = [reference.new_zeros(reference.shape[0], 0, reference.shape[-2] * finest, reference.shape[-1] * finest)]
        for stride in SMP_STRIDES:
            if stride in self.position:
                out.append(features[self.position[stride]])
            else:
                quarter = features[self.position[4]]
                out.append(quarter.new_zeros(quarter.shape[0], 0, quarter.shape[-2] * 2, quarter.shape[-1] * 2))
        return out


class SmpUnet(nn.Module):
    """smp's UnetDecoder over litebone levels, one block per entry of ``decoder_channels``: five end at
    stride 1 (smp's U-Net), four at stride 2, where the depth head upsamples its one channel."""

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], decoder_channels: Sequence[int] = (128, 64, 32, 16, 16)) -> None:
        super().__init__()
        if not 1 <= len(decoder_channels) <= len(SMP_STRIDES):
            raise ValueError(f"decoder_channels takes 1 to {len(SMP_STRIDES)} widths, one per U-Net block (five end at stride 1, "
                             f"four at stride 2), got {list(decoder_channels)}")
        self.levels = _SmpLevels(in_channels, strides, SMP_STRIDES)
        self.decoder = UnetDecoder(encoder_channels=self.levels.channels, decoder_channels=list(decoder_channels),
                                   n_blocks=len(decoder_channels))
        self.out_channels = decoder_channels[-1]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.decoder(self.levels.arrange(features))


class SmpFPN(nn.Module):
    """smp's FPNDecoder over litebone levels; output at stride 4."""

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], pyramid_channels: int = 128, segmentation_channels: int = 64) -> None:
        super().__init__()
        self.levels = _SmpLevels(in_channels, strides, (4, 8, 16, 32))
        self.decoder = FPNDecoder(encoder_channels=self.levels.channels, encoder_depth=5, pyramid_channels=pyramid_channels,
                                  segmentation_channels=segmentation_channels, dropout=0.0, merge_policy="add")
        self.out_channels = segmentation_channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.decoder(self.levels.arrange(features))


@DECODERS.register("unet")
def unet(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> SmpUnet:
    return SmpUnet(in_channels, strides, **kwargs)


@DECODERS.register("fpn")
def fpn(in_channels: Sequence[int], strides: Sequence[int], **kwargs) -> SmpFPN:
    return SmpFPN(in_channels, strides, **kwargs)
