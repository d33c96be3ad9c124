"""The depth recipe: model, data, loss, evaluation, plus the shared train and run sections."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import ranged
from ..engine import RunConfig, TrainConfig


@dataclass
class DepthModelConfig:
    backbone: str = "mobilenetv2_100"
    out_indices: tuple[int, ...] | None = None
    pretrained: Any = False
    init: str | None = None
    in_chans: int = ranged(3, ge=1, le=4)
    backbone_kwargs: dict = field(default_factory=dict)
    frozen_stages: int = -1
    decoder: str = "fastdepth"
    decoder_kwargs: dict = field(default_factory=dict)
    mode: Literal["metric", "relative"] = "metric"
    activation: Literal["softplus", "exp", "sigmoid"] = "softplus"


@dataclass
class DepthDataConfig:
    """``data: null`` trains on generated synthetic scenes (``synth_*`` control them).

    ``low_res_fraction``: the first fraction of the epochs trains below full size (progressive
    resizing): at ``low_res_scale`` times the size, about 2.2x faster per epoch, except the last
    ``ramp_fraction`` of those epochs, whose size climbs linearly towards full size, one step per
    epoch, so that the full-size epochs start from a model already close to that scale. Epochs below
    full size are not validated: the model is picked at full size, where it scores low until the
    full-size epochs adapt it (benchmarks.pareto; the README's depth ladder).
    """

    data: str | None = None
    height: int = ranged(128, ge=32)
    width: int = ranged(160, ge=32)
    low_res_fraction: float = ranged(0.6, ge=0, lt=1)
    low_res_scale: float = ranged(0.5, gt=0, le=1)
    ramp_fraction: float = ranged(0.2, ge=0, le=1)
    metric_zoom: float = ranged(0.5, ge=0, le=1)
    synth_dir: str = "datasets/scenes"
    synth_train: int = ranged(1000, ge=1)
    synth_val: int = ranged(200, ge=1)
    synth_size: int = ranged(160, ge=32)


@dataclass
class DepthLossConfig:
    name: Literal["silog", "ssi", "l1", "berhu"] = "silog"
    kwargs: dict = field(default_factory=dict)


@dataclass
class DepthEvalConfig:
    min_depth: float = ranged(1e-3, gt=0)
    max_depth: float | None = ranged(None, gt=0)
    crop: Literal["none", "eigen", "garg"] = "none"
    median_scaling: bool = False
    samples: int = ranged(6, ge=0)


@dataclass
class DepthConfig:
    """Defaults are a few-minute CPU demo on synthetic scenes; see configs/ for real-data recipes."""

    model: DepthModelConfig = field(default_factory=DepthModelConfig)
    data: DepthDataConfig = field(default_factory=DepthDataConfig)
    loss: DepthLossConfig = field(default_factory=DepthLossConfig)
    eval: DepthEvalConfig = field(default_factory=DepthEvalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=16, batch_size=8, lr=1e-2, weight_decay=0.01, ema_decay=0.99))
    run: RunConfig = field(default_factory=RunConfig)
