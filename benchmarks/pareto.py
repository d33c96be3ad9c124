"""Accuracy against fused CPU latency: litebone's recipe ladder beside the models a user would otherwise train.

    python -m benchmarks.pareto --task detect|depth [--epochs 30 [18 ...]] [--peer-epochs 30] [--ultralytics-python PY]

On this CPU, from scratch, one seed:
- detection: synthetic shapes, 800 train / 200 val at 320 px; peers Ultralytics YOLOv8n, YOLO11n and YOLO26n;
- depth: synthetic scenes, 600 / 150 at 192x256 (``--train``/``--val`` change the counts); peers Ultralytics YOLO26n-depth and smp's U-Net on
  MobileNetV2 (litebone's ``unet`` decoder is smp's ``UnetDecoder``; it runs in litebone's trainer with
  the ladder's loss and lr, at the peers' ``--batch`` and ``--peer-epochs``).
litebone trains every recipe of the ladder (``configs/``, upstream weights off, at the data's size unless
the recipe sets another than the demo's default) once for each schedule length in ``--epochs``;
Ultralytics trains in the environment of ``--ultralytics-python`` with its own defaults and evaluator,
for ``--peer-epochs`` (their usual 30). Each trained model's fused forward pass is then timed at batch 1
in interleaved rounds in this process (timing the peers needs ``litebone[ultralytics]`` here).
Prints a Markdown table, with each run's wall-clock and the time litebone needed to reach each peer's
final accuracy, and writes ``pareto_<task>.png``. Finished runs in ``--out`` are reused, so ``--only``
can train the rows one session at a time.

``--seeds 0 1 2`` trains each litebone row (the U-Net included) once per seed and adds a table of the
final metrics' means and standard deviations, and each row's difference from the U-Net's means with
its standard error; one run carries about 0.01 delta1 of seed noise (README, depth ladder). The first
seed's runs are the ones timed and plotted; the Ultralytics peers train their one seed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.detect_vs_yolov8n import curve  # noqa: E402
from benchmarks.runs import finished, train  # noqa: E402
from tasks.bench.environment import cpu_model  # noqa: E402
from tasks.bench.timing import interleaved_times  # noqa: E402
from tasks.config import load_config  # noqa: E402
from tasks.depth.config import DepthConfig  # noqa: E402
from tasks.depth.inference import load_depth_model  # noqa: E402
from tasks.depth.synth import write_scenes  # noqa: E402
from tasks.detect.config import DetectConfig  # noqa: E402
from tasks.detect.inference import load_detector  # noqa: E402
from tasks.detect.synth import write_shapes  # noqa: E402
from tasks.files import atomic_write_text  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LADDER = {"detect": ("detect_fast", "detect", "detect_accurate"), "depth": ("depth_fast", "depth", "depth_accurate")}
PEERS = {"detect": {"YOLOv8n": "yolov8n.yaml", "YOLO11n": "yolo11n.yaml", "YOLO26n": "yolo26n.yaml"},
         "depth": {"YOLO26n-depth": "yolo26n-depth.yaml"}}
SMP_UNET = ["model.backbone=mobilenetv2_100", "model.decoder=unet", "model.decoder_kwargs={}", "data.low_res_fraction=0"]
# Each side's own names for the metrics on the plot: (litebone results.csv column, Ultralytics column, higher is better)
METRICS = {"detect": {"mAP50-95": ("val/mAP50-95", "metrics/mAP50-95(B)", True)},
           "depth": {"delta1": ("val/delta1", "metrics/delta1", True), "AbsRel": ("val/abs_rel", "metrics/abs_rel", False),
                     "RMSE": ("val/rmse", "metrics/rmse", False)}}
ULTRALYTICS_TRAIN = """
import sys
from ultralytics import YOLO
model, data, size, epochs, batch, out, name = sys.argv[1:8]
YOLO(model).train(data=data, imgsz=int(size), epochs=int(epochs), batch=int(batch), device="cpu", workers=2, project=out,
                  name=name, exist_ok=True, pretrained=False, amp=False, plots=False, seed=0)
"""


SPLITS = {"detect": (800, 200), "depth": (600, 150)}


def dataset(task: str, out: Path, train_images: int, val_images: int) -> tuple[Path, tuple[int, int]]:
    """The synthetic data, written once; returns its data.yaml and the input shape."""
    if task == "detect":
        data = out / "shapes" / "data.yaml"
        if not data.is_file():
            write_shapes(out / "shapes", train=train_images, val=val_images, size=320, seed=0)
        return data, (320, 320)
    data = out / "scenes" / "data.yaml"
    if not data.is_file():
        write_scenes(out / "scenes", train=train_images, val=val_images, size=256, seed=0)
    return data, (192, 256)


def ultralytics_data(task: str, data: Path) -> Path:
    """Ultralytics' data.yaml for the same files (its depth reader wants image folders and a class name)."""
    if task == "detect":
        return data
    litebone = yaml.safe_load(data.read_text())
    path = data.with_name("ultralytics.yaml")
    atomic_write_text(path, yaml.safe_dump({"path": litebone["path"], "train": "images/train", "val": "images/val",
                                            "names": {0: "depth"}, "depth_scale": litebone["depth_scale"]}))
    return path


def own_size(task: str, recipe: Path) -> bool:
    """Whether the recipe sets an input size of its own (one other than the task's default, the demo's)."""
    if task == "detect":
        return load_config(DetectConfig, recipe).data.img_size != DetectConfig().data.img_size
    data, default = load_config(DepthConfig, recipe).data, DepthConfig().data
    return (data.height, data.width) != (default.height, default.width)


def fused(task: str, weights: Path) -> tuple[torch.nn.Module, tuple[int, int]]:
    """The trained model's fused copy and the input shape it was trained at."""
    if task == "detect":
        model, config, _ = load_detector(weights)
        return model.fuse(config.data.img_size), (config.data.img_size,) * 2
    model, config, _ = load_depth_model(weights)
    shape = (config.data.height, config.data.width)
    return model.fuse(shape), shape


def seed_run_name(name: str, seed: int) -> str:
    """The run folder of ``seed``: seed 0 keeps the one-seed name, so its runs are reused."""
    return name if seed == 0 else f"{name}-s{seed}"


def final_values(results: Path, columns: dict[str, str]) -> dict[str, float]:
    """The last validated value of each ``columns`` entry (name: results.csv column), and its time as ``wall-clock s``."""
    curves = {name: curve(results, "time", column) for name, column in columns.items()}
    return {**{name: values[-1][1] for name, values in curves.items()}, "wall-clock s": next(iter(curves.values()))[-1][0]}


def seed_table(finals: dict[str, list[dict[str, float]]], reference: str | None) -> list[str]:
    """Markdown rows: per label, the mean and standard deviation of each final value over its seeds and,
    for every other label, the difference of its means from ``reference``'s with the difference's
    standard error (sqrt(sd_a^2 / n_a + sd_b^2 / n_b)), and the ratio of the mean wall-clocks."""
    names = list(next(iter(finals.values()))[0])

    def mean_sd(values: list[float]) -> str:
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{values[0]:.4f}"

    def versus(label: str, name: str) -> str:
        if reference is None or label == reference:
            return ""
        mine, theirs = [f[name] for f in finals[label]], [f[name] for f in finals[reference]]
        if name == "wall-clock s":
            return f" ({statistics.mean(mine) / statistics.mean(theirs):.2f}x)"
        variance = sum(statistics.variance(v) / len(v) for v in (mine, theirs) if len(v) > 1)
        error = f", SE {variance ** 0.5:.4f}" if variance else ""
        return f" ({statistics.mean(mine) - statistics.mean(theirs):+.4f}{error})"

    rows = [f"| model | seeds | {' | '.join(names)} |", "|---|---|" + "---|" * len(names)]
    for label, values in finals.items():
        cells = []
        for name in names:
            column = [value[name] for value in values]
            summary = f"{statistics.mean(column):.0f}" if name == "wall-clock s" else mean_sd(column)
            cells.append(summary + versus(label, name))
        rows.append(f"| {label} | {len(values)} | {' | '.join(cells)} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["detect", "depth"], required=True)
    parser.add_argument("--epochs", type=int, nargs="+", default=[30], help="litebone's schedule lengths; each recipe trains once per length")
    parser.add_argument("--peer-epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16, help="the peers' batch size (litebone's recipes keep their own)")
    parser.add_argument("--train", type=int, help="training images (detect 800, depth 600)")
    parser.add_argument("--val", type=int, help="validation images (detect 200, depth 150)")
    parser.add_argument("--ultralytics-python", default=sys.executable, help="python of an environment with ultralytics")
    parser.add_argument("--no-peers", action="store_true", help="the ladder alone")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="train only these rows (finished ones are still reported), "
                        "e.g. 'litebone detect 30ep' YOLOv8n")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.seed of each litebone run (the U-Net included); "
                        "more than one adds a table of means and standard deviations")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved latency rounds")
    parser.add_argument("--out", default="runs/bench_pareto")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    task, out = args.task, Path(args.out).resolve()
    data, shape = dataset(task, out, args.train or SPLITS[task][0], args.val or SPLITS[task][1])
    size = [f"data.img_size={shape[0]}"] if task == "detect" else [f"data.height={shape[0]}", f"data.width={shape[1]}"]
    common = [f"data.data={data}", "model.pretrained=false"]

    recipes = {recipe: (f"litebone {recipe}", ["--config", str(CONFIGS / f"{recipe}.yaml"), *common,
                                               *([] if own_size(task, CONFIGS / f"{recipe}.yaml") else size)])
               for recipe in LADDER[task]}
    unet = {} if task != "depth" or args.no_peers else {
        f"smp U-Net (MobileNetV2) {args.peer_epochs}ep": (f"smp-unet-{args.peer_epochs}ep",
                                                          [*common, *size, *SMP_UNET, f"train.batch_size={args.batch}"], args.peer_epochs)}
    litebone_runs = {**{f"{label} {epochs}ep": (f"{recipe}-{epochs}ep", overrides, epochs)
                        for recipe, (label, overrides) in recipes.items() for epochs in args.epochs}, **unet}
    peers = {} if args.no_peers else PEERS[task]
    wanted = set(args.only or [*litebone_runs, *peers])
    if wanted - {*litebone_runs, *peers}:
        parser.error(f"--only: unknown rows {sorted(wanted - {*litebone_runs, *peers})}; choose from {[*litebone_runs, *peers]}")
    runs: dict[str, tuple[str, Path]] = {}
    seed_runs: dict[str, list[Path]] = {}
    for label, (name, overrides, epochs) in litebone_runs.items():
        for seed in args.seeds:
            seed_name = seed_run_name(name, seed)
            if label in wanted:
                train(task, out, seed_name, epochs, [*overrides, f"train.seed={seed}"])
            if finished(out / task / seed_name, epochs):
                seed_runs.setdefault(label, []).append(out / task / seed_name)
        timed_run = out / task / seed_run_name(name, args.seeds[0])
        if timed_run in seed_runs.get(label, []):
            runs[label] = ("litebone", timed_run / "weights" / "best.pt")
    peer_data, env = ultralytics_data(task, data), {**os.environ, "YOLO_OFFLINE": "1"}
    for label, model_file in peers.items():
        run = out / "ultralytics" / label
        if label in wanted and not finished(run, args.peer_epochs):
            subprocess.run([args.ultralytics_python, "-c", ULTRALYTICS_TRAIN, model_file, str(peer_data), str(max(shape)),
                            str(args.peer_epochs), str(args.batch), str(run.parent), label], check=True, env=env)
        if finished(run, args.peer_epochs):
            runs[label] = ("ultralytics", run / "weights" / "best.pt")
    calls, curves, shapes, epochs_run = {}, {}, {}, {}
    for label, (trainer, weights) in runs.items():
        run = weights.parents[1]
        epochs_run[label] = len((run / "results.csv").read_text().strip().splitlines()) - 1
        curves[label] = {name: curve(run / "results.csv", "time", columns[0 if trainer == "litebone" else 1])
                         for name, columns in METRICS[task].items()}
        if trainer == "litebone":
            model, shapes[label] = fused(task, weights)
            pixels = torch.rand(1, 3, *shapes[label]) * 255
        else:
            from ultralytics import YOLO

            model, shapes[label] = YOLO(str(weights)).model.float().fuse(verbose=False).eval(), shape
            pixels = torch.rand(1, 3, *shape)
        calls[label] = lambda m=model, x=pixels: m(x)
    with torch.no_grad():
        times = interleaved_times(calls, rounds=args.rounds, progress="latency")
    ms = {label: statistics.median(values) * 1e3 for label, values in times.items()}

    names = list(METRICS[task])
    peer_labels = [label for label, (trainer, _) in runs.items() if trainer == "ultralytics" or label in unet]
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads; {data.parent.name} at {'x'.join(map(str, shape))}, from scratch, "
          f"seed {args.seeds[0]}; each trainer's own evaluator\n")
    print(f"| model | input | epochs | fused ms (batch 1) | {' | '.join(f'final {n}' for n in names)} | wall-clock s | "
          f"{' | '.join(f's to {p} final {names[0]}' for p in peer_labels)} |")
    print("|---|---|---|---|" + "---|" * (len(names) + 1 + len(peer_labels)))
    for label, metric_curves in curves.items():
        first = metric_curves[names[0]]
        reach = []
        for peer in peer_labels:
            target, higher = curves[peer][names[0]][-1][1], METRICS[task][names[0]][2]
            hit = next((t for t, value in first if (value >= target if higher else value <= target)), None)
            reach.append("-" if hit is None else f"{hit:.0f}")
        print(f"| {label} | {'x'.join(map(str, shapes[label]))} | {epochs_run[label]} | {ms[label]:.2f} | {' | '.join(f'{metric_curves[n][-1][1]:.4f}' for n in names)} | {first[-1][0]:.0f} | "
              f"{' | '.join(reach)} |")

    if len(args.seeds) > 1:
        columns = {name: METRICS[task][name][0] for name in names}
        finals = {label: [final_values(run / "results.csv", columns) for run in paths] for label, paths in seed_runs.items()}
        reference = next((label for label in unet if label in finals), None)
        versus = (f"; in brackets, the difference from {reference}'s means and its standard error, or the ratio of mean wall-clocks"
                  if reference else "")
        print(f"\nfinal values over the seeds {' '.join(map(str, args.seeds))} that finished (mean ± standard deviation{versus})\n")
        print("\n".join(seed_table(finals, reference)))

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    ladder = [label for label in runs if label.startswith("litebone")]
    for epochs in args.epochs:
        rungs = [label for label in ladder if label.endswith(f" {epochs}ep")]
        if not rungs:
            continue
        axis.plot([ms[label] for label in rungs], [curves[label][names[0]][-1][1] for label in rungs], marker="o",
                  label=f"litebone ladder, {epochs} epochs")
    for label in ladder:
        axis.annotate(label.removeprefix("litebone "), (ms[label], curves[label][names[0]][-1][1]), fontsize=8,
                      textcoords="offset points", xytext=(4, -10))
    for label in runs:
        if label not in ladder:
            axis.plot(ms[label], curves[label][names[0]][-1][1], marker="s", linestyle="none",
                      label=f"{label} ({len(curves[label][names[0]])} ep.)")
    axis.set(xlabel="fused CPU latency, batch 1 (ms)", ylabel=f"val {names[0]}",
             title=f"{task}: {'x'.join(map(str, shape))}, from scratch, {torch.get_num_threads()} CPU threads")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / f"pareto_{task}.png", dpi=110)
    print(f"\nplot: {out / f'pareto_{task}.png'}")


if __name__ == "__main__":
    main()
