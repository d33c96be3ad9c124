"""A tiny task for engine tests: a conv net regressing a fixed function of random images.

Run as a script (also under torchrun): python toy_train.py RUN_DIR [key=value ...] [--resume] [--sleep S]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from tasks.config import load_config
from tasks.engine import Evaluation, RunConfig, Task, TrainConfig, Trainer


@dataclass
class ToyConfig:
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=4, batch_size=8, lr=0.01, workers=0, deterministic=True, warmup_epochs=0.5))
    run: RunConfig = field(default_factory=RunConfig)


def _data(seed: int, n: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g)
    y = x[:, 0].mean((1, 2), keepdim=False).unsqueeze(1) * 2 - x[:, 2].amax((1, 2)).unsqueeze(1)
    return TensorDataset(x, y)


class ToyTask(Task):
    name = "toy"
    metric = "mse"
    metric_mode = "min"

    def __init__(self, nan_at_step: int | None = None, sleep: float = 0.0) -> None:
        self.nan_at_step = nan_at_step
        self.sleep = sleep
        self.steps = 0

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 1))

    def train_dataset(self):
        return _data(0, 64)

    def val_dataset(self):
        return _data(1, 32)

    def training_step(self, model, batch, device, modules):
        x, y = (t.to(device) for t in batch)
        loss = nn.functional.mse_loss(model(x), y)
        self.steps += 1
        if self.nan_at_step is not None and self.steps >= self.nan_at_step:
            loss = loss * float("nan")
        if self.sleep:
            time.sleep(self.sleep)
        return loss, {"mse": loss.item()}

    @torch.no_grad()
    def evaluate(self, model, loader, device):
        model.eval()
        errors = [nn.functional.mse_loss(model(x.to(device)), y.to(device), reduction="sum") for x, y in loader]
        return Evaluation({"mse": float(sum(errors) / len(loader.dataset))})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args(argv)
    config = load_config(ToyConfig, None, [f"run.project={args.run_dir}", "run.exist_ok=true", *args.overrides])
    trainer = Trainer(ToyTask(sleep=args.sleep), config, resume=f"{args.run_dir}/toy/exp" if args.resume else None)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        sys.exit(130)
    rank = int(__import__("os").environ.get("RANK", "0"))
    torch.save(trainer.model.state_dict(), f"{args.run_dir}/final_rank{rank}.pt")


if __name__ == "__main__":
    main()
