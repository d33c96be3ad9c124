"""GPU latency of detectors and depth models (fp32 and bf16 autocast), timed with CUDA events.

    python -m benchmarks.gpu_latency [--size 320] [--batch 1 32] [--rounds 50]
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import torch

from tasks.depth.model import DepthModel
from tasks.detect.model import Detector

MODELS = [
    *[(f"detect {b} + {n}", lambda b=b, n=n: Detector(b, num_classes=80, neck=n))
      for b in ("mobilenetv3_small_100", "mobilenetv3_large_100", "shufflenet_v2_x1_0", "ghostnet_100") for n in ("pan", "ghostpan")],
    *[(f"depth {b} + {d}", lambda b=b, d=d: DepthModel(b, decoder=d))
      for b in ("mobilenetv2_100", "mobilenetv3_large_100") for d in ("fastdepth", "unet", "fpn", "fusion")],
]


@torch.no_grad()
def cuda_ms(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None, rounds: int) -> list[float]:
    times = []
    with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
        for index in range(rounds + 10):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            end.record()
            torch.cuda.synchronize()
            if index >= 10:
                times.append(start.elapsed_time(end))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible; this benchmark needs one")
    torch.backends.cudnn.benchmark = True
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, size {args.size}")
    print("| model | batch | fp32 ms (median) | bf16 ms (median) | bf16 speed-up |\n|---|---|---|---|---|")
    for name, build in MODELS:
        model = build().cuda().eval().to(memory_format=torch.channels_last)
        for batch in args.batch:
            x = torch.randint(0, 255, (batch, 3, args.size, args.size), device="cuda").float().contiguous(memory_format=torch.channels_last)
            fp32 = statistics.median(cuda_ms(model, x, None, args.rounds))
            bf16 = statistics.median(cuda_ms(model, x, torch.bfloat16, args.rounds))
            print(f"| {name} | {batch} | {fp32:.2f} | {bf16:.2f} | {fp32 / bf16:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
