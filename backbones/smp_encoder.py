"""Use any litebone backbone as a segmentation-models-pytorch encoder (Unet, FPN, and the rest).

    import segmentation_models_pytorch as smp
    from backbones.smp_encoder import register_smp_encoder
    model = smp.Unet(register_smp_encoder("mobilenetv2_100"), encoder_weights=None, classes=1)

smp's encoders return ``[input, stride 2, 4, 8, 16, 32]``. A network with no stride-2 level (timm
models that start at stride 4) yields a zero-channel stride-2 map there, so Unet's skip is a no-op.
The backbone's levels are exactly ``ceil(input / stride)`` (its ``exact_sizes`` default), which
smp's decoders need because they add maps of matching sizes.
"""
from __future__ import annotations

from typing import Any

import segmentation_models_pytorch as smp
import torch
import torch.nn as nn

from ._builder import available_levels, get_backbone

PREFIX = "litebone-"


class SmpEncoder(nn.Module):
    """A litebone backbone behind smp's encoder interface (``out_channels``, ``output_stride``).

    The capability flags smp's own encoder tests read are declared as measured: ``torch.compile``
    (fullgraph, dynamic shapes) and strict ``torch.export`` work; TorchScript does not, because the
    backbone's input checks and level metadata are plain Python.
    """

    _is_torch_scriptable = False
    _is_torch_exportable = True
    _is_torch_compilable = True

    def __init__(
        self, backbone_name: str, depth: int = 5, output_stride: int = 32, in_channels: int = 3, **backbone_kwargs: Any
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"litebone smp encoders support output_stride=32 only, got {output_stride}")
        if not 1 <= depth <= 5:
            raise ValueError(f"encoder_depth must be 1..5 for a litebone encoder, got {depth}")
        self.name = PREFIX + backbone_name
        self._backbone_name = backbone_name
        self._backbone_kwargs = backbone_kwargs
        self._depth = depth
        self.output_stride = min(output_stride, 2**depth)
        self._build(in_channels)

    def _build(self, in_channels: int) -> None:
        wanted = range(self._depth)
        have = set(available_levels(self._backbone_name, **self._backbone_kwargs))
        self._missing = [level for level in wanted if level not in have]
        if any(level > 0 for level in self._missing):
            raise ValueError(f"{self._backbone_name} lacks levels {self._missing}; smp encoders need strides 4 to 32")
        self.backbone = get_backbone(
            self._backbone_name, out_indices=tuple(lv for lv in wanted if lv in have), in_chans=in_channels,
            **self._backbone_kwargs,
        )
        self.out_channels = [in_channels] + [0] * len(self._missing) + self.backbone.channels

    def preprocessing_params(self) -> dict[str, Any]:
        """The backbone's input spec in the format of smp's ``get_preprocessing_params`` (mean, std, input_range)."""
        spec = self.backbone.input_spec
        return {"input_space": "RGB", "input_range": list(spec.input_range), "mean": list(spec.mean), "std": list(spec.std)}

    def __prepare_scriptable__(self) -> "SmpEncoder":
        """``torch.jit.script`` calls this first: refuse with the alternatives, as ``_is_torch_scriptable`` says."""
        raise RuntimeError(f"{self.name} is not TorchScript-scriptable; use torch.export or torch.compile instead")

    def set_in_channels(self, in_channels: int, pretrained: bool = True) -> None:
        """Rebuild for ``in_channels`` inputs (smp calls this for non-RGB models)."""
        if in_channels != self.out_channels[0]:
            self._build(in_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.backbone(x)
        if self._missing:
            half = features[0].new_zeros(x.shape[0], 0, (x.shape[2] + 1) // 2, (x.shape[3] + 1) // 2)
            features = [half] + features
        return [x] + features


def register_smp_encoder(backbone_name: str, **backbone_kwargs: Any) -> str:
    """Register ``backbone_name`` in smp's encoder table; return the ``encoder_name`` to pass to smp."""
    available_levels(backbone_name, **{k: v for k, v in backbone_kwargs.items() if k != "pretrained"})
    encoder_name = PREFIX + backbone_name
    smp.encoders.encoders[encoder_name] = {
        "encoder": SmpEncoder,
        "pretrained_settings": {},
        "params": {"backbone_name": backbone_name, **backbone_kwargs},
    }
    return encoder_name
