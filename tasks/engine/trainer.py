"""The training loop both tasks share: AMP, EMA, DDP, checkpoints, resume, logging, progress, plots."""
from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import yaml
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from ..config import to_dict
from ..errors import UserError
from . import distributed as dist
from ..files import atomic_write_text, make_dirs
from .checkpoint import atomic_save, export_safetensors, load_checkpoint
from .ema import ModelEma
from .heap import keep_freed_memory
from .layout import to_channels_last, trains_channels_last
from .loader import TrainingLoader
from .results import plot_rows, read_rows, write_rows
from .runs import new_run_dir, run_dir_of
from .task import Task


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


# Devices with torch's single-kernel AdamW/SGD step: on this 2-core CPU 1.1 ms against 4.7 ms per
# step of the default depth model's optimizer (1.9M parameters in 185 tensors).
FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """bf16 or fp16 where the device supports it, None (fp32) otherwise."""
    if setting == "off" or (setting == "auto" and device.type != "cuda"):
        return None
    if setting == "fp16" or (setting == "auto" and not torch.cuda.is_bf16_supported()):
        if device.type != "cuda":
            raise UserError("train.amp=fp16 needs a CUDA GPU; use train.amp=bf16 or off on CPU")
        return torch.float16
    return torch.bfloat16


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Runs ``task`` under ``config`` (which has ``train`` and ``run`` sections) and writes a run directory."""

    def __init__(self, task: Task, config: Any, resume: str | Path | None = None) -> None:
        self.task = task
        self.config = config
        self.train_cfg = config.train
        self.device = dist.setup(self.train_cfg.device)
        self.resume_from = Path(resume) if resume else None
        if self.resume_from is not None and self.resume_from.is_dir():
            self.resume_from = self.resume_from / "weights" / "last.pt"
        self.resume_checkpoint = load_checkpoint(self.resume_from) if self.resume_from is not None else None
        self.run_dir = run_dir_of(self.resume_from, self.resume_checkpoint["config"]) if self.resume_checkpoint else None
        if self.run_dir is None:
            self.run_dir = new_run_dir(config.run.project, task.name, config.run.name, config.run.exist_ok)
            if self.resume_from is not None and dist.is_main():
                print(f"litebone: {self.resume_from} is not in the run dir that wrote it (RUN/weights/last.pt beside that run's "
                      f"config.yaml); continuing its training in a new run dir {self.run_dir}")
        self.weights_dir = self.run_dir / "weights"
        self.stop_requested = False

    def _loader(self, dataset, train: bool) -> TrainingLoader:
        """Training data is sharded per rank and reshuffled per epoch; validation runs whole on rank 0."""
        cfg = self.train_cfg
        sampler = (
            DistributedSampler(dataset, num_replicas=dist.world_size(), rank=dist.rank(), shuffle=True, seed=cfg.seed, drop_last=True)
            if train else None
        )
        if train:
            self.generator = torch.Generator()
        return TrainingLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=sampler,
            num_workers=cfg.workers,
            collate_fn=self.task.collate_fn,
            generator=self.generator if train else None,
            drop_last=train,
            pin_memory=self.device.type == "cuda",
            yield_cpu=self.device.type == "cpu",
        )

    def _setup(self) -> None:
        cfg = self.train_cfg
        seed_everything(cfg.seed)
        if self.device.type == "cpu":
            keep_freed_memory()
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        model = self.task.build_model().to(self.device)
        self.channels_last = trains_channels_last(cfg.memory_format, self.device)
        if self.channels_last:
            model = to_channels_last(model)
        self.model = model
        self.modules = self.task.training_modules(model).to(self.device)
        self.trainable = nn.ModuleList([model, self.modules])
        self.train_loader = self._loader(self.task.train_dataset(), train=True)
        self.val_loader = self._loader(self.task.val_dataset(), train=False) if dist.is_main() else None
        if len(self.train_loader) == 0:
            raise UserError(
                f"the training set has fewer images than one batch (train.batch_size={cfg.batch_size} "
                f"x {dist.world_size()} processes); lower train.batch_size"
            )
        self.optimizer = create_optimizer_v2(
            self.trainable, opt=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
            fused=self.device.type in FUSED_OPTIMIZER_DEVICES,
            **({"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {}),
        )
        updates_per_epoch = math.ceil(len(self.train_loader) / cfg.accumulate)
        self.scheduler = None
        if cfg.scheduler == "cosine":
            self.scheduler, _ = create_scheduler_v2(
                self.optimizer, sched="cosine", num_epochs=cfg.epochs, warmup_epochs=cfg.warmup_epochs,
                warmup_lr=cfg.lr * 0.01, min_lr=cfg.lr * cfg.min_lr_ratio, step_on_epochs=False,
                updates_per_epoch=updates_per_epoch,
            )
        self.ema = ModelEma(model, decay=cfg.ema_decay, use_warmup=True) if cfg.ema else None
        self.dtype = amp_dtype(cfg.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)
        self.ddp = (
            DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if dist.initialized() else model
        )
        self.start_epoch, self.step, self.best, self.best_epoch = 0, 0, None, -1
        if self.resume_checkpoint is not None:
            self._restore(self.resume_checkpoint)

    def _checkpoint(self, epoch: int) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "modules": self.modules.state_dict(),
            "ema": self.ema.module.state_dict() if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict(),
            "epoch": epoch,
            "step": self.step,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "rng": _rng_state(),
            "task": self.task.name,
            "config": to_dict(self.config),
            "meta": self.task.metadata(),
        }

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("task") != self.task.name:
            raise UserError(f"{self.resume_from} is a {checkpoint.get('task')} checkpoint, not {self.task.name}")
        self.model.load_state_dict(checkpoint["model"])
        saved = checkpoint.get("modules") or {}
        if set(saved) != set(self.modules.state_dict()):
            raise UserError(f"{self.resume_from} was trained with training modules {sorted({k.split('.')[0] for k in saved}) or 'none'}, "
                            f"this config builds {list(self.modules) or 'none'}; resume with the run's own train.distill settings")
        self.modules.load_state_dict(saved)
        if self.ema and checkpoint["ema"] is not None:
            self.ema.module.load_state_dict(checkpoint["ema"])
        fused = self.optimizer.defaults["fused"]
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        for group in self.optimizer.param_groups:
            group["fused"] = fused  # a checkpoint from another device or an older litebone keeps this device's step
        if self.scheduler and checkpoint["scheduler"] is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        self.start_epoch = checkpoint["epoch"] + 1
        self.step = checkpoint["step"]
        self.best, self.best_epoch = checkpoint["best"], checkpoint["best_epoch"]
        _set_rng_state(checkpoint["rng"])

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.task.metric_mode == "max" else value < self.best

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.train_cfg
        self.ddp.train()
        self.train_loader.sampler.set_epoch(epoch)
        self.generator.manual_seed(cfg.seed + epoch)
        sums: dict[str, float] = {}
        images, batches, started = 0, 0, time.perf_counter()
        bar = tqdm(self.train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not dist.is_main(), leave=False,
                   dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 10)
        self.optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(bar):
            precision = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()
            with precision:
                loss, items = self.task.training_step(self.ddp, batch, self.device, self.modules)
            if not dist.all_true(bool(torch.isfinite(loss).item()), self.device):
                raise NonFiniteLossError(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {self.step + 1}; "
                    f"the last good checkpoint is kept in {self.weights_dir}. Lower train.lr or set train.grad_clip."
                )
            self.scaler.scale(loss / cfg.accumulate).backward()
            if (index + 1) % cfg.accumulate == 0 or index + 1 == len(self.train_loader):
                dist.average_gradients(self.modules.parameters())
                if cfg.grad_clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.trainable.parameters(), cfg.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                if self.scheduler:
                    self.scheduler.step_update(self.step)
                if self.ema:
                    self.ema.update(self.model, step=self.step)
            images += self.task.batch_size(batch) * dist.world_size()
            batches += 1
            for key, value in items.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            rate = images / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix({**{k: f"{v / batches:.4g}" for k, v in sums.items()}, "lr": f"{self.lr:.2e}", "img/s": f"{rate:.1f}"},
                            refresh=False)
        bar.close()
        summary = {f"train/{k}": v / max(batches, 1) for k, v in sums.items()}
        summary["images_per_s"] = images / max(time.perf_counter() - started, 1e-9)
        return summary

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @property
    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema else self.model

    def fit(self) -> dict[str, float]:
        """Train for ``train.epochs`` (or until early stopping); return the last epoch's row."""
        self._setup()
        cfg = self.train_cfg
        results_csv = self.run_dir / "results.csv"
        if dist.is_main():
            make_dirs(self.weights_dir)
            atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(to_dict(self.config), sort_keys=False))
        rows = [r for r in read_rows(results_csv) if r["epoch"] <= self.start_epoch]
        elapsed_before = rows[-1].get("time", 0.0) if rows else 0.0
        started = time.perf_counter()
        row: dict[str, float] = {}
        completed = self.start_epoch - 1
        if dist.is_main():
            precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
            backend = f", DDP {torch.distributed.get_backend()}" if dist.initialized() else ""
            layout = ", channels_last" if self.channels_last else ""
            print(f"litebone: training {self.task.name} on {self.device} x{dist.world_size()} ({precision}{layout}{backend}), "
                  f"run dir {self.run_dir}")
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                seed_everything(cfg.seed + epoch)
                self.task.on_epoch_start(epoch, cfg.epochs)
                row = {"epoch": epoch + 1, **self._train_epoch(epoch), "lr": self.lr}
                if dist.is_main():
                    evaluation = self.task.evaluate(self.eval_model, self.val_loader, self.device) if self.task.validates(
                        epoch, cfg.epochs) else None
                    improved = False
                    if evaluation is not None:
                        metrics = evaluation.metrics
                        row.update({f"val/{k}": v for k, v in metrics.items()})
                        improved = self._improved(metrics[self.task.metric])
                        if improved:
                            self.best, self.best_epoch = metrics[self.task.metric], epoch
                    row["time"] = elapsed_before + time.perf_counter() - started
                    if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs or improved:
                        checkpoint = self._checkpoint(epoch)
                        atomic_save(checkpoint, self.weights_dir / "last.pt")
                        if improved:
                            atomic_save(checkpoint, self.weights_dir / "best.pt")
                    rows.append(row)
                    completed = epoch
                    write_rows(results_csv, rows)
                    if evaluation is not None or epoch + 1 == cfg.epochs:
                        plot_rows(rows, self.run_dir / "results.png")
                    if evaluation is not None:
                        self.task.save_samples(self.run_dir, evaluation)
                    print(
                        f"epoch {epoch + 1}/{cfg.epochs}  "
                        + "  ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch")
                        + ("  (not validated)" if evaluation is None else "  (best)" if improved else "")
                    )
                dist.barrier()
                if cfg.patience and epoch - self.best_epoch >= cfg.patience:
                    if dist.is_main():
                        print(f"early stop: no {self.task.metric} improvement for {cfg.patience} epochs")
                    break
        except KeyboardInterrupt:
            if dist.is_main():
                saved = load_checkpoint(self.weights_dir / "last.pt")["epoch"] + 1 if (self.weights_dir / "last.pt").is_file() else 0
                kept = f"{self.weights_dir / 'last.pt'} holds epoch {saved}" if saved else "no epoch was saved yet"
                print(f"\ninterrupted in epoch {completed + 2}: that partial epoch is discarded and {kept}; "
                      f"continue with --resume {self.run_dir}")
            raise
        finally:
            dist.cleanup()
        if dist.is_main() and (self.weights_dir / "best.pt").is_file():
            best = load_checkpoint(self.weights_dir / "best.pt")
            self.eval_model.load_state_dict(best["ema"] if best["ema"] is not None else best["model"])
            export_safetensors(self.eval_model, self.weights_dir / "best.safetensors", {
                "task": self.task.name, "config": json.dumps(to_dict(self.config)), "meta": json.dumps(self.task.metadata()),
            })
        return row
