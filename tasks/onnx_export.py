"""The ONNX writer shared by every `litebone export`: format check and TorchScript-based export at opset 17.

TorchScript export (``dynamo=False``) because the dynamo exporter cannot export torchvision's NMS.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from backbones import InputSpec

from .errors import UserError
from .files import atomic_open


def require(module: str, purpose: str):
    """Import an optional dependency of the ``export`` extra, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{purpose} needs the {module} package: pip install 'litebone[export]'") from None


def check_format(fmt: str) -> None:
    """Only ONNX is supported; anything else is a user error naming the fix."""
    if fmt != "onnx":
        raise UserError(f"export format {fmt!r} is not supported; use --format onnx")


def check_int8_options(int8: bool, qat_epochs: int, keep_float: int, fuse: bool) -> None:
    """Quantisation-aware fine-tuning (``qat_epochs``) is a way to INT8 of the fused model, and quantises every convolution."""
    if qat_epochs < 0:
        raise UserError(f"--qat-epochs must be at least 0, got {qat_epochs}")
    if not qat_epochs:
        return
    if not int8:
        raise UserError("--qat-epochs fine-tunes the model for its INT8 export; add --int8")
    if keep_float:
        raise UserError("--keep-float picks layers for onnxruntime's calibration, but --qat-epochs quantises every convolution "
                        "and trains it so; drop one of the two")
    if not fuse:
        raise UserError("--qat-epochs quantises the fused model (BatchNorm folded into the weights); drop --no-fuse")


def write_int8(write_float: Callable[[Path], None], path: Path, images: list[np.ndarray], task: Any, model: nn.Module,
               keep_float: int, calib_method: str, qat_epochs: int, qat_lr: float) -> None:
    """The INT8 export at ``path`` of the fused ``model`` that ``write_float(path)`` exports: after ``qat_epochs`` of
    quantisation-aware fine-tuning on ``task`` when set, else through onnxruntime's calibration on ``images``."""
    if qat_epochs:
        from .qat import export_qat

        export_qat(task, model, write_float, path, images, qat_epochs, qat_lr)
    else:
        from .quantize import export_int8

        export_int8(write_float, path, images, keep_float, calib_method)


def write_onnx(model: nn.Module, example: torch.Tensor, path: Path, inputs: Sequence[str], outputs: Sequence[str],
               dynamic: bool = False, metadata: dict[str, Any] | None = None) -> None:
    """Export ``model(example)`` to ``path`` atomically; ``dynamic`` makes dimension 0 of every input and output dynamic.

    ``metadata`` goes into the model's ``metadata_props`` (values JSON-encoded unless already text), where
    onnxruntime's ``get_modelmeta().custom_metadata_map`` reads it back.
    """
    onnx = require("onnx", "ONNX export")
    axes = {name: {0: "batch"} for name in [*inputs, *outputs]} if dynamic else None
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), buffer, input_names=list(inputs), output_names=list(outputs),
                          opset_version=17, dynamo=False, dynamic_axes=axes)
    graph = onnx.load_from_string(buffer.getvalue())
    for key, value in (metadata or {}).items():
        graph.metadata_props.add(key=key, value=value if isinstance(value, str) else json.dumps(value))
    with atomic_open(path, "wb") as handle:
        handle.write(graph.SerializeToString())


def input_metadata(spec: InputSpec) -> dict[str, Any]:
    """The backbone's input contract as ONNX metadata: what a deployment must do to raw pixels (or has done inside)."""
    return {"input_channels": spec.channels, "input_mean": list(spec.mean), "input_std": list(spec.std),
            "input_range": list(spec.input_range)}
