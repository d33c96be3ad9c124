"""Where the fused inference path's speed comes from: fusion, channels_last, and both, in one run.

    python -m benchmarks.fuse [NAME or PATTERN ...] [--size 320] [--batch 1] [--rounds 20] [--threads 2]

Four variants of each backbone, on the same weights, timed in the same interleaved rounds:
plain (unfused, NCHW), fused (NCHW), unfused channels_last, and fused channels_last
(``bb.fuse(channels_last=True)``). Prints median ms and the speed-ups as a Markdown table.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import warnings

import timm
import torch

from backbones import get_backbone
from tasks.bench.environment import cpu_model
from tasks.bench.runner import resolve_names
from tasks.bench.timing import interleaved_times


def variants(name: str) -> dict[str, torch.nn.Module]:
    plain = get_backbone(name).eval()
    return {
        "plain": plain,
        "fused": plain.fuse(),
        "nhwc": copy.deepcopy(plain).to_channels_last(),
        "fused nhwc": plain.fuse(channels_last=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("patterns", nargs="*", help="names or shell patterns (default: every curated backbone)")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    names = resolve_names(args.patterns)
    models = {(name, kind): model for name in names for kind, model in variants(name).items()}
    x = torch.randn(args.batch, 3, args.size, args.size)
    times = interleaved_times({key: (lambda m=model: m(x)) for key, model in models.items()}, rounds=args.rounds,
                              progress="time")
    ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
    print(f"{cpu_model()}, {args.threads} threads, torch {torch.__version__}, timm {timm.__version__}, "
          f"{args.size} px, batch {args.batch}, {args.rounds} interleaved rounds; median ms\n")
    print("| backbone | plain | fused | channels_last | fused + channels_last | fusion gain (NCHW) | "
          "fusion gain (NHWC) | fused + NHWC vs plain |\n|---|---|---|---|---|---|---|---|")
    for name in names:
        plain, fused, nhwc, both = (ms[(name, kind)] for kind in ("plain", "fused", "nhwc", "fused nhwc"))
        print(f"| {name} | {plain:.2f} | {fused:.2f} | {nhwc:.2f} | {both:.2f} | {plain / fused:.2f}x | "
              f"{nhwc / both:.2f}x | {plain / both:.2f}x |")


if __name__ == "__main__":
    main()
