"""Config sections every task shares: how to train and where the run goes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TrainConfig:
    """Optimisation, numerics, and run control."""

    epochs: int = 30
    batch_size: int = 16
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    scheduler: Literal["cosine", "none"] = "cosine"
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    ema: bool = True
    ema_decay: float = 0.998
    grad_clip: float = 10.0
    accumulate: int = 1
    seed: int = 0
    deterministic: bool = False
    patience: int = 0
    device: str = "auto"
    workers: int = 2
    checkpoint_every: int = 1


@dataclass
class RunConfig:
    """Where outputs go: ``<project>/<name>``; an existing name gets a number unless ``exist_ok``."""

    project: str = "runs"
    name: str = "exp"
    exist_ok: bool = False
