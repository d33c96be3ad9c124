"""What a task hands the engine: model, loss step, data, evaluator, and optional per-epoch hooks."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils.data import Dataset


def data_or_synthetic(configured: str | None, synth_dir: str, write: Callable[[Path], Path], kind: str) -> Path:
    """The configured data.yaml, or the built-in synthetic set, generated in ``synth_dir`` on first use."""
    if configured:
        return Path(configured)
    out = Path(synth_dir)
    if not (out / "data.yaml").is_file():
        print(f"litebone: no data given; generating synthetic {kind} in {out}")
        write(out)
    return out / "data.yaml"


@dataclass
class Evaluation:
    """What ``Task.evaluate`` found: ``metrics`` for the engine, and ``details`` (the task's own: detections,
    sample predictions) for ``Task.save_samples`` and reports."""

    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


class Task:
    """What a task hands the engine. Subclass and fill in the extension points; the ``Trainer`` owns the rest.

    ``metric`` names the key of ``evaluate``'s metrics that selects ``best.pt`` and drives early
    stopping; ``metric_mode`` says whether higher or lower is better; ``collate_fn`` batches the
    datasets' samples (None: torch's default).
    """

    name: str = "task"
    metric: str = "metric"
    metric_mode: str = "max"
    collate_fn: Callable | None = None

    def build_model(self) -> nn.Module:
        """A freshly initialised model (pretrained backbone weights as configured), in training mode."""
        raise NotImplementedError

    def train_dataset(self) -> Dataset:
        """The training split, augmented; called once per run."""
        raise NotImplementedError

    def val_dataset(self) -> Dataset:
        """The validation split, unaugmented; called once per run."""
        raise NotImplementedError

    def training_modules(self, model: nn.Module) -> nn.ModuleDict:
        """Trainable modules the loss uses besides ``model`` (e.g. distillation adapters), or none.

        The engine optimises them with the model, averages their gradients across processes, keeps
        them in checkpoints and hands them back to every ``training_step``.
        """
        return nn.ModuleDict()

    def training_step(self, model: nn.Module, batch: Any, device: torch.device,
                      modules: nn.ModuleDict) -> tuple[torch.Tensor, dict[str, float]]:
        """Forward and loss on one batch: (loss to backpropagate, named loss items to log).

        ``model`` may be wrapped in ``DistributedDataParallel``; call it, and reach its parts through
        ``unwrap(model)``. ``modules`` is what ``training_modules`` returned.
        """
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Any, device: torch.device) -> Evaluation:
        """Score ``model`` (in eval mode, no gradients) on every batch of ``loader``."""
        raise NotImplementedError

    def batch_size(self, batch: Any) -> int:
        """Images in ``batch`` (for images/s)."""
        first = batch["image"] if isinstance(batch, dict) else batch[0]
        return int(first.shape[0])

    def metadata(self) -> dict[str, Any]:
        """Plain data stored in every checkpoint (e.g. class names) so the weights are self-describing."""
        return {}

    def validates(self, epoch: int, epochs: int) -> bool:
        """Whether to evaluate after ``epoch`` (0-based, of ``epochs``); an epoch that is not evaluated cannot become ``best.pt``."""
        return True

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Hook before each training epoch (0-based ``epoch`` of ``epochs``): e.g. switch mosaic off for the last ones."""

    def save_samples(self, out_dir: Path, evaluation: Evaluation) -> None:
        """Hook after each evaluation: write plots and sample predictions of ``evaluation`` into ``out_dir``."""
