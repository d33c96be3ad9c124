"""The depth task the engine trains: model, masked loss, data, metrics and colourised samples."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..distill import FeatureImitation, captured_output, with_imitation
from ..engine import Evaluation, Task
from ..engine.distributed import unwrap
from ..errors import UserError
from ..inference import load_teacher
from ..prune import InitialWeights
from ..engine.task import data_or_synthetic
from .colorize import colorize
from .config import DepthConfig
from ..images import to_rgb, write_image
from .data import DepthDataset, load_depth_split, read_depth_yaml
from .losses import below_full_size, build_loss, distillation_loss
from .metrics import DepthMetrics, valid_mask
from .model import build_depth_model
from .synth import write_scenes


def resolve_data(config: DepthConfig) -> Path:
    """The data.yaml to use: the configured one, or synthetic scenes generated on first use."""
    return data_or_synthetic(config.data.data, config.data.synth_dir, lambda out: write_scenes(out, config.data.synth_train, config.data.synth_val, config.data.synth_size), "scenes")


def epoch_size(size: tuple[int, int], epoch: int, epochs: int, low_res_fraction: float, low_res_scale: float,
               ramp_fraction: float) -> tuple[int, int]:
    """The training size (H, W) of ``epoch`` under progressive resizing.

    The first ``low_res_fraction`` of the epochs (rounded down, so the last epoch is always at ``size``) train below
    ``size``: at ``low_res_scale`` times it, except the last ``ramp_fraction`` of them (rounded), whose scale climbs
    linearly from there towards 1, one step per epoch; ``size`` after. Sides are rounded to multiples of 32."""
    low_res_epochs = math.floor(low_res_fraction * epochs + 1e-9)
    if epoch >= low_res_epochs:
        return size
    ramp_epochs = round(ramp_fraction * low_res_epochs)
    climbed = max(0, epoch - (low_res_epochs - ramp_epochs) + 1)
    scale = low_res_scale + (1 - low_res_scale) * climbed / (ramp_epochs + 1)
    return tuple(max(32, 32 * math.floor(side * scale / 32 + 0.5)) for side in size)


def low_res_fraction(config: DepthConfig) -> float:
    """``data.low_res_fraction`` for training, or 0 where low-resolution epochs would undo what training builds on."""
    fraction = config.data.low_res_fraction
    reason = ("model.init continues a model trained at full size" if config.model.init else
              "the train.distill.teacher predicts at full size" if config.train.distill.teacher else None)
    if fraction and reason:
        print(f"litebone: every epoch trains at full size: data.low_res_fraction={fraction} is for training from scratch, and {reason}")
        return 0.0
    if fraction and config.train.patience:
        raise UserError("train.patience would stop training during the low-resolution epochs (data.low_res_fraction), which are "
                        "not validated; set data.low_res_fraction=0 to use early stopping")
    return fraction


class DepthTask(Task):
    name = "depth"
    metric = "abs_rel"
    metric_mode = "min"

    def __init__(self, config: DepthConfig, splits: tuple[str, ...] = ("train", "val")) -> None:
        if config.data.height % 32 or config.data.width % 32:
            raise UserError(f"data.height and data.width must be multiples of 32, got {config.data.height}x{config.data.width}")
        self.config = config
        self.low_res_fraction = low_res_fraction(config) if "train" in splits else 0.0
        self.spec = read_depth_yaml(resolve_data(config))
        self.max_depth = config.eval.max_depth or self.spec.max_depth
        self.size = (config.data.height, config.data.width)
        self.train_pairs = self._load("train") if "train" in splits else []
        self.val_pairs = self._load("val") if "val" in splits else []
        self.loss = build_loss(config.loss.name, **config.loss.kwargs)
        self.low_res_loss = below_full_size(self.loss)
        self.teacher = self._load_teacher() if "train" in splits and config.train.distill.teacher else None
        self.init = InitialWeights(config.model.init, self.name) if config.model.init else None
        self._train_set: DepthDataset | None = None

    def _load_teacher(self) -> torch.nn.Module:
        """The frozen teacher named by ``train.distill.teacher``; it must see the same images and predict the same quantity."""
        path = self.config.train.distill.teacher
        teacher, config, meta = load_teacher(path, "depth", DepthConfig, lambda c, m: build_depth_model(c.model, m.get("max_depth", 10.0)))
        mine = (self.config.data.height, self.config.data.width, self.config.model.in_chans, self.config.model.mode)
        theirs = (config.data.height, config.data.width, config.model.in_chans, config.model.mode)
        if mine != theirs:
            raise UserError(f"teacher {path} takes {theirs[2]}-channel {theirs[0]}x{theirs[1]} images in {theirs[3]} mode, the student "
                            f"{mine[2]}-channel {mine[0]}x{mine[1]} in {mine[3]} mode; distillation needs the same input and output")
        return teacher

    def _load(self, split: str) -> list:
        pairs, report = load_depth_split(self.spec, split, self.config.model.in_chans)
        print(f"litebone: {report.summary()}")
        return pairs

    def metadata(self) -> dict[str, Any]:
        return {"max_depth": self.max_depth, "mode": self.config.model.mode, **(self.init.metadata if self.init else {})}

    def build_model(self) -> torch.nn.Module:
        model = build_depth_model(self.config.model, self.max_depth)
        if self.init is not None:
            self.init.load_into(model)
        return model

    def train_dataset(self) -> DepthDataset:
        self._train_set = DepthDataset(self.train_pairs, self.spec, self.size, train=True, channels=self.config.model.in_chans,
                                      metric_zoom=self.config.data.metric_zoom)
        return self._train_set

    def _epoch_size(self, epoch: int, epochs: int) -> tuple[int, int]:
        data = self.config.data
        return epoch_size(self.size, epoch, epochs, self.low_res_fraction, data.low_res_scale, data.ramp_fraction)

    def validates(self, epoch: int, epochs: int) -> bool:
        """Not after a low-resolution epoch: the model is picked at full size, where those epochs score low."""
        return self._epoch_size(epoch, epochs) == self.size

    def on_epoch_start(self, epoch: int, epochs: int) -> None:
        if self._train_set is not None:
            self._train_set.set_size(self._epoch_size(epoch, epochs))

    def val_dataset(self) -> DepthDataset:
        return DepthDataset(self.val_pairs, self.spec, self.size, train=False, channels=self.config.model.in_chans)

    def _target(self, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = valid_mask(depth, self.max_depth, self.config.eval.min_depth)
        if self.config.model.mode == "relative":
            return torch.where(mask, 1.0 / depth.clamp(min=1e-6), torch.zeros_like(depth)), mask
        return depth, mask

    def training_modules(self, model: torch.nn.Module) -> torch.nn.ModuleDict:
        """The decoder-feature imitation adapter when ``train.distill.features`` is on."""
        if self.teacher is None or not self.config.train.distill.features:
            return torch.nn.ModuleDict()
        return torch.nn.ModuleDict({"imitation": FeatureImitation([unwrap(model).decoder.out_channels],
                                                                  [self.teacher.decoder.out_channels])})

    def training_step(self, model, batch, device, modules):
        images = batch["image"].to(device, non_blocking=True)
        with captured_output(unwrap(model).decoder) as student_features:
            pred = model(images).float()
        target, mask = self._target(batch["depth"].to(device))
        loss = (self.loss if tuple(images.shape[-2:]) == self.size else self.low_res_loss)(pred, target, mask)
        items = {self.config.loss.name: loss.item()}
        if self.teacher is None:
            return loss, items
        distill = self.config.train.distill
        with torch.no_grad(), captured_output(self.teacher.decoder) as teacher_features:
            teacher_pred = self.teacher.to(device)(images)
        kd = distillation_loss(pred, teacher_pred)
        return with_imitation(loss + distill.weight * kd, {**items, "distill": kd.item()}, modules, student_features,
                              teacher_features, distill.features)

    def to_metres(self, pred: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Model output in metres; relative (inverse-depth) outputs are aligned to the ground truth first."""
        if self.config.model.mode == "metric":
            return pred
        from .losses import align_scale_shift

        target, mask = self._target(depth)
        return 1.0 / align_scale_shift(pred, target, mask).clamp(min=1.0 / self.max_depth)

    @torch.no_grad()
    def evaluate(self, model, loader, device) -> Evaluation:
        """The full metric set; ``details["samples"]`` holds the first (image, prediction, ground truth) triplets."""
        cfg = self.config.eval
        model.eval()
        metrics = DepthMetrics(cfg.min_depth, self.max_depth, None if cfg.crop == "none" else cfg.crop, cfg.median_scaling)
        samples = []
        for batch in loader:
            depth = batch["depth"].to(device)
            pred = self.to_metres(model(batch["image"].to(device)).float(), depth)
            metrics.update(pred, depth)
            if len(samples) < cfg.samples:
                samples.extend(zip(batch["image"][: cfg.samples], pred.cpu()[: cfg.samples], depth.cpu()[: cfg.samples]))
        return Evaluation(metrics.compute(), {"samples": samples[: cfg.samples]})

    def save_samples(self, out_dir: Path, evaluation: Evaluation) -> None:
        """Image | prediction | ground truth, one row per validation sample, same colour scale per row."""
        rows = []
        for image, pred, depth in evaluation.details["samples"]:
            gt = depth[0].numpy()
            valid = gt[valid_mask(gt, self.max_depth)]
            vmin, vmax = (float(valid.min()), float(valid.max())) if valid.size else (None, None)
            panels = [to_rgb(image.permute(1, 2, 0).numpy()), colorize(pred[0].numpy(), vmin, vmax), colorize(gt, vmin, vmax)]
            rows.append(np.hstack(panels))
        if rows:
            write_image(out_dir / "val_depth.jpg", np.vstack(rows))
