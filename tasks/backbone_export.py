"""`litebone export backbone`: a bare backbone as ONNX, one output per level, BatchNorm folded."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from backbones import get_backbone

from .errors import UserError
from .files import check_output
from .onnx_export import check_format, input_metadata, write_onnx


def export_backbone(
    name: str,
    fmt: str = "onnx",
    size: int = 320,
    dynamic: bool = False,
    output: str | Path | None = None,
    weights: str | Path | None = None,
    out_indices: Sequence[int] = (2, 3, 4),
    overwrite: bool = False,
) -> Path:
    """Write ``name`` (fused, eval mode) as ONNX with input ``images`` and outputs ``level<i>``; return the path.

    ``weights`` is an optional local weights file; ``dynamic`` makes the batch dimension dynamic. An
    existing output is replaced only with ``overwrite``, and never when it is the weights file.
    """
    check_format(fmt)
    path = check_output(output or f"{name}_{size}.onnx", [weights] if weights else [], overwrite)
    if size < 32 or size % 32:
        raise UserError(f"export size {size} must be a positive multiple of 32, e.g. {max(32, size // 32 * 32)}")
    backbone = get_backbone(name, out_indices=tuple(out_indices), pretrained=weights or False).eval()
    model = backbone.fuse()
    outputs = [f"level{index}" for index in model.out_indices]
    write_onnx(model, torch.zeros(1, model.in_chans, size, size), path, ["images"], outputs, dynamic,
               {"backbone": name, "normalised_inside": "false", **input_metadata(model.input_spec)})
    levels = ", ".join(f"{label}: {c} ch at stride {s}" for label, c, s in zip(outputs, model.channels, model.strides))
    print(f"litebone: exported {path} ({name}, {size}x{size}, {model.folded_norms} BatchNorms folded; {levels})")
    return path
