"""Config sections every task shares: how to train and where the run goes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config import ranged


@dataclass
class DistillConfig:
    """Knowledge distillation from a trained ``teacher`` (a best.pt or .safetensors of the same task).

    ``weight`` scales the output distillation (softened by ``temperature`` for detection);
    ``features`` scales feature imitation through learned 1x1 adapters (detection: the neck's
    outputs; depth: the decoder's), 0 for none.
    """

    teacher: str | None = None
    weight: float = ranged(1.0, ge=0)
    temperature: float = ranged(2.0, gt=0)
    features: float = ranged(0.0, ge=0)


@dataclass
class TrainConfig:
    """Optimisation, numerics, and run control."""

    epochs: int = ranged(30, ge=1)
    batch_size: int = ranged(16, ge=1)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = ranged(2e-3, gt=0)
    weight_decay: float = ranged(0.05, ge=0)
    momentum: float = ranged(0.9, ge=0, lt=1)
    scheduler: Literal["cosine", "none"] = "cosine"
    warmup_epochs: float = ranged(1.0, ge=0)
    min_lr_ratio: float = ranged(0.01, ge=0, le=1)
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    memory_format: Literal["auto", "channels_last", "contiguous"] = "auto"
    ema: bool = True
    ema_decay: float = ranged(0.998, gt=0, lt=1)
    grad_clip: float = ranged(10.0, ge=0)
    accumulate: int = ranged(1, ge=1)
    seed: int = 0
    deterministic: bool = False
    patience: int = ranged(0, ge=0)
    device: str = "auto"
    workers: int = ranged(2, ge=0)
    checkpoint_every: int = ranged(1, ge=1)
    distill: DistillConfig = field(default_factory=DistillConfig)


@dataclass
class RunConfig:
    """Where outputs go: ``<project>/<name>``; an existing name gets a number unless ``exist_ok``."""

    project: str = "runs"
    name: str = "exp"
    exist_ok: bool = False
