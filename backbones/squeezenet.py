"""SqueezeNet 1.0 / 1.1 (Fire modules): torchvision's network and weights, extended to stride 32.

SqueezeNet stops at stride 16. Level 4 adds the smallest extension that follows the network's own
pattern: a 3x3/2 ceil-mode max-pool and one Fire(512, 64, 256, 256), randomly initialised even when
``pretrained=True``. Convolutions are unpadded and pools use ceil mode, so a level's spatial size
is close to, not exactly, input / stride (128 px gives 61, 30, 15, 7, 3 for 1.0).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch.nn as nn
import torchvision
from torchvision.models.squeezenet import Fire

from ._input import torchvision_input_spec
from ._registry import register_backbone
from ._weights import with_in_chans

PAPER = "Iandola et al., SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size, 2016 (arXiv:1602.07360)"
TAPS = {
    "1_0": [(96, 2, "features.1"), (256, 4, "features.5"), (512, 8, "features.10"), (512, 16, "features.12")],
    "1_1": [(64, 2, "features.1"), (128, 4, "features.4"), (256, 8, "features.7"), (512, 16, "features.12")],
}


def squeezenet_classifier(version: str = "1_0", pretrained: bool = False, in_chans: int = 3, **kwargs: Any) -> nn.Module:
    """torchvision's SqueezeNet classifier."""
    if version not in TAPS:
        raise ValueError(f"SqueezeNet version must be one of {sorted(TAPS)}, got {version!r}")
    model = getattr(torchvision.models, f"squeezenet{version}")(weights="DEFAULT" if pretrained else None, **kwargs)
    model.features[0] = with_in_chans(model.features[0], in_chans)
    return model


def squeezenet_trunk(version: str = "1_0", pretrained: bool = False, in_chans: int = 3, **kwargs: Any) -> nn.Module:
    """SqueezeNet's feature layers plus the stride-32 extension, with ``feature_info``."""
    classifier = squeezenet_classifier(version, pretrained, in_chans, **kwargs)
    trunk = nn.Sequential(OrderedDict(
        features=classifier.features,
        extension=nn.Sequential(nn.MaxPool2d(3, 2, ceil_mode=True), Fire(512, 64, 256, 256)),
    ))
    trunk.feature_info = [{"num_chs": c, "reduction": r, "module": m} for c, r, m in TAPS[version]]
    trunk.feature_info.append({"num_chs": 512, "reduction": 32, "module": "extension.1"})
    return trunk


for _version in TAPS:
    register_backbone(
        f"squeezenet{_version}", family="SqueezeNet", source="torchvision", paper=PAPER,
        defaults={"version": _version}, wrap="list", flatten_sequential=True,
        taps="last Fire module per stride; stride 32 is an added max-pool + Fire (not pretrained)",
        classifier=squeezenet_classifier, new_modules=("extension",),
        input_spec=torchvision_input_spec(f"SqueezeNet{_version}_Weights"),
    )(squeezenet_trunk)
