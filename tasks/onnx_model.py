"""Exported litebone models run by onnxruntime, so ``litebone val`` scores an ONNX file like a checkpoint.

The export stores what validation needs in the ONNX metadata (task, training config, class names
or depth cap, input size); this module reads it back and wraps the session so that the tasks'
own ``evaluate`` runs it unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import UserError


class OnnxModel:
    """An ONNX export on onnxruntime's CPU provider: ``model(images)`` like the PyTorch module it came from."""

    def __init__(self, path: str | Path, task: str) -> None:
        from .onnx_export import require

        ort = require("onnxruntime", "Running an ONNX model")
        path = Path(path)
        if not path.is_file():
            raise UserError(f"ONNX file {path} does not exist")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
            raise UserError(f"{path} is not a readable ONNX model ({str(error).splitlines()[0][:160]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "config" not in meta or "task" not in meta:
            raise UserError(f"{path} has no litebone metadata; export it again with `litebone export {task}`")
        if meta["task"] != task:
            raise UserError(f"{path} is a {meta['task']} model; evaluate it with litebone val {meta['task']}")
        self.metadata = {key: _decode(value) for key, value in meta.items()}
        self.input = self.session.get_inputs()[0]
        self.fixed_batch = isinstance(self.input.shape[0], int)

    @property
    def config(self) -> dict[str, Any]:
        return self.metadata["config"]

    def eval(self) -> "OnnxModel":
        return self

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Run a batch (one image at a time when the export has a fixed batch of 1)."""
        array = images.float().cpu().numpy()
        parts = [array[i:i + 1] for i in range(len(array))] if self.fixed_batch else [array]
        outputs = [self.session.run(None, {self.input.name: part})[0] for part in parts]
        return torch.from_numpy(np.concatenate(outputs))


class OnnxDetector(OnnxModel):
    """A raw (no-NMS) detection export; ``detect`` applies the same NMS as ``Detector.detect``."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "detect")
        if self.metadata.get("nms"):
            raise UserError(f"{path} includes NMS with a fixed threshold; export without --nms to evaluate it")

    def detect(self, images: torch.Tensor, conf: float = 0.25, iou: float = 0.7, max_det: int = 300) -> list[torch.Tensor]:
        from .detect.postprocess import non_max_suppression

        output = self(images).transpose(1, 2)
        return non_max_suppression(output[..., :4], output[..., 4:], conf, iou, max_det)


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
