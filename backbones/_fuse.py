"""Inference fusion: merge re-parameterisable blocks and fold BatchNorm into the convolution before it.

Re-parameterisation (RepViT, FastViT, MobileOne, ...) is timm's ``reparameterize_model``. The BN
folding is written here: torch.fx's fuser only matches exact ``Conv2d -> BatchNorm2d`` module pairs
in traceable graphs, which misses timm's ``BatchNormAct2d`` (a BatchNorm carrying its activation)
and MixNet's mixed-kernel convolutions. Pairs are found by running one forward pass and pairing
each BatchNorm with the convolution whose output tensor it receives, provided no other operation
reads that tensor; the weights are then folded with ``torch.nn.utils.fusion.fuse_conv_bn_weights``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from timm.layers import BatchNormAct2d, MixedConv2d
from timm.models import reparameterize_model
from torch.nn.utils.fusion import fuse_conv_bn_weights
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

FOLDABLE_NORMS = (nn.BatchNorm2d, BatchNormAct2d)


class _TensorReads(TorchDispatchMode):
    """Counts how many operations read each tensor (by identity) during one forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[int, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        for leaf in tree_leaves((args, kwargs or {})):
            if isinstance(leaf, torch.Tensor):
                self.counts[id(leaf)] = self.counts.get(id(leaf), 0) + 1
        return func(*args, **(kwargs or {}))


def _conv_bn_pairs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """(conv name, norm name) pairs where the norm is the only reader of the conv's output."""
    names = {module: name for name, module in model.named_modules()}
    produced: dict[int, tuple[str, torch.Tensor]] = {}
    fed: list[tuple[str, str, torch.Tensor]] = []

    def on_conv(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        produced[id(output)] = (names[module], output)
        reads.counts[id(output)] = 0

    def on_norm(module: nn.Module, inputs: tuple) -> None:
        source = produced.get(id(inputs[0]))
        if source is not None and source[1] is inputs[0]:
            fed.append((source[0], names[module], inputs[0]))

    reads = _TensorReads()
    hooks = []
    for module in names:
        if isinstance(module, (nn.Conv2d, MixedConv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif type(module) in FOLDABLE_NORMS:
            hooks.append(module.register_forward_pre_hook(on_norm))
    try:
        with torch.no_grad(), reads:
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    return [(conv_name, norm_name) for conv_name, norm_name, tensor in fed if reads.counts.get(id(tensor)) == 1]


def _fold(conv: nn.Conv2d, norm: nn.BatchNorm2d, channels: slice) -> None:
    weight, bias = fuse_conv_bn_weights(
        conv.weight,
        conv.bias,
        norm.running_mean[channels],
        norm.running_var[channels],
        norm.eps,
        norm.weight[channels] if norm.affine else None,
        norm.bias[channels] if norm.affine else None,
    )
    conv.weight, conv.bias = weight, bias


def _after_norm(norm: nn.Module) -> nn.Module:
    """What remains of a norm once folded: nothing, or a timm BatchNormAct2d's dropout and activation."""
    if isinstance(norm, BatchNormAct2d):
        return norm.act if isinstance(norm.drop, nn.Identity) else nn.Sequential(norm.drop, norm.act)
    return nn.Identity()


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


@torch.no_grad()
def fuse_model(model: nn.Module, example: torch.Tensor) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with re-parameterised blocks and BatchNorm folded; also the fold count.

    ``example`` is one input the model accepts; it is only used to discover which convolution feeds
    which BatchNorm. Norms without running statistics are left alone.
    """
    fused = reparameterize_model(model).eval()
    folded = 0
    for conv_name, norm_name in _conv_bn_pairs(fused, example):
        conv, norm = fused.get_submodule(conv_name), fused.get_submodule(norm_name)
        if norm.running_mean is None:
            continue
        parts = list(conv.values()) if isinstance(conv, MixedConv2d) else [conv]
        start = 0
        for part in parts:
            _fold(part, norm, slice(start, start + part.out_channels))
            start += part.out_channels
        _replace(fused, norm_name, _after_norm(norm))
        folded += 1
    return fused, folded
