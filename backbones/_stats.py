"""Parameter and MAC counts under REFERENCE.md's rules (conv and matmul only, FlopCounterMode / 2)."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of parameters, trainable or not."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, size: int | tuple[int, int] = 224, in_chans: int = 3) -> int:
    """Multiply-accumulates of one forward pass on a 1 x C x H x W input."""
    height, width = (size, size) if isinstance(size, int) else size
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, in_chans, height, width, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
