"""Peak memory of one forward pass: weights, input, and the activations' peak.

The activations' peak is the CUDA allocator's peak over what was allocated before (other models may
be resident) on GPU, and a storage tracker on CPU.

The CPU tracker is written here: torch only reports allocator peaks for CUDA, and its
``MemTracker`` is a private training tool that needs gradient-carrying parameters.
"""
from __future__ import annotations

import weakref
from functools import partial

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class _LiveStorageBytes(TorchDispatchMode):
    """Tracks the bytes of storages created inside the mode and their peak while they are alive."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._alive: dict[int, weakref.ref] = {}

    def _release(self, key: int, nbytes: int, _ref: weakref.ref) -> None:
        self.live -= nbytes
        self._alive.pop(key, None)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(output):
            if isinstance(leaf, torch.Tensor):
                storage = leaf.untyped_storage()
                key = storage._cdata
                if key not in self._alive:
                    nbytes = storage.nbytes()
                    self._alive[key] = weakref.ref(storage, partial(self._release, key, nbytes))
                    self.live += nbytes
                    self.peak = max(self.peak, self.live)
        return output


def _resident_bytes(model: nn.Module, inputs: torch.Tensor) -> int:
    storages = {t.untyped_storage()._cdata: t.untyped_storage().nbytes() for t in [*model.parameters(), *model.buffers(), inputs]}
    return sum(storages.values())


@torch.inference_mode()
def peak_forward_bytes(model: nn.Module, inputs: torch.Tensor) -> int:
    """Bytes held at the peak of ``model(inputs)``: weights, buffers, the input and live activations."""
    if inputs.device.type == "cuda":
        torch.cuda.synchronize(inputs.device)
        allocated_before = torch.cuda.memory_allocated(inputs.device)
        torch.cuda.reset_peak_memory_stats(inputs.device)
        model(inputs)
        torch.cuda.synchronize(inputs.device)
        activations = torch.cuda.max_memory_allocated(inputs.device) - allocated_before
    else:
        tracker = _LiveStorageBytes()
        with tracker:
            model(inputs)
        activations = tracker.peak
    return _resident_bytes(model, inputs) + int(activations)
