"""Quantisation-aware fine-tuning (QAT) of a trained task model, exported as an INT8 QDQ ONNX graph.

Every convolution of the fused inference copy becomes torch.ao's QAT ``Conv2d`` (INT8 weights,
symmetric per output channel) between fake-quantisers of its input and its output (UINT8 per
tensor, moving-average min-max ranges), so that onnxruntime runs integer convolutions. Each tensor
is quantised once: a convolution that takes another's output does not quantise it again. Unlike
the static quantiser (``quantize.py``), which quantises every INT8-capable operator of the trunk,
only convolutions are quantised here: the activations and adds between them stay float.
(Quantising a convolution's output after its ReLU instead made the depth model's export 1.8x slower
under onnxruntime, which then ran those convolutions in float.)

Each range starts as the mean over the calibration images of the activation's extremes (the
observers' default moving average would leave it near the first image's). The model then trains for
a few epochs with the task's own loss and data and the rounding in the loop, ranges following the
activations until the last epoch. The export carries the learned scales as QuantizeLinear /
DequantizeLinear pairs, so onnxruntime runs the quantisation that was trained rather than
calibrating its own; its basic graph optimisation folds the weights' quantisation into INT8
initialisers.

torch.ao provides the fake quantisers and the QAT convolution; wrapping each convolution between
two of them is written here because its FX ``prepare_qat_fx`` fails on the default detector and depth
model ("symbolically traced variables cannot be used as inputs to control flow") and its eager
``prepare_qat`` observes module outputs only.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.ao.nn.qat as nnqat
import torch.nn as nn
from torch.ao.quantization import (FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, QConfig,
                                   disable_fake_quant, disable_observer, enable_fake_quant, enable_observer)
from tqdm import tqdm

from .engine import Task
from .engine.heap import keep_freed_memory
from .engine.loader import TrainingLoader
from .errors import UserError
from .quantize import write_int8_model

ACTIVATION = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
                                    qscheme=torch.per_tensor_affine, reduce_range=False)
WEIGHT = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
                                qscheme=torch.per_channel_symmetric, ch_axis=0)
QCONFIG = QConfig(activation=ACTIVATION, weight=WEIGHT)


class FakeQuantizedConv(nn.Module):
    """A convolution with fake-quantised weights and output, and input unless the convolution producing it quantised it."""

    def __init__(self, conv: nn.Conv2d, quantize_input: bool = True) -> None:
        super().__init__()
        conv.qconfig = QCONFIG
        self.input_quant = ACTIVATION() if quantize_input else nn.Identity()
        self.conv = nnqat.Conv2d.from_float(conv)
        self.output_quant = ACTIVATION()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_quant(self.conv(self.input_quant(x)))


@torch.no_grad()
def fed_by_convs(model: nn.Module, example: torch.Tensor) -> set[nn.Module]:
    """The convolutions of ``model`` whose every input, running ``example``, is another convolution's output.

    Every leaf module that changes its input records itself as the producer of its output: an in-place
    activation (ReLU6(inplace=True) returns the tensor it was given, its version bumped) does, an
    ``nn.Identity`` or eval-mode dropout (the same tensor, unchanged) does not."""
    produced: dict[int, tuple[torch.Tensor, nn.Module | None]] = {}
    sources: dict[nn.Module, list[nn.Module | None]] = {}
    versions: dict[nn.Module, int] = {}

    def record_input(module, args):
        if args and isinstance(args[0], torch.Tensor):
            versions[module] = args[0]._version
            if type(module) is nn.Conv2d:
                sources.setdefault(module, []).append(produced.get(id(args[0]), (None, None))[1])

    def record_output(module, args, output):
        if args and output is args[0] and output._version == versions.get(module):
            return
        produced[id(output)] = (output, module if type(module) is nn.Conv2d else None)

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_pre_hook(record_input) for m in leaves] + [m.register_forward_hook(record_output) for m in leaves]
    try:
        model(example)
    finally:
        for handle in handles:
            handle.remove()
    return {conv for conv, inputs in sources.items() if all(inputs)}


def fake_quantize(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Replace every ``nn.Conv2d`` of ``model`` (a fused, BatchNorm-free copy) by a ``FakeQuantizedConv``, quantising each
    activation once (``fed_by_convs`` on ``example`` finds the inputs already quantised); returns ``model``."""
    quantised_inputs = fed_by_convs(model, example)

    def replace(module: nn.Module) -> None:
        for name, child in module.named_children():
            if type(child) is nn.Conv2d:
                setattr(module, name, FakeQuantizedConv(child, quantize_input=child not in quantised_inputs))
            else:
                replace(child)

    replace(model)
    return model


@torch.no_grad()
def calibrate(model: nn.Module, images: list[np.ndarray]) -> None:
    """Set every fake-quantiser's range to the mean over ``images`` of its activation's extremes in the float model, then
    freeze the ranges and switch the rounding on."""
    model.apply(disable_fake_quant)
    model.apply(enable_observer)
    observers = [m for m in model.modules() if isinstance(m, MovingAverageMinMaxObserver)]
    constants = [observer.averaging_constant for observer in observers]
    for count, image in enumerate(images, 1):
        for observer in observers:
            observer.averaging_constant = 1 / count
        model(torch.from_numpy(image))
    for observer, constant in zip(observers, constants):
        observer.averaging_constant = constant
    model.apply(disable_observer)
    model.apply(enable_fake_quant)


def finetune(task: Task, model: nn.Module, epochs: int, lr: float) -> None:
    """Train the fake-quantised ``model`` ``epochs`` epochs on the task's training split with its own loss, batch size,
    loader workers, seed and gradient clipping (AdamW, cosine from ``lr``), as the last epochs of the task's schedule;
    ranges follow the data until the last epoch."""
    train = task.config.train
    model.requires_grad_(True)
    keep_freed_memory()
    generator = torch.Generator().manual_seed(train.seed)
    loader = TrainingLoader(task.train_dataset(), batch_size=train.batch_size, shuffle=True, num_workers=train.workers,
                            collate_fn=task.collate_fn, drop_last=True, generator=generator, yield_cpu=True)
    if len(loader) == 0:
        raise UserError(f"quantisation-aware fine-tuning needs at least one batch of {train.batch_size} training images; "
                        f"the training split has {len(loader.dataset)}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    total = train.epochs
    device, modules = torch.device("cpu"), nn.ModuleDict()
    model.apply(enable_observer)
    for epoch in range(epochs):
        task.on_epoch_start(max(total - epochs + epoch, 0), max(total, epochs))
        if epoch == epochs - 1:
            model.apply(disable_observer)
        bar = tqdm(loader, desc=f"QAT {epoch + 1}/{epochs}", leave=False)
        for batch in bar:
            loss, _ = task.training_step(model, batch, device, modules)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip or float("inf"))
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    model.apply(disable_observer)
    model.requires_grad_(False)


def write_qdq(write_float: Callable[[Path], None], path: Path) -> None:
    """Export the fake-quantised model with ``write_float(temporary path)`` and write, atomically at ``path``, that graph
    after onnxruntime's basic optimisation (weights' quantisation folded into INT8 initialisers), metadata kept."""
    with tempfile.TemporaryDirectory() as folder:
        exported, optimised = Path(folder) / "qdq.onnx", Path(folder) / "folded.onnx"
        write_float(exported)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimised)
        ort.InferenceSession(str(exported), options, providers=["CPUExecutionProvider"])
        write_int8_model(onnx.load(optimised), exported, path, quantisation="qat")


def export_qat(task: Task, model: nn.Module, write_float: Callable[[Path], None], path: Path, images: list[np.ndarray],
               epochs: int, lr: float) -> Path:
    """Fake-quantise the fused ``model`` in place, calibrate it on ``images``, fine-tune it ``epochs`` epochs on ``task``
    and write its INT8 QDQ graph at ``path`` (``write_float`` exports ``model``, or a wrapper of it, to a path)."""
    fake_quantize(model, torch.from_numpy(images[0]))
    calibrate(model, images)
    finetune(task, model, epochs, lr)
    write_qdq(write_float, path)
    print(f"litebone: INT8 (QDQ, per-channel weights) after {epochs} epoch{'s' * (epochs > 1)} of quantisation-aware fine-tuning at lr {lr:g}, "
          f"ranges calibrated on {len(images)} training images")
    return path
