"""Checkpoints: atomic writes, weights-only reads, safetensors export."""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..errors import UserError


def atomic_save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` with ``torch.save`` to a temporary file, fsync it, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a litebone checkpoint with ``weights_only=True``; arbitrary pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserError(
            f"{path} holds objects the weights-only loader refuses ({str(error).splitlines()[0][:160]}). "
            f"litebone loads only plain tensors and containers; do not load checkpoints you do not trust."
        ) from None
    except (RuntimeError, EOFError) as error:
        raise UserError(f"{path} is not a readable checkpoint ({error}); it may be truncated") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise UserError(f"{path} is not a litebone checkpoint (no 'model' entry)")
    return checkpoint


def export_safetensors(model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save the model's tensors as safetensors (the format for sharing weights)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=metadata)
