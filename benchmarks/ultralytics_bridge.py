"""Which trainer serves a litebone backbone better: Ultralytics' own (through the bridge) or litebone's?

    python -m benchmarks.ultralytics_bridge [--epochs 30 --size 320 --train 800 --val 200 --extra mobilenetv3_small_100]

On the synthetic shapes, from scratch, the same epochs, batch and CPU threads, one after another:
1. Ultralytics YOLOv8n (``yolov8n.yaml``);
2. YOLOv8n's head on MobileNetV3-L, and on ``--extra``, both under Ultralytics' trainer;
3. litebone's own detector on MobileNetV3-L (``model.backbone=mobilenetv3_large_100``, default recipe).
Then every trained model's fused forward pass is timed at batch 1 in interleaved rounds in this
process. Ultralytics rows report Ultralytics' mAP50-95 and the litebone row pycocotools' (each
trainer's own evaluator). Needs ``litebone[ultralytics]``; prints a Markdown table and writes
``ultralytics_bridge.png`` (mAP50-95 against wall-clock per epoch). Finished runs in ``--out`` are
reused, so an interrupted benchmark resumes at the first unfinished run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from benchmarks.detect_vs_yolov8n import curve  # noqa: E402
from benchmarks.runs import finished  # noqa: E402
from tasks.bench.environment import cpu_model  # noqa: E402
from tasks.bench.timing import interleaved_times  # noqa: E402
from tasks.detect.synth import write_shapes  # noqa: E402

ULTRALYTICS_TRAIN = """
import sys
import backbones.ultralytics
from ultralytics import YOLO
model, data, size, epochs, batch, out, name = sys.argv[1:8]
YOLO(model).train(data=data, imgsz=int(size), epochs=int(epochs), batch=int(batch), device="cpu", workers=2, project=out,
                  name=name, exist_ok=True, pretrained=False, amp=False, plots=False, seed=0, close_mosaic=max(1, int(epochs) // 10))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--extra", default="mobilenetv3_small_100", help="a second backbone to put under YOLOv8n's head")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved latency rounds")
    parser.add_argument("--out", default="runs/bench_ultralytics_bridge")
    args = parser.parse_args()
    import backbones.ultralytics as bridge
    from ultralytics import YOLO

    from tasks.detect.inference import load_detector

    out = Path(args.out).resolve()
    data = out / "shapes" / "data.yaml"
    if not data.is_file():
        data = write_shapes(out / "shapes", train=args.train, val=args.val, size=args.size, seed=1)
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    runs: dict[str, tuple[str, Path]] = {}
    for label, backbone in (("YOLOv8n", None), ("MNv3-L + YOLOv8n head", "mobilenetv3_large_100"),
                            (f"{args.extra} + YOLOv8n head", args.extra)):
        name = "yolov8n" if backbone is None else f"{backbone}-yolov8n"
        model_file = "yolov8n.yaml"
        if backbone is not None:
            model_file = str(out / f"{name}.yaml")
            Path(model_file).write_text(bridge.format_yaml(bridge.yolo_yaml(backbone, head="yolov8n", nc=4)))
        if not finished(out / name, args.epochs):
            subprocess.run([sys.executable, "-c", ULTRALYTICS_TRAIN, model_file, str(data), str(args.size), str(args.epochs),
                            str(args.batch), str(out), name], check=True, env=env)
        runs[label] = ("ultralytics", out / name)
    if not finished(out / "detect" / "litebone", args.epochs):
        subprocess.run([sys.executable, "-m", "tasks.cli", "train", "detect", f"data.data={data}", f"data.img_size={args.size}",
                        "model.backbone=mobilenetv3_large_100", f"train.epochs={args.epochs}", f"train.batch_size={args.batch}",
                        f"run.project={out}", "run.name=litebone", "run.exist_ok=true"], check=True)
    runs["litebone detector, MNv3-L"] = ("litebone", out / "detect" / "litebone")

    curves, models = {}, {}
    for label, (trainer, run) in runs.items():
        if trainer == "ultralytics":
            curves[label] = curve(run / "results.csv", "time", "metrics/mAP50-95(B)")
            models[label] = YOLO(str(run / "weights" / "best.pt")).model.float().fuse(verbose=False).eval()
        else:
            curves[label] = curve(run / "results.csv", "time", "val/mAP50-95")
            models[label] = load_detector(run / "weights" / "best.pt")[0].fuse(args.size)
    unit_images = torch.rand(1, 3, args.size, args.size)
    calls = {label: (lambda m=model, x=(unit_images * 255 if runs[label][0] == "litebone" else unit_images): m(x))
             for label, model in models.items()}
    with torch.no_grad():
        times = interleaved_times(calls, rounds=args.rounds, progress="latency")
    ms = {label: statistics.median(values) * 1e3 for label, values in times.items()}

    base = "YOLOv8n"
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; shapes {args.train}/{args.val} at {args.size} px, "
          f"{args.epochs} epochs, batch {args.batch}, from scratch\n")
    print("| model | trainer | final mAP50-95 | best | wall-clock s | x YOLOv8n time | fused ms (batch 1) | x YOLOv8n latency |")
    print("|---|---|---|---|---|---|---|---|")
    for label, points in curves.items():
        final, best, seconds = points[-1][1], max(m for _, m in points), points[-1][0]
        print(f"| {label} | {runs[label][0]} | {final:.3f} | {best:.3f} | {seconds:.0f} | {seconds / curves[base][-1][0]:.2f}x | "
              f"{ms[label]:.1f} | {ms[label] / ms[base]:.2f}x |")
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for label, points in curves.items():
        axis.plot([t for t, _ in points], [m for _, m in points], marker="o", markersize=3, label=label)
    axis.set(xlabel="training wall-clock (s)", ylabel="val mAP50-95",
             title=f"shapes, {args.size} px, {args.epochs} epochs, CPU ({torch.get_num_threads()} threads)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "ultralytics_bridge.png", dpi=110)
    print(f"\nplot: {out / 'ultralytics_bridge.png'}")


if __name__ == "__main__":
    main()
