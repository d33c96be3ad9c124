"""Trained depth models from weights files: validation, prediction on files, and ONNX export."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..engine.runs import new_run_dir
from ..errors import UserError
from ..files import atomic_open, atomic_write_text, check_output
from ..images import write_image
from ..config import from_dict, to_dict
from ..inference import load_trained, readable_images, run_validation
from ..onnx_model import OnnxModel
from ..onnx_export import check_format, check_int8_options, input_metadata, write_int8, write_onnx
from .colorize import colorize
from .config import DepthConfig
from .data import DepthDataset
from .model import DepthModel, build_depth_model
from .task import DepthTask


def load_depth_model(weights: str | Path, device: str = "cpu") -> tuple[DepthModel, DepthConfig, dict]:
    """Rebuild the trained depth model (EMA weights when present), its config and metadata."""
    return load_trained(weights, "depth", DepthConfig, lambda config, meta: build_depth_model(config.model, meta.get("max_depth", 10.0)), device)


def _set_width(config: DepthConfig, width: int | None) -> None:
    """Run at ``width`` px wide, keeping the trained aspect ratio (both sides multiples of 32)."""
    if width:
        height = max(32, round(width * config.data.height / config.data.width / 32) * 32)
        config.data.width, config.data.height = width, height


def validate(weights: str, data: str | None = None, img_size: int | None = None, batch_size: int = 16,
             device: str = "cpu", project: str = "runs", name: str = "val", fuse: bool = True) -> dict[str, float]:
    """The full metric set on the val split, printed and written with colourised samples.

    ``fuse`` runs the fused inference copy (``DepthModel.fuse``), as deployment would. A ``.onnx``
    export (FP32 or INT8) runs on onnxruntime with the same data, preprocessing and metrics.
    """
    if Path(weights).suffix == ".onnx":
        model = OnnxModel(weights, "depth")
        config = from_dict(DepthConfig, model.config)
        config.data.height, config.data.width = model.metadata["height"], model.metadata["width"]
        if img_size:
            raise UserError(f"{weights} was exported for {config.data.height}x{config.data.width}; drop --img-size or export again")
    else:
        model, config, _ = load_depth_model(weights, device)
        _set_width(config, img_size)
    if data:
        config.data.data = data
    task = DepthTask(config, splits=("val",))
    loader = DataLoader(task.val_dataset(), batch_size=batch_size)
    model = model.fuse((config.data.height, config.data.width)) if fuse and not isinstance(model, OnnxModel) else model
    evaluation, out = run_validation(task, model, loader, project, name)
    text = "  ".join(f"{k} {v:.4f}" for k, v in evaluation.metrics.items())
    atomic_write_text(out / "metrics.txt", text + "\n")
    print(f"{text}  -> {out}")
    return evaluation.metrics


def predict(weights: str, source: str, img_size: int | None = None, depth_format: str = "png16", device: str = "cpu",
            project: str = "runs", name: str = "predict", fuse: bool = True) -> Path:
    """Per image, ``color/X.png`` (colourised) and ``depth/X.png`` (16-bit mm) or ``depth/X.npy`` (metres), at its size.

    ``fuse`` runs the fused inference copy (``DepthModel.fuse``).
    """
    if depth_format not in ("png16", "npy"):
        raise UserError(f"depth format {depth_format!r} is not supported; use png16 or npy")
    model, config, meta = load_depth_model(weights, device)
    _set_width(config, img_size)
    size = (config.data.height, config.data.width)
    model = model.fuse(size) if fuse else model
    out = new_run_dir(project, "depth", name, False)
    if meta.get("mode") == "relative":
        print("litebone: this model predicts relative inverse depth; raw files hold that, not metres")
    for _, stem, image in readable_images(source, model.backbone.in_chans):
        depth = model.predict(image, size)
        shown = 1.0 / np.maximum(depth, 1e-6) if meta.get("mode") == "relative" else depth
        write_image(out / "color" / f"{stem}.png", colorize(shown))
        if depth_format == "npy":
            with atomic_open(out / "depth" / f"{stem}.npy", "wb") as handle:
                np.save(handle, depth.astype(np.float32))
        else:
            write_image(out / "depth" / f"{stem}.png", np.clip(np.round(depth * 1000), 0, 65535).astype(np.uint16))
    print(f"litebone: predictions in {out}")
    return out


def export(weights: str, fmt: str = "onnx", img_size: int | None = None, dynamic: bool = False, output: str | None = None,
           overwrite: bool = False, fuse: bool = True, int8: bool = False, calib_images: int = 64, keep_float: int = 0,
           calib_method: str = "percentile", qat_epochs: int = 0, qat_lr: float = 1e-4) -> Path:
    """Write an ONNX model (float 0-255 pixels in, depth out at input size) and return its path.

    The graph is the fused inference copy unless ``fuse`` is off. ``int8`` writes onnxruntime's
    static INT8 quantisation, calibrated on ``calib_images`` training images (activation ranges by
    ``calib_method``), with the ``keep_float`` layers measured to lose most left in float. An
    existing file is replaced only with ``overwrite``; the weights themselves never are.
    """
    check_format(fmt)
    check_int8_options(int8, qat_epochs, keep_float, fuse)
    path = check_output(output or Path(weights).with_suffix(".int8.onnx" if int8 else ".onnx"), [weights], overwrite)
    model, config, meta = load_depth_model(weights)
    height, width = (config.data.height, config.data.width) if not img_size else (img_size, img_size)
    if height % 32 or width % 32:
        raise UserError(f"export size {height}x{width} must be a multiple of 32")
    model = model.fuse((height, width), channels_last=False) if fuse else model
    metadata = {"task": "depth", "height": height, "width": width, "mode": config.model.mode, "normalised_inside": "true",
                "max_depth": meta.get("max_depth", 10.0), "config": to_dict(config),
                **input_metadata(model.backbone.input_spec)}
    example = torch.zeros(1, model.backbone.in_chans, height, width)

    def write(target: Path) -> None:
        write_onnx(model, example, target, ["images"], ["depth"], dynamic, metadata)

    if int8:
        from ..quantize import calibration_images

        full_size = dataclasses.replace(config, data=dataclasses.replace(config.data, low_res_fraction=0.0))  # calibration and QAT
        task = DepthTask(full_size, splits=("train",))
        images = calibration_images(DepthDataset(task.train_pairs, task.spec, (height, width), train=False,
                                                 channels=model.backbone.in_chans), calib_images)
        write_int8(write, path, images, task, model, keep_float, calib_method, qat_epochs, qat_lr)
    else:
        write(path)
    print(f"litebone: exported {path} ({height}x{width})")
    return path
