"""Whole-model fused inference against the model as trained: the default detector and depth model, batch 1.

    python -m benchmarks.fused_models [--size 320] [--depth-size 192 256] [--rounds 30] [--threads 2]

Three variants of each model, on the same weights, timed in the same interleaved rounds: the
model as trained (eval mode), the fused copy stored NCHW (every BatchNorm folded), and what
``fuse()`` returns (NHWC where it measured faster). The forward pass only: letterbox and NMS cost
the same in every variant. Prints median ms and the ratios as a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import torch

from tasks.bench.environment import cpu_model
from tasks.bench.timing import interleaved_times
from tasks.depth.config import DepthConfig
from tasks.depth.model import build_depth_model
from tasks.detect.config import DetectConfig
from tasks.detect.model import build_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=320, help="detector input size")
    parser.add_argument("--depth-size", type=int, nargs=2, default=(192, 256), metavar=("H", "W"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    detect_config, depth_config = DetectConfig(), DepthConfig()
    detector = build_detector(detect_config.model, num_classes=4).eval()
    depth = build_depth_model(depth_config.model, max_depth=10.0).eval()
    inputs = {"detect": torch.randint(0, 256, (1, 3, args.size, args.size)).float(),
              "depth": torch.randint(0, 256, (1, 3, *args.depth_size)).float()}
    models = {
        ("detect", "unfused"): detector,
        ("detect", "fused NCHW"): detector.fuse(args.size, channels_last=False),
        ("detect", "fuse()"): detector.fuse(args.size),
        ("depth", "unfused"): depth,
        ("depth", "fused NCHW"): depth.fuse(tuple(args.depth_size), channels_last=False),
        ("depth", "fuse()"): depth.fuse(tuple(args.depth_size)),
    }
    times = interleaved_times({key: (lambda m=model, x=inputs[key[0]]: m(x)) for key, model in models.items()},
                              rounds=args.rounds, progress="time")
    ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
    print(f"{cpu_model()}, {args.threads} threads, torch {torch.__version__}, batch 1, {args.rounds} interleaved rounds; median ms\n")
    print("| model | input | unfused | fused NCHW | fuse() | fuse() layout | fuse() / unfused |\n|---|---|---|---|---|---|---|")
    for task, label in (("detect", f"{detect_config.model.backbone} + {detect_config.model.neck}"),
                        ("depth", f"{depth_config.model.backbone} + {depth_config.model.decoder}")):
        layout = "NHWC" if models[(task, "fuse()")].backbone.channels_last else "NCHW"
        shape = "x".join(str(v) for v in inputs[task].shape[-2:])
        unfused, nchw, chosen = (ms[(task, kind)] for kind in ("unfused", "fused NCHW", "fuse()"))
        print(f"| {label} | {shape} | {unfused:.2f} | {nchw:.2f} | {chosen:.2f} | {layout} | {chosen / unfused:.2f}x |")


if __name__ == "__main__":
    main()
