"""Forward time of the litebone wrapper against the raw timm / torchvision model on the same weights.

    python -m benchmarks.backbones [NAME or PATTERN ...] [--size 320] [--batch 1 8] [--rounds 15] [--threads N]

Prints one row per curated backbone with median ms for both and the ratio (target <= 1.02).
"""
from __future__ import annotations

import argparse
import statistics
import warnings

import timm
import torch

from backbones import get_backbone, list_backbones, resolve_spec
from tasks.bench.timing import interleaved_times


def raw_model(name: str, backbone) -> torch.nn.Module:
    """The upstream feature model with the backbone's weights: timm's features_only, else the body itself."""
    spec = resolve_spec(name)
    if spec.wrap == "timm" and name in timm.list_models():
        indices = tuple(backbone.levels[i].feature_index for i in backbone.out_indices)
        model = timm.create_model(name, features_only=True, out_indices=indices)
        model.load_state_dict(backbone.body.state_dict())
        return model.eval()
    return backbone.body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("patterns", nargs="*", default=["*"], help="names or shell patterns (default: every curated backbone)")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, timm {timm.__version__}, threads {args.threads}, size {args.size}")
    print("| backbone | batch | litebone ms | raw ms | ratio |\n|---|---|---|---|---|")
    for name in sorted({n for pattern in args.patterns for n in list_backbones(pattern)}):
        backbone = get_backbone(name).eval()
        raw = raw_model(name, backbone)
        for batch in args.batch:
            x = torch.randn(batch, 3, args.size, args.size)
            times = interleaved_times({"ours": lambda: backbone(x), "raw": lambda: raw(x)}, rounds=args.rounds)
            ours, theirs = statistics.median(times["ours"]) * 1e3, statistics.median(times["raw"]) * 1e3
            print(f"| {name} | {batch} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.3f} |", flush=True)


if __name__ == "__main__":
    main()
