"""Depth on CPU: latency, params and MACs per backbone x decoder, a FastDepth reference, training images/s.

    python -m benchmarks.depth [--threads 2] [--rounds 15]

The reference is FastDepth as in its paper (MobileNetV1 1.0 + NNConv5: five depthwise 5x5 +
pointwise stages 1024-512-256-128-64-32 with nearest x2 upsampling, additive skips from the
encoder at strides 2, 4 and 8, then a 1x1 conv), built here so both run in the same process.
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from backbones import count_macs, count_params, get_backbone
from tasks.bench.timing import interleaved_times, training_images_per_second
from tasks.depth.losses import SILogLoss
from tasks.depth.model import DepthModel


def _dw_pw(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chs, in_chs, 5, padding=2, groups=in_chs, bias=False), nn.BatchNorm2d(in_chs), nn.ReLU(inplace=True),
        nn.Conv2d(in_chs, out_chs, 1, bias=False), nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True),
    )


class FastDepthReference(nn.Module):
    """MobileNetV1 encoder + NNConv5 decoder with the paper's additive skips (strides 8, 4, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = get_backbone("mobilenetv1_100", out_indices=(0, 1, 2, 3, 4))
        widths = [1024, 512, 256, 128, 64, 32]
        self.decode = nn.ModuleList(_dw_pw(widths[i], widths[i + 1]) for i in range(5))
        self.out = nn.Conv2d(32, 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        s2, s4, s8, _, x = self.encoder((images.float() - 127.5) / 64)
        skips = {1: s8, 2: s4, 3: s2}
        for index, stage in enumerate(self.decode):
            x = F.interpolate(stage(x), scale_factor=2.0, mode="nearest")
            if index in skips:
                x = x + skips[index]
        return self.out(x)


def train_images_per_second(model: nn.Module, size: tuple[int, int], batch: int = 8, steps: int = 3) -> float:
    images = torch.randint(0, 255, (batch, 3, *size), dtype=torch.uint8)
    depth = torch.rand(batch, 1, *size) * 5 + 0.5
    return training_images_per_second(model, lambda: SILogLoss()(model(images), depth, depth > 0), batch, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, timm {timm.__version__}, {args.threads} threads")
    for size in ((224, 224), (256, 320)):
        models = {f"{b} + {d}": DepthModel(b, decoder=d).eval() for b in ("mobilenetv2_100", "mobilenetv3_large_100") for d in ("fastdepth", "unet", "fpn", "fusion")}
        if size == (224, 224):
            models["mobilenetv1_100 + fastdepth (litebone)"] = DepthModel("mobilenetv1_100", decoder="fastdepth").eval()
            models["FastDepth reference (paper)"] = FastDepthReference().eval()
        x = torch.randint(0, 255, (1, 3, *size), dtype=torch.uint8)
        calls = {n: (lambda m=m: m(x)) for n, m in models.items()}
        times = interleaved_times(calls, rounds=args.rounds)
        print(f"\n{size[0]}x{size[1]}\n| model | params | GMACs | latency median ms | train img/s (batch 8) |\n|---|---|---|---|---|")
        for name, model in models.items():
            macs = count_macs(model, size) / 1e9
            train = train_images_per_second(model, size) if size == (224, 224) else float("nan")
            print(f"| {name} | {count_params(model) / 1e6:.2f}M | {macs:.3f} | {statistics.median(times[name]) * 1e3:.1f} | {train:.1f} |", flush=True)


if __name__ == "__main__":
    main()
