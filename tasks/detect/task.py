"""The detection task the engine trains: model, loss, data, evaluation and sample images."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..distill import FeatureImitation, captured_output, with_imitation
from ..engine import Evaluation, Task
from ..engine.distributed import unwrap
from ..errors import UserError
from ..inference import load_teacher
from ..prune import InitialWeights
from ..engine.task import data_or_synthetic
from ..images import read_image, to_rgb, write_image
from .config import DetectConfig
from .data import DetectionDataset, collate, load_split, read_data_yaml
from .draw import draw_detections, image_grid
from .evaluate import coco_evaluate, confusion_matrix, plot_confusion, plot_pr_curves
from .letterbox import detections_to_original
from .loss import DetectionLoss, LossGains, distillation_loss
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
        self.train_records = self._load("train") if "train" in splits else []
        self.val_records = self._load("val") if "val" in splits else []
        gains = config.loss
        self.loss = DetectionLoss(LossGains(gains.box, gains.cls, gains.dfl), gains.topk, gains.alpha, gains.beta)
        self._train_set: DetectionDataset | None = None
        self.teacher = self._load_teacher() if "train" in splits and config.train.distill.teacher else None
        self.init = InitialWeights(config.model.init, self.name) if config.model.init else None

    def _load_teacher(self) -> torch.nn.Module:
        """The frozen teacher named by ``train.distill.teacher``; it must see the same images and classes."""
        path = self.config.train.distill.teacher
        teacher, config, meta = load_teacher(path, "detect", DetectConfig, lambda c, m: build_detector(c.model, len(m.get("names", []))))
        if meta.get("names") != self.names:
            raise UserError(f"teacher {path} detects {meta.get('names')}, the data has {self.names}; distil from a teacher of these classes")
        if (config.data.img_size, config.model.in_chans) != (self.config.data.img_size, self.config.model.in_chans):
            raise UserError(f"teacher {path} was trained on {config.model.in_chans}-channel {config.data.img_size} px images, the "
                            f"student on {self.config.model.in_chans}-channel {self.config.data.img_size} px; distillation needs the same input")
        return teacher

    def _load(self, split: str) -> list:
        records, report = load_split(self.spec, split, self.config.model.in_chans)
        print(f"litebone: {report.summary()}")
        return records

    def metadata(self) -> dict[str, Any]:
        return {"names": self.names, **(self.init.metadata if self.init else {})}

    def build_model(self) -> torch.nn.Module:
        model = build_detector(self.config.model, len(self.names))
        if self.init is not None:
            self.init.load_into(model)
        if self.teacher is not None:
            student, teacher = model.head, self.teacher.head
            if (student.strides, student.reg_max) != (teacher.strides, teacher.reg_max):
                raise UserError(f"the teacher's head has strides {teacher.strides} and reg_max {teacher.reg_max}, the student's "
                                f"{student.strides} and {student.reg_max}; distillation compares them anchor by anchor")
        return model

    def train_dataset(self) -> DetectionDataset:
        self._train_set = DetectionDataset(self.train_records, self.config.data.img_size, train=True, mosaic=self.config.data.mosaic,
                                           channels=self.config.model.in_chans)
        return self._train_set

    def val_dataset(self) -> DetectionDataset:
        return DetectionDataset(self.val_records, self.config.data.img_size, train=False, channels=self.config.model.in_chans)

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        if self._train_set is not None and epoch >= epochs - self.config.data.close_mosaic:
            self._train_set.set_mosaic(0.0)

    def training_modules(self, model: torch.nn.Module) -> torch.nn.ModuleDict:
        """The neck-feature imitation adapters when ``train.distill.features`` is on."""
        if self.teacher is None or not self.config.train.distill.features:
            return torch.nn.ModuleDict()
        return torch.nn.ModuleDict({"imitation": FeatureImitation(unwrap(model).neck.out_channels, self.teacher.neck.out_channels)})

    def training_step(self, model, batch, device, modules):
        images = batch["image"].to(device, non_blocking=True)
        with captured_output(unwrap(model).neck) as student_features:
            raw = model(images)
        loss, items = self.loss(unwrap(model).head, raw, batch["targets"].to(device))
        if self.teacher is None:
            return loss, items
        distill = self.config.train.distill
        with torch.no_grad(), captured_output(self.teacher.neck) as teacher_features:
            teacher_raw = self.teacher.to(device)(images)
        kd = distillation_loss(unwrap(model).head, raw, self.teacher.head, teacher_raw, distill.temperature)
        return with_imitation(loss + distill.weight * kd, {**items, "distill": kd.item()}, modules, student_features,
                              teacher_features, distill.features)

    @torch.no_grad()
    def evaluate(self, model, loader, device) -> Evaluation:
        """COCO mAP; ``details`` holds COCOeval's precision array, the ground truth and the detections in original pixels."""
        cfg = self.config.eval
        model.eval()
        gt_boxes, gt_classes, detections, sizes = [], [], [], []
        for batch in loader:
            outputs = model.detect(batch["image"].to(device), cfg.conf, cfg.iou, cfg.max_det)
            detections.extend(detections_to_original(outputs, batch["info"]))
            gt_boxes.extend(batch["gt_boxes"])
            gt_classes.extend(batch["gt_classes"])
            sizes.extend((info.original_height, info.original_width) for info in batch["info"])
        metrics, precision = coco_evaluate(gt_boxes, gt_classes, detections, sizes, len(self.names))
        return Evaluation(metrics, {"precision": precision, "gt_boxes": gt_boxes, "gt_classes": gt_classes, "detections": detections})

    def save_samples(self, out_dir: Path, evaluation: Evaluation) -> None:
        """PR curves and confusion matrix of ``evaluation``, and its predictions drawn on validation images."""
        details = evaluation.details
        plot_pr_curves(details["precision"], self.names, out_dir / "pr_curve.png")
        matrix = confusion_matrix(details["gt_boxes"], details["gt_classes"], details["detections"], len(self.names))
        plot_confusion(matrix, self.names, out_dir / "confusion_matrix.png")
        count = min(self.config.eval.samples, len(self.val_records))
        tiles = [draw_detections(to_rgb(read_image(record.image, self.config.model.in_chans)), dets[dets[:, 4] > 0.25], self.names)
                 for record, dets in zip(self.val_records[:count], details["detections"][:count])]
        if tiles:
            write_image(out_dir / "val_predictions.jpg", image_grid(tiles))
