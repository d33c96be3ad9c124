"""Interleaved timing: every candidate is timed once per round, so a drift of the machine hits all alike.

Each visit starts with untimed calls: with many models in rotation, the previous model evicts this
one's weights from the CPU caches and its kernels from oneDNN's primitive cache, which a deployed
model running in a loop would not suffer. On CUDA each call is bracketed by CUDA events and the
device is synchronised before reading them.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
from tqdm import tqdm


def _time_call(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3
    start_time = time.perf_counter()
    fn()
    return time.perf_counter() - start_time


@torch.inference_mode()
def interleaved_times(
    candidates: dict[str, Callable[[], object]],
    rounds: int = 20,
    warmup: int = 3,
    device: torch.device | str = "cpu",
    progress: str | None = None,
    visit_warmup: int = 1,
) -> dict[str, list[float]]:
    """Seconds per call for each candidate, measured in ``rounds`` after ``warmup`` calls each.

    Every visit runs ``visit_warmup`` untimed calls before the timed one. The order rotates every
    round so that no candidate always runs right after the same one. ``progress``, when given, is
    the label of a progress bar.
    """
    device = torch.device(device)
    names = list(candidates)
    total = len(names) * (warmup + rounds * (1 + visit_warmup))
    bar = tqdm(total=total, desc=progress, unit="call", disable=progress is None, leave=False)
    for name in names:
        for _ in range(warmup):
            _time_call(candidates[name], device)
            bar.update()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            for _ in range(visit_warmup):
                candidates[name]()
            times[name].append(_time_call(candidates[name], device))
            bar.update(1 + visit_warmup)
    bar.close()
    return times


def training_images_per_second(model: torch.nn.Module, loss_of_step: Callable[[], torch.Tensor], batch: int, steps: int) -> float:
    """Images/s of AdamW training steps, ``loss_of_step()`` giving one batch's loss; the first step is not timed."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        loss = loss_of_step()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - start)
