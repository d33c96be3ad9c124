"""torchrun integration: process-group setup, rank helpers. gloo on CPU, NCCL on GPU."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def initialized() -> bool:
    """True when launched by torchrun (the process group exists, even with one process)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def parse_device(name: str, option: str = "train.device") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` as a device; anything else, or a GPU that is not there, is a
    ``UserError`` naming ``option`` (the config key or flag the user set)."""
    from ..errors import UserError

    joiner = " " if option.startswith("-") else "="
    text = str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UserError(f"{option}{joiner}{name} is not a device litebone runs on; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{option}{joiner}{name} was asked for, but no CUDA GPU is visible (torch {torch.__version__}); "
                            f"use {option}{joiner}cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"{option}{joiner}{name}: there are only {torch.cuda.device_count()} CUDA GPUs (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return device


def setup(device_name: str) -> torch.device:
    """Join the torchrun process group if launched by torchrun; return this process's device."""
    device = parse_device(device_name)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return device


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_true(flag: bool, device: torch.device) -> bool:
    """True only if ``flag`` holds on every rank."""
    if world_size() == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def average_gradients(parameters) -> None:
    """Average the gradients of ``parameters`` across processes (for trainable modules outside the DDP-wrapped model)."""
    if world_size() == 1:
        return
    for parameter in parameters:
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad /= world_size()


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
