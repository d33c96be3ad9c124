"""What the detect and depth inference commands share: rebuilding a trained model, and the validate scaffold."""
from __future__ import annotations

import copy
import statistics
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from backbones._fuse import fuse_model

from .bench.timing import interleaved_times
from .config import from_dict
from .engine import Evaluation, Task
from .engine.distributed import parse_device
from .engine.layout import to_channels_last
from .engine.runs import new_run_dir
from .engine.weights import read_trained
from .files import make_dirs
from .images import ImageReadError, image_files, output_stems, read_image
from .prune import load_weights

C = TypeVar("C")


def inference_copy(model: nn.Module, example: torch.Tensor, channels_last: bool | None = None) -> nn.Module:
    """An inference-only copy of a task model: every BatchNorm folded into its conv (the backbone through its
    own ``fuse``, then neck, head and decoder), re-parameterisable blocks merged, gradients off.

    ``channels_last=None`` stores it NHWC when that times faster on ``example`` (one input at the size
    it will run at) on this device, NCHW otherwise. Outputs equal the eval-mode model to float rounding.
    """
    fused, _ = fuse_model(model.eval(), example)
    fused.requires_grad_(False)
    if channels_last is None:
        nhwc = to_channels_last(copy.deepcopy(fused))
        times = interleaved_times({"nchw": lambda: fused(example), "nhwc": lambda: nhwc(example)}, rounds=5, warmup=2,
                                  device=example.device)
        return nhwc if statistics.median(times["nhwc"]) < statistics.median(times["nchw"]) else fused
    return to_channels_last(fused) if channels_last else fused


def load_teacher(weights: str, task: str, config_class: type[C], build: Callable[[C, dict[str, Any]], nn.Module]
                 ) -> tuple[nn.Module, C, dict[str, Any]]:
    """A distillation teacher: the trained model, frozen and in eval mode, on the CPU; with its config and metadata."""
    model, config, meta = load_trained(weights, task, config_class, build)
    model.requires_grad_(False)
    return model, config, meta


def load_trained(weights: str | Path, task: str, config_class: type[C], build: Callable[[C, dict[str, Any]], nn.Module],
                 device: str = "cpu") -> tuple[nn.Module, C, dict[str, Any]]:
    """(model in eval mode on ``device``, its config, its metadata) from a ``.pt`` or ``.safetensors`` of ``task``.

    ``build(config, metadata)`` makes the untrained model; the weights are the EMA ones when present,
    and neither upstream weights, ``model.init`` nor a distillation teacher are read again.
    """
    target = parse_device(device, "--device")
    state, config_dict, meta = read_trained(weights, task)
    config = from_dict(config_class, config_dict)
    config.model.pretrained, config.model.init, config.train.distill.teacher = False, None, None
    model = load_weights(build(config, meta), state, meta, weights)
    return model.to(target).eval(), config, meta


def readable_images(source: str | Path, channels: int) -> Iterator[tuple[Path, Path, np.ndarray]]:
    """(path, distinct output stem, image) for every image in ``source`` that reads, with a progress bar; each
    unreadable one is named and skipped, and the count is printed at the end."""
    files = image_files(source)
    skipped = 0
    for path, stem in zip(tqdm(files, desc="predict", leave=False), output_stems(files, source)):
        try:
            image = read_image(path, channels)
        except ImageReadError as error:
            print(f"litebone: skipped {error}")
            skipped += 1
            continue
        yield path, stem, image
    if skipped:
        print(f"litebone: skipped {skipped} of {len(files)} images (named above)")


def run_validation(task: Task, model: Any, loader: Any, project: str, name: str) -> tuple[Evaluation, Path]:
    """Evaluate ``model`` (a module, or an ONNX runner) and save its samples into a new run dir
    ``<project>/<task>/<name>N``; return both."""
    device = next(model.parameters()).device if isinstance(model, nn.Module) else torch.device("cpu")
    evaluation = task.evaluate(model, loader, device)
    out = make_dirs(new_run_dir(project, task.name, name, False))
    task.save_samples(out, evaluation)
    return evaluation, out
