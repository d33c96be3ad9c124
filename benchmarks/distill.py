"""Does a teacher help? The default student trained with and without ``train.distill.teacher``, equal epochs.

    python -m benchmarks.distill [--epochs 8] [--teacher-epochs 16] [--train 600] [--val 150] [--out runs/bench_distill]

Detection: a MobileNetV3-L + PAN teacher, then the default detector (MobileNetV3-S + GhostPAN)
with and without it, on the same synthetic shapes (192 px), seed and epochs. Depth: a teacher of
the default depth model trained for ``--teacher-epochs``, then the default student for
``--epochs`` with and without it. Prints the final and best metric and the training wall-clock of
each run (``results.csv`` time), so the margin and its cost are read off one table.
"""
from __future__ import annotations

import argparse
import csv
import warnings
from pathlib import Path

from tasks.cli import main as litebone
from tasks.depth.synth import write_scenes
from tasks.detect.synth import write_shapes


def _run(task: str, out: Path, name: str, args: list[str]) -> dict[str, float]:
    code = litebone(["train", task, *args, "train.workers=1", "eval.samples=0", f"run.project={out}", f"run.name={name}"])
    if code != 0:
        raise SystemExit(f"{task} run {name} failed with exit status {code}")
    with open(out / task / name / "results.csv") as handle:
        return [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(handle)][-1] | {"run": name}


def _runs(task: str, out: Path, common: list[str], teacher_args: list[str], epochs: int) -> list[dict]:
    """The teacher, then the student without and with it; the last results row of each."""
    rows = [_run(task, out, "teacher", [*common, *teacher_args])]
    teacher = out / task / "teacher" / "weights" / "best.pt"
    for name, extra in (("student", []), ("student + teacher", [f"train.distill.teacher={teacher}"])):
        rows.append(_run(task, out, name, [*common, f"train.epochs={epochs}", *extra]))
    return rows


def _table(title: str, metric: str, higher: bool, rows: list[dict], history: dict[str, list[float]]) -> None:
    print(f"\n{title}\n\n| run | final {metric} | best {metric} | training wall-clock |\n|---|---|---|---|")
    for row in rows:
        best = (max if higher else min)(history[row["run"]])
        print(f"| {row['run']} | {row[f'val/{metric}']:.4f} | {best:.4f} | {row['time']:.0f} s |")


def _history(out: Path, task: str, name: str, metric: str) -> list[float]:
    with open(out / task / name / "results.csv") as handle:
        return [float(row[f"val/{metric}"]) for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--teacher-epochs", type=int, default=16)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--out", default="runs/bench_distill")
    parser.add_argument("--task", choices=["detect", "depth", "both"], default="both")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    out = Path(args.out)
    if args.task in ("detect", "both"):
        data = out / "shapes" / "data.yaml"
        if not data.is_file():
            write_shapes(out / "shapes", train=args.train, val=args.val, size=192, progress=False)
        common = [f"data.data={data}", "data.img_size=192"]
        rows = _runs("detect", out, common, [f"train.epochs={args.teacher_epochs}", "model.backbone=mobilenetv3_large_100",
                                             "model.neck=pan", "model.neck_kwargs={width: 0.25, depth: 0.33}"], args.epochs)
        _table("Detection (synthetic shapes, 192 px)", "mAP50-95", True, rows,
               {row["run"]: _history(out, "detect", row["run"], "mAP50-95") for row in rows})
    if args.task in ("depth", "both"):
        data = out / "scenes" / "data.yaml"
        if not data.is_file():
            write_scenes(out / "scenes", train=args.train, val=args.val, size=256, progress=False)
        common = [f"data.data={data}", "data.height=192", "data.width=256"]
        rows = _runs("depth", out, common, [f"train.epochs={args.teacher_epochs}"], args.epochs)
        for metric, higher in (("abs_rel", False), ("delta1", True)):
            _table(f"Depth (synthetic scenes, 192x256): {metric}", metric, higher, rows,
                   {row["run"]: _history(out, "depth", row["run"], metric) for row in rows})


if __name__ == "__main__":
    main()
