"""The detection recipe: model, data, loss, evaluation, plus the shared train and run sections."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import ranged
from ..engine import RunConfig, TrainConfig


@dataclass
class DetectModelConfig:
    backbone: str = "mobilenetv3_small_100"
    out_indices: tuple[int, ...] = (2, 3, 4)
    pretrained: Any = False
    init: str | None = None
    in_chans: int = ranged(3, ge=1, le=4)
    backbone_kwargs: dict = field(default_factory=dict)
    frozen_stages: int = -1
    neck: str = "ghostpan"
    neck_kwargs: dict = field(default_factory=dict)
    head: str = "yolo"
    head_kwargs: dict = field(default_factory=lambda: {"reg_max": 16, "depthwise": False})


@dataclass
class DetectDataConfig:
    """``data: null`` trains on generated synthetic shapes (``synth_*`` control them)."""

    data: str | None = None
    img_size: int = ranged(192, ge=32)
    mosaic: float = ranged(1.0, ge=0, le=1)
    close_mosaic: int = ranged(6, ge=0)
    synth_dir: str = "datasets/shapes"
    synth_train: int = ranged(1000, ge=1)
    synth_val: int = ranged(200, ge=1)
    synth_size: int = ranged(192, ge=32)


@dataclass
class DetectLossConfig:
    box: float = ranged(7.5, ge=0)
    cls: float = ranged(0.5, ge=0)
    dfl: float = ranged(1.5, ge=0)
    topk: int = ranged(10, ge=1)
    alpha: float = 0.5
    beta: float = 6.0


@dataclass
class DetectEvalConfig:
    conf: float = ranged(0.001, ge=0, le=1)
    iou: float = ranged(0.7, gt=0, le=1)
    max_det: int = ranged(300, ge=1)
    samples: int = ranged(8, ge=0)


@dataclass
class DetectConfig:
    """Defaults are a few-minute CPU demo on synthetic shapes; see configs/ for real-data recipes."""

    model: DetectModelConfig = field(default_factory=DetectModelConfig)
    data: DetectDataConfig = field(default_factory=DetectDataConfig)
    loss: DetectLossConfig = field(default_factory=DetectLossConfig)
    eval: DetectEvalConfig = field(default_factory=DetectEvalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=12, batch_size=16, lr=2e-2, weight_decay=0.05))
    run: RunConfig = field(default_factory=RunConfig)
