"""`litebone backbones bench`: params, MACs, latency, throughput and memory of backbones on this machine."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from backbones import (
    Backbone,
    count_macs,
    count_params,
    get_backbone,
    list_backbones,
    resolve_spec,
)

from ..engine.distributed import parse_device
from ..errors import UserError
from .environment import environment
from .memory import peak_forward_bytes
from .timing import interleaved_times

LEVELS = (2, 3, 4)


@dataclass
class BenchOptions:
    """What to measure and how; ``names`` are backbone names or shell patterns (empty: all curated)."""

    names: Sequence[str] = ()
    size: int = 320
    batches: Sequence[int] = (1, 8)
    device: str = "cpu"
    threads: int | None = None
    channels_last: bool = False
    fused: bool = False
    rounds: int = 20
    warmup: int = 3


@dataclass
class BenchResult:
    """One row per measured backbone, the skipped ones with their reason, and the environment."""

    rows: list[dict[str, Any]]
    skipped: dict[str, str]
    environment: dict[str, str]
    options: BenchOptions


def resolve_names(patterns: Sequence[str]) -> list[str]:
    """Exact names (curated or timm) and shell patterns over curated names, in order, without repeats."""
    if not patterns:
        return list_backbones()
    names: list[str] = []
    for pattern in patterns:
        if any(char in pattern for char in "*?["):
            matched = list_backbones(pattern)
            if not matched:
                raise UserError(f"no curated backbone matches {pattern!r}; see `litebone backbones list` for the names")
        else:
            resolve_spec(pattern)
            matched = [pattern]
        names += [name for name in matched if name not in names]
    return names


def check_options(options: BenchOptions) -> torch.device:
    """Validate the options and return the device; every problem names its fix."""
    if options.size < 32 or options.size % 32:
        lower = max(32, options.size // 32 * 32)
        raise UserError(
            f"--size {options.size} is not a positive multiple of 32 (the stride of level 4); use {lower} or {lower + 32}"
        )
    if not options.batches or any(batch < 1 for batch in options.batches):
        raise UserError(f"--batch needs positive batch sizes, e.g. --batch 1,8 (got {list(options.batches)})")
    if options.threads is not None and options.threads < 1:
        raise UserError(f"--threads must be at least 1, got {options.threads}")
    if options.rounds < 1 or options.warmup < 0:
        raise UserError(f"--rounds must be >= 1 and --warmup >= 0 (got {options.rounds} and {options.warmup})")
    return parse_device(options.device, "--device")


def _prepare(backbone: Backbone, options: BenchOptions, device: torch.device, fused: bool) -> Backbone:
    model = backbone.fuse() if fused else backbone
    if options.channels_last:
        model.to_channels_last()
    return model.to(device).eval()


def _build(names: list[str], options: BenchOptions, device: torch.device) -> tuple[dict, dict, dict[str, str]]:
    """Backbones that build and run at the size (and their unfused references with --fused); failures become skips."""
    models, references, skipped = {}, {}, {}
    probe = torch.zeros(1, 3, options.size, options.size, device=device)
    for name in tqdm(names, desc="build", unit="model", leave=False):
        try:
            backbone = get_backbone(name, out_indices=LEVELS).eval()
            reference = _prepare(backbone, options, device, fused=False)
            model = _prepare(backbone, options, device, fused=True) if options.fused else reference
            with torch.inference_mode():
                model(probe)
        except Exception as error:  # a network that cannot run here is reported, not fatal
            skipped[name] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            continue
        models[name] = model
        if options.fused:
            references[name] = reference
    return models, references, skipped


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def run_bench(options: BenchOptions) -> BenchResult:
    """Measure every backbone of ``options`` in interleaved rounds and return the rows."""
    device = check_options(options)
    names = resolve_names(options.names)
    threads_before = torch.get_num_threads()
    threads = options.threads or threads_before
    torch.set_num_threads(threads)
    try:
        return _measure(names, options, device, threads)
    finally:
        torch.set_num_threads(threads_before)


def _measure(names: list[str], options: BenchOptions, device: torch.device, threads: int) -> BenchResult:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models, references, skipped = _build(names, options, device)
    if not models:
        raise UserError(f"no backbone could run at {options.size} px: " + "; ".join(f"{n} ({r})" for n, r in skipped.items()))
    rows, macs = {}, {}
    for name, model in models.items():
        macs[name] = count_macs(model, options.size)
        rows[name] = {
            "name": name,
            "family": resolve_spec(name).family,
            "params_M": _significant(count_params(model) / 1e6),
            "GMACs": _significant(macs[name] / 1e9),
            "channels": "/".join(map(str, model.channels)),
            "strides": "/".join(map(str, model.strides)),
        }
    for batch in options.batches:
        inputs = torch.randn(batch, 3, options.size, options.size, device=device)
        candidates = {name: (lambda m=model, x=inputs: m(x)) for name, model in models.items()}
        candidates |= {f"{name} (unfused)": (lambda m=model, x=inputs: m(x)) for name, model in references.items()}
        times = interleaved_times(candidates, options.rounds, options.warmup, device, progress=f"time batch {batch}")
        for name, model in tqdm(models.items(), desc=f"memory batch {batch}", unit="model", leave=False):
            median, p90 = float(np.median(times[name])), float(np.percentile(times[name], 90))
            row = rows[name]
            row[f"b{batch}_median_ms"] = _significant(median * 1e3)
            row[f"b{batch}_p90_ms"] = _significant(p90 * 1e3)
            row[f"b{batch}_img_s"] = _significant(batch / median)
            row[f"b{batch}_peak_MB"] = round(peak_forward_bytes(model, inputs) / 2**20, 1)
            row[f"b{batch}_GFLOP_s"] = _significant(2 * macs[name] * batch / median / 1e9)
            if options.fused:
                unfused = float(np.median(times[f"{name} (unfused)"]))
                row[f"b{batch}_unfused_median_ms"] = _significant(unfused * 1e3)
                row[f"b{batch}_fused_speedup"] = round(unfused / median, 3)
    return BenchResult(list(rows.values()), skipped, environment(device, threads), options)
