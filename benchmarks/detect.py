"""Detection on CPU: end-to-end latency (letterbox, forward, decode, NMS), params, FLOPs, training images/s.

    python -m benchmarks.detect [--size 320] [--threads 2] [--rounds 20]

Models are timed interleaved, round by round, so machine drift hits all alike.
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
import timm
import torch

from backbones import count_macs, count_params
from tasks.bench.timing import interleaved_times, training_images_per_second
from tasks.detect.loss import DetectionLoss
from tasks.detect.model import Detector

BACKBONES = ("mobilenetv3_small_100", "mobilenetv3_large_100", "shufflenet_v2_x1_0", "ghostnet_100")
NECKS = ("pan", "ghostpan")


def train_images_per_second(model: Detector, size: int, batch: int = 8, steps: int = 4) -> float:
    loss_fn = DetectionLoss()
    images = torch.randint(0, 255, (batch, 3, size, size), dtype=torch.uint8)
    targets = torch.tensor([[i, i % 80, 40.0, 40.0, 160.0, 200.0] for i in range(batch)])
    return training_images_per_second(model, lambda: loss_fn(model.head, model(images), targets)[0], batch, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--classes", type=int, default=80)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    models = {f"{b} + {n}": Detector(b, num_classes=args.classes, neck=n).eval() for b in BACKBONES for n in NECKS}
    print(f"torch {torch.__version__}, timm {timm.__version__}, {args.threads} threads, {args.size} px, 640x480 source, {args.classes} classes")
    times = interleaved_times({name: (lambda m=m: m.predict([image], args.size, conf=0.25)) for name, m in models.items()}, rounds=args.rounds)
    print("| model | params | GFLOPs | latency median ms | p90 ms | train img/s (batch 8) |\n|---|---|---|---|---|---|")
    for name, model in models.items():
        runs = sorted(times[name])
        gflops = 2 * count_macs(model, args.size) / 1e9
        train = train_images_per_second(model, args.size)
        print(f"| {name} | {count_params(model) / 1e6:.2f}M | {gflops:.2f} | {statistics.median(runs) * 1e3:.1f} | "
              f"{runs[int(0.9 * (len(runs) - 1))] * 1e3:.1f} | {train:.1f} |", flush=True)


if __name__ == "__main__":
    main()
