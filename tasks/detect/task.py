"""The detection task the engine trains: model, loss, data, evaluation and sample images."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import torch

from ..engine import Task
from ..engine.task import data_or_synthetic
from ..images import read_image
from .config import DetectConfig
from .data import DetectionDataset, collate, load_split, read_data_yaml
from .draw import draw_detections, image_grid
from .evaluate import coco_evaluate, confusion_matrix, plot_confusion, plot_pr_curves
from .letterbox import from_letterbox
from .loss import DetectionLoss, LossGains
from .model import build_detector
from .synth import write_shapes


def resolve_data(config: DetectConfig) -> Path:
    """The data.yaml to use: the configured one, or synthetic shapes generated on first use."""
    return data_or_synthetic(config.data.data, config.data.synth_dir, lambda out: write_shapes(out, config.data.synth_train, config.data.synth_val, config.data.synth_size), "shapes")


class DetectTask(Task):
    name = "detect"
    metric = "mAP50-95"
    metric_mode = "max"
    collate_fn = staticmethod(collate)

    def __init__(self, config: DetectConfig, splits: tuple[str, ...] = ("train", "val")) -> None:
        self.config = config
        self.spec = read_data_yaml(resolve_data(config))
        self.names = self.spec.names
        self.train_records = load_split(self.spec, "train")[0] if "train" in splits else []
        self.val_records = load_split(self.spec, "val")[0] if "val" in splits else []
        self._train_set: DetectionDataset | None = None
        self.last_eval: dict[str, Any] = {}

    def metadata(self) -> dict[str, Any]:
        return {"names": self.names}

    def build_model(self) -> torch.nn.Module:
        model = build_detector(self.config.model, len(self.names))
        gains = self.config.loss
        self.loss = DetectionLoss(model.head, LossGains(gains.box, gains.cls, gains.dfl), gains.topk, gains.alpha, gains.beta)
        return model

    def train_dataset(self) -> DetectionDataset:
        self._train_set = DetectionDataset(self.train_records, self.config.data.img_size, train=True, mosaic=self.config.data.mosaic)
        return self._train_set

    def val_dataset(self) -> DetectionDataset:
        return DetectionDataset(self.val_records, self.config.data.img_size, train=False)

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        if self._train_set is not None and epoch >= epochs - self.config.data.close_mosaic:
            self._train_set.set_mosaic(0.0)

    def training_step(self, model, batch, device):
        raw = model(batch["image"].to(device, non_blocking=True))
        return self.loss(raw, batch["targets"].to(device))

    @torch.no_grad()
    def evaluate(self, model, loader, device) -> dict[str, float]:
        cfg = self.config.eval
        model.eval()
        gt_boxes, gt_classes, detections, sizes = [], [], [], []
        for batch in loader:
            outputs = model.detect(batch["image"].to(device), cfg.conf, cfg.iou, cfg.max_det)
            for dets, info, boxes, classes in zip(outputs, batch["info"], batch["gt_boxes"], batch["gt_classes"]):
                dets = dets.float().cpu()
                dets[:, :4] = from_letterbox(dets[:, :4], info)
                detections.append(dets.numpy())
                gt_boxes.append(boxes)
                gt_classes.append(classes)
                sizes.append((info.original_height, info.original_width))
        metrics, precision = coco_evaluate(gt_boxes, gt_classes, detections, sizes, len(self.names))
        self.last_eval = {"precision": precision, "gt_boxes": gt_boxes, "gt_classes": gt_classes, "detections": detections}
        return metrics

    def save_samples(self, out_dir: Path) -> None:
        """PR curves and confusion matrix of the last evaluation, and predictions drawn on validation images."""
        if not self.last_eval:
            return
        ev = self.last_eval
        plot_pr_curves(ev["precision"], self.names, out_dir / "pr_curve.png")
        matrix = confusion_matrix(ev["gt_boxes"], ev["gt_classes"], ev["detections"], len(self.names))
        plot_confusion(matrix, self.names, out_dir / "confusion_matrix.png")
        count = min(self.config.eval.samples, len(self.val_records))
        tiles = []
        for record, dets in zip(self.val_records[:count], ev["detections"][:count]):
            image = read_image(record.image)
            tiles.append(draw_detections(image, dets[dets[:, 4] > 0.25], self.names))
        if tiles:
            cv2.imwrite(str(out_dir / "val_predictions.jpg"), cv2.cvtColor(image_grid(tiles), cv2.COLOR_RGB2BGR))
