"""Where the light detector's accuracy ceiling comes from: one change at a time, same data, epochs and CPU.

    python -m benchmarks.detect_ablation [--base previous|default] [--epochs 15] [--size 320] [--train 800] [--val 200] [--only NAME ...]

Every row trains the base from scratch on the synthetic shapes with one group of overrides. The base
is ``previous`` (MobileNetV3-S + GhostPAN 96 + depthwise head, peak lr 3e-3, ``close_mosaic`` 3: the
default before this ablation moved it) or ``default`` (``configs/detect.yaml`` as it is now). The
overrides are: capacity (head convs, neck width and blocks, tapped levels, backbone
P3 width), assignment, augmentation strength and ``close_mosaic``, schedule, EMA and input size.
Then each trained model's fused forward pass (``Detector.fuse``) is timed at batch 1 in interleaved
rounds in this process. Prints final and best mAP50-95 (pycocotools), training wall-clock and
latency as a Markdown table. Finished runs in ``--out`` are reused, so ``--only`` can add rows later.
"""
from __future__ import annotations

import argparse
import statistics
import warnings
from pathlib import Path

import torch

from benchmarks.runs import finished, train
from tasks.bench.environment import cpu_model
from tasks.bench.timing import interleaved_times
from tasks.detect.inference import load_detector
from tasks.detect.synth import write_shapes
from tasks.engine.results import read_rows

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "detect.yaml"
BASES = {"previous": ["model.head_kwargs={reg_max: 16, depthwise: true}", "train.lr=0.003", "data.close_mosaic=3"], "default": []}
FULL_HEAD = "model.head_kwargs={reg_max: 16, depthwise: false}"
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "base": ("none", []),
    "full-head": ("head: dense 3x3 convs instead of depthwise", [FULL_HEAD]),
    "neck128": ("neck: GhostPAN 128 channels (96)", ["model.neck_kwargs={channels: 128}"]),
    "neck-blocks2": ("neck: 2 ghost blocks per fusion (1)", ["model.neck_kwargs={blocks: 2}"]),
    "pan-full-head": ("neck: YOLOv8 C2f PAN (width 0.25) + dense head", ["model.neck=pan", "model.neck_kwargs={width: 0.25, depth: 0.33}", FULL_HEAD]),
    "p6": ("levels: + a stride-64 level", ["model.neck_kwargs={extra_level: true}"]),
    "mnv3-large": ("backbone: MobileNetV3-L (P3 40 channels, 24)", ["model.backbone=mobilenetv3_large_100"]),
    "topk13": ("assigner: top-13 candidates (10)", ["loss.topk=13"]),
    "mosaic0.5": ("augment: mosaic on half the batches (all)", ["data.mosaic=0.5"]),
    "close-mosaic0": ("augment: mosaic to the last epoch (off for 3)", ["data.close_mosaic=0"]),
    "close-mosaic6": ("augment: mosaic off for the last 6 epochs (3)", ["data.close_mosaic=6"]),
    "lr6e-3": ("schedule: peak lr 6e-3 (3e-3)", ["train.lr=0.006"]),
    "lr1.5e-3": ("schedule: peak lr 1.5e-3 (3e-3)", ["train.lr=0.0015"]),
    "no-ema": ("EMA off (on, decay 0.998)", ["train.ema=false"]),
    "size384": ("input 384 px (320)", ["data.img_size=384"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", choices=list(BASES), default="previous", help="what every row changes one thing of")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--size", type=int, default=320, help="training and latency input size")
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="train only these rows (finished ones are still reported)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved latency rounds")
    parser.add_argument("--out", default="runs/bench_detect_ablation")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    out = Path(args.out).resolve()
    data = out / "shapes" / "data.yaml"
    if not data.is_file():
        data = write_shapes(out / "shapes", train=args.train, val=args.val, size=args.size, seed=0)
    for name in args.only or VARIANTS:
        train("detect", out, name, args.epochs, ["--config", str(RECIPE), *BASES[args.base], f"data.data={data}", f"data.img_size={args.size}", *VARIANTS[name][1]])

    done = {name: out / "detect" / name for name in VARIANTS if finished(out / "detect" / name, args.epochs)}
    models = {name: load_detector(run / "weights" / "best.pt")[:2] for name, run in done.items()}
    calls = {name: (lambda m=model.fuse(config.data.img_size), x=torch.rand(1, 3, config.data.img_size, config.data.img_size) * 255: m(x))
             for name, (model, config) in models.items()}
    with torch.no_grad():
        times = interleaved_times(calls, rounds=args.rounds, progress="latency")
    ms = {name: statistics.median(values) * 1e3 for name, values in times.items()}

    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; shapes {args.train}/{args.val} at {args.size} px, "
          f"{args.epochs} epochs from scratch, one seed\n")
    print("| row | change | final mAP50-95 | best | vs base | wall-clock s | fused ms (batch 1) |\n|---|---|---|---|---|---|---|")
    rows = {name: read_rows(run / "results.csv") for name, run in done.items()}
    reference = rows["base"][-1]["val/mAP50-95"] if "base" in rows else float("nan")
    for name, results in rows.items():
        final, best = results[-1]["val/mAP50-95"], max(r["val/mAP50-95"] for r in results)
        print(f"| {name} | {VARIANTS[name][0]} | {final:.4f} | {best:.4f} | {final - reference:+.4f} | {results[-1]['time']:.0f} | "
              f"{ms[name]:.2f} |")


if __name__ == "__main__":
    main()
