"""Time-to-accuracy: litebone against Ultralytics YOLOv8n on the same synthetic shapes, CPU, size and epochs.

    python -m benchmarks.detect_vs_yolov8n --ultralytics-python /path/to/venv/bin/python [--epochs 12 --size 192]

Ultralytics runs in its own environment (the package never imports it), from ``yolov8n.yaml``
without pretrained weights, like litebone's default. Both runs write per-epoch wall-clock and
mAP50-95; this prints both curves and writes ``time_to_accuracy.png``. Note each side computes
mAP50-95 with its own evaluator (pycocotools for litebone, Ultralytics' COCO-style AP for YOLOv8n).
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tasks.detect.synth import write_shapes  # noqa: E402

ULTRALYTICS = """
import sys
from ultralytics import YOLO
data, size, epochs, batch, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
YOLO("yolov8n.yaml").train(data=data, imgsz=size, epochs=epochs, batch=batch, device="cpu", workers=2, project=out,
                           name="yolov8n", exist_ok=True, pretrained=False, amp=False, plots=False, seed=0, close_mosaic=3)
"""


def curve(path: Path, time_key: str, map_key: str) -> list[tuple[float, float]]:
    """(time, metric) of each epoch that was validated."""
    with open(path, newline="") as handle:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(handle)]
    return [(float(r[time_key]), float(r[map_key])) for r in rows if r.get(map_key, "").strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ultralytics-python", required=True, help="python of an environment with ultralytics installed")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", default="runs/bench_vs_yolov8n")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    data = write_shapes(out / "shapes", train=1000, val=200, size=args.size, seed=0)
    subprocess.run([sys.executable, "-m", "tasks.cli", "train", "detect", f"data.data={data}", f"data.img_size={args.size}",
                    f"train.epochs={args.epochs}", f"train.batch_size={args.batch}", f"run.project={out}", "run.name=litebone",
                    "run.exist_ok=true"], check=True)
    subprocess.run([args.ultralytics_python, "-c", ULTRALYTICS, str(data), str(args.size), str(args.epochs), str(args.batch), str(out)], check=True)
    ours = curve(out / "detect/litebone/results.csv", "time", "val/mAP50-95")
    theirs = curve(out / "yolov8n/results.csv", "time", "metrics/mAP50-95(B)")
    target = theirs[-1][1]
    reached = next((t for t, m in ours if m >= target), None)
    print("| run | final mAP50-95 | wall-clock s |\n|---|---|---|")
    print(f"| litebone (default recipe) | {ours[-1][1]:.3f} | {ours[-1][0]:.0f} |")
    print(f"| Ultralytics YOLOv8n | {target:.3f} | {theirs[-1][0]:.0f} |")
    if reached is None:
        print(f"litebone did not reach YOLOv8n's final mAP50-95 {target:.3f}")
    else:
        print(f"litebone reached YOLOv8n's final mAP50-95 {target:.3f} after {reached:.0f} s = {reached / theirs[-1][0]:.2f}x YOLOv8n's wall-clock")
    figure, axis = plt.subplots(figsize=(6, 4))
    for label, points in (("litebone", ours), ("YOLOv8n", theirs)):
        axis.plot([t for t, _ in points], [m for _, m in points], marker="o", label=label)
    axis.set(xlabel="wall-clock (s)", ylabel="val mAP50-95", title=f"synthetic shapes, {args.size} px, {args.epochs} epochs, CPU")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "time_to_accuracy.png", dpi=110)


if __name__ == "__main__":
    main()
