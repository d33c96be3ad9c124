"""Trained detectors from weights files: validation, prediction on files, and ONNX export."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..engine.runs import new_run_dir
from ..errors import UserError
from ..files import atomic_write_text, check_output
from ..images import to_rgb, write_image
from ..config import from_dict, to_dict
from ..inference import load_trained, readable_images, run_validation
from ..onnx_model import OnnxDetector
from ..onnx_export import check_format, check_int8_options, input_metadata, write_int8, write_onnx
from .config import DetectConfig
from .data import DetectionDataset, collate
from .draw import draw_detections
from .evaluate import ap_table, per_class_ap
from .model import Detector, build_detector
from .task import DetectTask


def load_detector(weights: str | Path, device: str = "cpu") -> tuple[Detector, DetectConfig, list[str]]:
    """Rebuild the trained detector (EMA weights when present), its config and class names."""
    def build(config: DetectConfig, meta: dict) -> Detector:
        if not meta.get("names"):
            raise UserError(f"{weights} has no class names; it was not written by litebone's detection trainer")
        return build_detector(config.model, len(meta["names"]))

    model, config, meta = load_trained(weights, "detect", DetectConfig, build, device)
    return model, config, meta["names"]


def validate(weights: str, data: str | None = None, img_size: int | None = None, batch_size: int = 16,
             device: str = "cpu", project: str = "runs", name: str = "val", fuse: bool = True) -> dict[str, float]:
    """COCO mAP on the val split, per-class AP table, PR curve and confusion matrix in a run dir.

    ``fuse`` runs the fused inference copy (``Detector.fuse``), as deployment would. A ``.onnx``
    export (FP32 or INT8, without NMS) runs on onnxruntime with the same data, preprocessing and metrics.
    """
    if Path(weights).suffix == ".onnx":
        model = OnnxDetector(weights)
        config, names = from_dict(DetectConfig, model.config), model.metadata["names"]
        config.data.img_size = model.metadata["img_size"]
        if img_size and img_size != config.data.img_size:
            raise UserError(f"{weights} was exported for {config.data.img_size} px; drop --img-size or export again")
    else:
        model, config, names = load_detector(weights, device)
    if data:
        config.data.data = data
    if img_size and not isinstance(model, OnnxDetector):
        config.data.img_size = img_size
    task = DetectTask(config, splits=("val",))
    if task.names != names:
        raise UserError(f"the data's classes {task.names} differ from the model's {names}")
    loader = DataLoader(task.val_dataset(), batch_size=batch_size, collate_fn=collate)
    model = model.fuse(config.data.img_size) if fuse and not isinstance(model, OnnxDetector) else model
    evaluation, out = run_validation(task, model, loader, project, name)
    ap, ap50 = per_class_ap(evaluation.details["precision"], len(names))
    classes = evaluation.details["gt_classes"]
    instances = np.bincount(np.concatenate(classes or [np.zeros(0, int)]).astype(int), minlength=len(names))
    table = ap_table(names, ap, ap50, instances)
    atomic_write_text(out / "per_class_ap.txt", table + "\n")
    print(table)
    metrics = evaluation.metrics
    print(f"mAP50-95 {metrics['mAP50-95']:.4f}  mAP50 {metrics['mAP50']:.4f}  -> {out}")
    return metrics


def predict(weights: str, source: str, img_size: int | None = None, conf: float = 0.25, iou: float = 0.7,
            max_det: int = 300, save_txt: bool = False, device: str = "cpu", project: str = "runs", name: str = "predict",
            fuse: bool = True) -> Path:
    """Annotated images plus one JSON (or YOLO txt) per image in a new run dir; returns it.

    ``fuse`` runs the fused inference copy (``Detector.fuse``).
    """
    model, config, names = load_detector(weights, device)
    size = img_size or config.data.img_size
    model = model.fuse(size) if fuse else model
    out = new_run_dir(project, "detect", name, False)
    for path, stem, image in readable_images(source, model.backbone.in_chans):
        detections = model.predict([image], size, conf, iou, max_det)[0]
        write_image(out / f"{stem}.jpg", draw_detections(to_rgb(image), detections, names))
        if save_txt:
            h, w = image.shape[:2]
            lines = [f"{int(c)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f} {s:.4f}\n"
                     for x1, y1, x2, y2, s, c in detections]
            atomic_write_text(out / "labels" / f"{stem}.txt", "".join(lines))
        else:
            record = {"image": str(path), "width": image.shape[1], "height": image.shape[0], "detections": [
                {"box": [round(float(v), 2) for v in d[:4]], "score": round(float(d[4]), 4), "class": int(d[5]), "name": names[int(d[5])]}
                for d in detections]}
            atomic_write_text(out / "labels" / f"{stem}.json", json.dumps(record, indent=1))
    print(f"litebone: predictions in {out}")
    return out


class ExportRaw(nn.Module):
    """Export head: float RGB 0-255 (B, 3, S, S) -> (B, 4 + C, A): xyxy input pixels then class scores."""

    def __init__(self, model: Detector) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        boxes, scores = self.model.head.decode(self.model(images))
        return torch.cat((boxes, scores), -1).transpose(1, 2)


class ExportNMS(nn.Module):
    """Export head with NMS for one image: (1, 3, S, S) -> (N, 6) ``[x1, y1, x2, y2, score, class]``."""

    def __init__(self, model: Detector, conf: float, iou: float, max_det: int) -> None:
        super().__init__()
        self.model, self.conf, self.iou, self.max_det = model, conf, iou, max_det

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import batched_nms

        boxes, scores = self.model.head.decode(self.model(images))
        best, labels = scores[0].max(-1)
        keep = torch.nonzero(best > self.conf).flatten()
        kept_boxes, kept_best, kept_labels = boxes[0][keep], best[keep], labels[keep]
        order = batched_nms(kept_boxes, kept_best, kept_labels, self.iou)[: self.max_det]
        return torch.cat((kept_boxes[order], kept_best[order, None], kept_labels[order, None].float()), 1)


def export(weights: str, fmt: str = "onnx", nms: bool = False, img_size: int | None = None, conf: float = 0.25,
           iou: float = 0.7, max_det: int = 300, dynamic: bool = False, output: str | None = None, overwrite: bool = False,
           fuse: bool = True, int8: bool = False, calib_images: int = 64, keep_float: int = 0,
           calib_method: str = "percentile", qat_epochs: int = 0, qat_lr: float = 1e-4) -> Path:
    """Write an ONNX model next to the weights (or at ``output``) and return its path.

    The graph is the fused inference copy unless ``fuse`` is off. ``int8`` writes onnxruntime's
    static INT8 quantisation, calibrated on ``calib_images`` training images (activation ranges by
    ``calib_method``), with the ``keep_float`` layers measured to lose most left in float. An
    existing file is replaced only with ``overwrite``; the weights themselves never are.
    """
    check_format(fmt)
    check_int8_options(int8, qat_epochs, keep_float, fuse)
    if int8 and nms:
        raise UserError("--int8 quantises the raw export; drop --nms (val and predict apply NMS after the model)")
    suffix = ".nms.onnx" if nms else ".int8.onnx" if int8 else ".onnx"
    path = check_output(output or Path(weights).with_suffix(suffix), [weights], overwrite)
    model, config, names = load_detector(weights)
    size = img_size or config.data.img_size
    if size % 32:
        raise UserError(f"export size {size} must be a multiple of 32")
    model = model.fuse(size, channels_last=False) if fuse else model
    wrapper = ExportNMS(model, conf, iou, max_det) if nms else ExportRaw(model)
    metadata = {"task": "detect", "names": names, "img_size": size, "nms": nms, "normalised_inside": "true", "config": to_dict(config),
                **input_metadata(model.backbone.input_spec)}
    example = torch.zeros(1, model.backbone.in_chans, size, size)

    def write(target: Path) -> None:
        write_onnx(wrapper.eval(), example, target, ["images"], ["output"], dynamic and not nms, metadata)

    if int8:
        from ..quantize import calibration_images

        task = DetectTask(config, splits=("train",))
        images = calibration_images(DetectionDataset(task.train_records, size, train=False, channels=model.backbone.in_chans), calib_images)
        write_int8(write, path, images, task, model, keep_float, calib_method, qat_epochs, qat_lr)
    else:
        write(path)
    print(f"litebone: exported {path} ({'with' if nms else 'without'} NMS, {size}x{size}, classes {names})")
    return path
