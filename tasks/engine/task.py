"""What a task hands the engine: model, loss step, data, evaluator, and optional per-epoch hooks."""
from __future__ import annotations

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


class Task:
    """Subclass and fill in; the ``Trainer`` owns everything else.

    ``metric`` names the key of ``evaluate``'s result that selects ``best.pt`` and drives early
    stopping; ``metric_mode`` says whether higher or lower is better.
    """

    name: str = "task"
    metric: str = "metric"
    metric_mode: str = "max"
    collate_fn: Callable | None = None

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def train_dataset(self) -> Dataset:
        raise NotImplementedError

    def val_dataset(self) -> Dataset:
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """Forward and loss on one batch: (loss to backpropagate, named loss items to log)."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Any, device: torch.device) -> dict[str, float]:
        raise NotImplementedError

    def batch_size(self, batch: Any) -> int:
        """Images in ``batch`` (for images/s)."""
        first = batch["image"] if isinstance(batch, dict) else batch[0]
        return int(first.shape[0])

    def metadata(self) -> dict[str, Any]:
        """Plain data stored in every checkpoint (e.g. class names) so the weights are self-describing."""
        return {}

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        """Hook: e.g. switch mosaic off for the last epochs."""

    def save_samples(self, out_dir: Path) -> None:
        """Hook: write sample predictions of the last ``evaluate`` to ``out_dir``."""
