"""Interleaved timing: every candidate runs once per round, so machine drift hits all alike."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


@torch.no_grad()
def interleaved_times(candidates: dict[str, Callable[[], object]], rounds: int = 20, warmup: int = 3) -> dict[str, list[float]]:
    """Seconds per call for each candidate, measured in alternating rounds after ``warmup`` calls each."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)
