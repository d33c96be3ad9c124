"""Read trained weights back: a litebone checkpoint (.pt) or exported safetensors, with their config."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backbones import read_safetensors

from ..errors import UserError
from .checkpoint import load_checkpoint


def read_trained(path: str | Path, task: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(state dict, config dict, metadata) from ``last.pt``/``best.pt`` or ``best.safetensors``.

    Checkpoints give their EMA weights when they have them.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} does not exist; train first (litebone train {task}) or check the path")
    if path.suffix == ".safetensors":
        try:
            tensors, metadata = read_safetensors(path)
        except ValueError as error:
            raise UserError(str(error)) from None
        if metadata.get("task") != task:
            raise UserError(f"{path} holds {metadata.get('task') or 'unknown'} weights, not {task}")
        return tensors, json.loads(metadata["config"]), json.loads(metadata.get("meta", "{}"))
    checkpoint = load_checkpoint(path)
    if checkpoint.get("task") != task:
        raise UserError(f"{path} is a {checkpoint.get('task')} checkpoint, not {task}")
    state = checkpoint["ema"] if checkpoint.get("ema") is not None else checkpoint["model"]
    return state, checkpoint["config"], checkpoint.get("meta", {})
