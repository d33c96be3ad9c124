"""The ONNX writer shared by every `litebone export`: format check and TorchScript-based export at opset 17.

TorchScript export (``dynamo=False``) because the dynamo exporter cannot export torchvision's NMS.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from .errors import UserError
from .files import atomic_open


def check_format(fmt: str) -> None:
    """Only ONNX is supported; anything else is a user error naming the fix."""
    if fmt != "onnx":
        raise UserError(f"export format {fmt!r} is not supported; use --format onnx")


def write_onnx(model: nn.Module, example: torch.Tensor, path: Path, inputs: Sequence[str], outputs: Sequence[str],
               dynamic: bool = False) -> None:
    """Export ``model(example)`` to ``path`` atomically; ``dynamic`` makes dimension 0 of every input and output dynamic."""
    axes = {name: {0: "batch"} for name in [*inputs, *outputs]} if dynamic else None
    with warnings.catch_warnings(), atomic_open(path, "wb") as handle:
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), handle, input_names=list(inputs), output_names=list(outputs),
                          opset_version=17, dynamo=False, dynamic_axes=axes)
