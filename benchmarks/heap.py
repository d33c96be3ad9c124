"""What keeping freed memory in the heap (``tasks.engine.heap``) saves per CPU training step.

    python -m benchmarks.heap [--steps 20] [--rounds 2]

Times training steps (forward, SILog loss, backward, fused AdamW; NHWC, 192x256) of the default
depth model at batch 4 and smp's U-Net on MobileNetV2 at batch 16, each in a fresh process with
glibc's default heap and with ``keep_freed_memory()``, alternating the two in each round. Prints the
median step time and the minor page faults per step as a Markdown table.

The step is the trainer's (``zero_grad(set_to_none=True)``, then forward and backward, then the
fused AdamW step), not ``tasks.bench.timing.training_images_per_second``'s (foreach AdamW, gradients
freed between the forward and the backward): the faults depend on that order of allocations, and
measured that way the default depth model showed 4,786 faults per step, not the trainer's 37,000.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

MODELS = {
    "default depth (MNv2 + fastdepth), batch 4": ({}, 4),
    "smp U-Net (MNv2), batch 16": ({"decoder": "unet"}, 16),
}


def measure(model: str, keep: bool, steps: int) -> dict[str, float]:
    """Median step time (ms) and minor page faults per step, in this process."""
    import torch

    from tasks.depth.config import DepthModelConfig
    from tasks.depth.losses import SILogLoss
    from tasks.depth.model import build_depth_model
    from tasks.engine.heap import keep_freed_memory
    from tasks.engine.layout import to_channels_last

    if keep:
        keep_freed_memory()
    torch.manual_seed(0)
    overrides, batch = MODELS[model]
    net = to_channels_last(build_depth_model(DepthModelConfig(**overrides), 10.0)).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, fused=True)
    loss = SILogLoss()
    images = torch.randint(0, 255, (batch, 3, 192, 256), dtype=torch.uint8)
    depth = torch.rand(batch, 1, 192, 256) * 5 + 0.5

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss(net(images).float(), depth, depth > 0).backward()
        optimizer.step()

    for _ in range(3):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"ms": statistics.median(times) * 1000, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "HEAP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1] == "kept", args.steps)))
        return
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for model in MODELS:
            for heap in ("glibc default", "kept"):
                out = subprocess.run([sys.executable, "-m", "benchmarks.heap", "--steps", str(args.steps), "--child", model, heap],
                                     capture_output=True, text=True, check=True)
                results.setdefault((model, heap), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| model | heap | step (median of rounds) | minor page faults per step |\n|---|---|---|---|")
    for (model, heap), runs in results.items():
        print(f"| {model} | {heap} | {statistics.median(r['ms'] for r in runs):.1f} ms | "
              f"{statistics.median(r['faults'] for r in runs):,.0f} |")


if __name__ == "__main__":
    main()
