"""Structured channel pruning of a trained task model through torch-pruning's dependency graph.

Whole channels are removed across backbone, neck, head and decoder, with torch-pruning tracking
depthwise and grouped convolutions, concatenations and residual adds; the prediction layers keep
their outputs. A pruned model is an ordinary checkpoint plus, in its metadata, the shape of every
layer that changed (plain integers, so the weights-only loader reads it): ``apply_shapes`` turns a
freshly built model into the pruned architecture before its weights are loaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from .errors import UserError

IMPORTANCE = {  # bn is the default: it kept the most accuracy in all six settings of benchmarks/compress.py
    "bn": "BatchNorm scale |gamma| of each channel (BNScaleImportance, Network Slimming)",
    "l2": "L2 norm of each channel group's weights (torch-pruning GroupMagnitudeImportance, p=2)",
    "l1": "L1 norm of each channel group's weights (GroupMagnitudeImportance, p=1)",
}

_SHAPE_ATTRIBUTES = {nn.Conv2d: ("in_channels", "out_channels", "groups"), _BatchNorm: ("num_features",),
                     nn.Linear: ("in_features", "out_features")}


def _attributes(module: nn.Module) -> tuple[str, ...]:
    return next((names for kind, names in _SHAPE_ATTRIBUTES.items() if isinstance(module, kind)), ())


def layer_shapes(model: nn.Module) -> dict[str, dict[str, int]]:
    """The channel attributes of every conv, norm and linear layer, by module name."""
    return {name: {key: int(getattr(module, key)) for key in _attributes(module)}
            for name, module in model.named_modules() if _attributes(module)}


def apply_shapes(model: nn.Module, shapes: dict[str, dict[str, int]], state: dict[str, torch.Tensor]) -> nn.Module:
    """Reshape ``model`` in place to the pruned architecture described by ``shapes`` and the tensors in ``state``."""
    modules = dict(model.named_modules())
    for name, attributes in shapes.items():
        for key, value in attributes.items():
            setattr(modules[name], key, value)
    for key, tensor in state.items():
        owner, _, attribute = key.rpartition(".")
        module = modules[owner]
        current = getattr(module, attribute, None)
        if isinstance(current, torch.Tensor) and current.shape != tensor.shape:
            replacement = torch.empty_like(tensor, dtype=current.dtype)
            if isinstance(current, nn.Parameter):
                setattr(module, attribute, nn.Parameter(replacement, requires_grad=current.requires_grad))
            else:
                module.register_buffer(attribute, replacement)
    return model


def _importance(name: str):
    import torch_pruning as tp

    if name not in IMPORTANCE:
        raise UserError(f"unknown importance {name!r}; choose one of {', '.join(IMPORTANCE)}")
    return {"l2": lambda: tp.importance.GroupMagnitudeImportance(p=2), "l1": lambda: tp.importance.GroupMagnitudeImportance(p=1),
            "bn": tp.importance.BNScaleImportance}[name]()


def prune_model(model: nn.Module, example: torch.Tensor, ratio: float, keep: list[nn.Module], importance: str = "bn") -> nn.Module:
    """Remove ``ratio`` of the channels of every prunable layer group, the least important by ``importance``
    (a key of ``IMPORTANCE``), in place; ``keep`` stay whole."""
    if not 0 < ratio < 1:
        raise UserError(f"--ratio must lie strictly between 0 and 1 (the share of channels to remove), got {ratio}")
    import torch_pruning as tp

    criterion = _importance(importance)
    try:
        pruner = tp.pruner.MetaPruner(model.eval(), example, importance=criterion, pruning_ratio=ratio, ignored_layers=keep)
        pruner.step()
    except Exception as error:  # torch-pruning fails on operations its graph cannot follow
        raise UserError(f"torch-pruning cannot prune this model ({type(error).__name__}: {error}); "
                        f"a backbone or neck with channel shuffle or chunked convs may need a custom pruner") from None
    return model


def count_macs_params(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    """(MACs, parameters) of one forward pass, as torch-pruning counts them."""
    import torch_pruning as tp

    macs, params = tp.utils.count_ops_and_params(model, example)
    return int(macs), int(params)


def pruned_checkpoint(model: nn.Module, task: str, config: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of the pruned ``model`` that ``litebone val/predict/export`` and ``model.init=`` read."""
    return {"model": model.state_dict(), "ema": None, "task": task, "config": config,
            "meta": {**meta, "pruned": layer_shapes(model)}, "epoch": -1}


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], meta: dict[str, Any], source: str | Path) -> nn.Module:
    """Load trained ``state`` into a freshly built ``model``, reshaping it first when ``meta`` says it was pruned."""
    if meta.get("pruned"):
        apply_shapes(model, meta["pruned"], state)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise UserError(f"{source} does not fit the model its config describes ({str(error).splitlines()[0][:160]})") from None
    return model


class InitialWeights:
    """``model.init``: a trained or pruned checkpoint read once, loaded into each model the task builds.

    ``metadata`` is what the task's own checkpoints must carry on (the pruned shapes).
    """

    def __init__(self, path: str, task: str) -> None:
        from .engine.weights import read_trained

        self.path = path
        self.state, _, meta = read_trained(path, task)
        self.meta = meta
        self.metadata = {"pruned": meta["pruned"]} if meta.get("pruned") else {}

    def load_into(self, model: nn.Module) -> nn.Module:
        return load_weights(model, self.state, self.meta, f"model.init={self.path}")


def prune(task: str, weights: str, ratio: float, output: str | None = None, overwrite: bool = False, importance: str = "bn") -> Path:
    """``litebone prune``: remove ``ratio`` of the channels of a trained detector or depth model; write its checkpoint."""
    from .config import to_dict
    from .engine import atomic_save
    from .files import check_output

    path = check_output(output or Path(weights).with_name(f"{Path(weights).stem}.pruned{round(ratio * 100)}.pt"), [weights], overwrite)
    if task == "detect":
        from .detect.inference import load_detector

        model, config, names = load_detector(weights)
        meta = {"names": names}
        example = torch.zeros(1, model.backbone.in_chans, config.data.img_size, config.data.img_size)
        keep = [branch[-1] for branch in [*model.head.box, *model.head.cls]]
    else:
        from .depth.inference import load_depth_model

        model, config, meta = load_depth_model(weights)
        example = torch.zeros(1, model.backbone.in_chans, config.data.height, config.data.width)
        keep = [model.head.conv]
    before = count_macs_params(model, example)
    prune_model(model, example, ratio, keep, importance)
    after = count_macs_params(model, example)
    atomic_save(pruned_checkpoint(model, task, to_dict(config), meta), path)
    print(f"litebone: pruned {weights} -> {path}: MACs {before[0] / 1e6:.1f}M -> {after[0] / 1e6:.1f}M "
          f"({1 - after[0] / before[0]:.0%} removed), params {before[1] / 1e6:.2f}M -> {after[1] / 1e6:.2f}M. "
          f"Fine-tune it with the original run's settings and about a third of its epochs: "
          f"litebone train {task} ... model.init={path}")
    return path
