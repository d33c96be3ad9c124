"""Checkpoints: atomic writes, weights-only reads, safetensors export."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from backbones import content_problem, describe_unreadable

from ..errors import UserError
from ..files import atomic_open


def atomic_save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` with ``torch.save`` to a temporary file, fsync it, then rename over ``path``."""
    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a litebone checkpoint with ``weights_only=True``; arbitrary pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn zip, a text file, a Git LFS pointer, a refused pickle: many kinds
        problem = content_problem(path)
        if problem is None and isinstance(error, pickle.UnpicklingError):
            raise UserError(
                f"{path} holds objects the weights-only loader refuses ({str(error).splitlines()[0][:160]}). "
                f"litebone loads only plain tensors and containers; do not load checkpoints you do not trust."
            ) from None
        raise UserError(f"{path} is not a readable checkpoint ({problem or describe_unreadable(path, error)}); it may be truncated") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise UserError(f"{path} is not a litebone checkpoint (no 'model' entry)")
    return checkpoint


def export_safetensors(model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save the model's tensors as safetensors (the format for sharing weights)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)
