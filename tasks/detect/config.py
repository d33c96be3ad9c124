"""The detection recipe: model, data, loss, evaluation, plus the shared train and run sections."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import RunConfig, TrainConfig


@dataclass
class DetectModelConfig:
    backbone: str = "mobilenetv3_small_100"
    out_indices: tuple[int, ...] = (2, 3, 4)
    pretrained: Any = False
    backbone_kwargs: dict = field(default_factory=dict)
    frozen_stages: int = -1
    neck: str = "ghostpan"
    neck_kwargs: dict = field(default_factory=dict)
    head: str = "yolo"
    reg_max: int = 16
    depthwise_head: bool = True


@dataclass
class DetectDataConfig:
    """``data: null`` trains on generated synthetic shapes (``synth_*`` control them)."""

    data: str | None = None
    img_size: int = 192
    mosaic: float = 1.0
    close_mosaic: int = 3
    synth_dir: str = "datasets/shapes"
    synth_train: int = 1000
    synth_val: int = 200
    synth_size: int = 192


@dataclass
class DetectLossConfig:
    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5
    topk: int = 10
    alpha: float = 0.5
    beta: float = 6.0


@dataclass
class DetectEvalConfig:
    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300
    samples: int = 8


@dataclass
class DetectConfig:
    """Defaults are a few-minute CPU demo on synthetic shapes; see configs/ for real-data recipes."""

    model: DetectModelConfig = field(default_factory=DetectModelConfig)
    data: DetectDataConfig = field(default_factory=DetectDataConfig)
    loss: DetectLossConfig = field(default_factory=DetectLossConfig)
    eval: DetectEvalConfig = field(default_factory=DetectEvalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=12, batch_size=16, lr=3e-3, weight_decay=0.05))
    run: RunConfig = field(default_factory=RunConfig)
