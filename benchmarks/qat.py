"""INT8 of trained models: onnxruntime's post-training calibration against quantisation-aware fine-tuning.

    python -m benchmarks.qat --task detect|depth --weights W [--data D] [--qat-epochs 1 2] [--rounds 30]

Exports ``W`` as FP32 ONNX, as INT8 calibrated by onnxruntime (``litebone export --int8``), and as INT8
after each number of epochs in ``--qat-epochs`` of quantisation-aware fine-tuning
(``--int8 --qat-epochs N``); scores each with ``litebone val`` on the val split of ``--data`` (default:
the data the weights were trained on) and times each under onnxruntime, batch 1, in interleaved rounds
in this process. Prints a Markdown table with the accuracy, its change from the checkpoint, the
export's wall-clock (the fine-tuning included), latency and file size. Writes into a new numbered
folder ``<--out>/<task>/qatN``, never over an earlier run.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks.compress import onnx_call
from tasks.bench.environment import cpu_model
from tasks.bench.timing import interleaved_times
from tasks.depth import inference as depth_inference
from tasks.detect import inference as detect_inference
from tasks.engine.runs import new_run_dir
from tasks.files import make_dirs
from tasks.onnx_model import OnnxModel

TASKS = {"detect": (detect_inference, ("mAP50-95", "mAP50")), "depth": (depth_inference, ("delta1", "abs_rel", "rmse"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--weights", required=True, help="a trained best.pt")
    parser.add_argument("--data", help="data.yaml to validate on (default: the one in the weights' config)")
    parser.add_argument("--qat-epochs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", default="runs/bench", help="project folder for the exports and val runs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    inference, metrics = TASKS[args.task]
    out = make_dirs(new_run_dir(args.out, args.task, "qat", False))
    variants = {"FP32": {}, "INT8, onnxruntime calibration": {"int8": True},
                **{f"INT8, QAT {n} epoch{'s' * (n > 1)}": {"int8": True, "qat_epochs": n} for n in args.qat_epochs}}
    exports, seconds = {}, {}
    for index, (label, options) in enumerate(variants.items()):
        start = time.perf_counter()
        exports[label] = inference.export(args.weights, output=str(out / f"{index}.onnx"), **options)
        seconds[label] = time.perf_counter() - start
    scores = {"checkpoint (.pt, fused)": inference.validate(args.weights, data=args.data, project=str(out / "val"))}
    scores.update({label: inference.validate(str(path), data=args.data, project=str(out / "val")) for label, path in exports.items()})
    shape = [1, *OnnxModel(exports["FP32"], args.task).input.shape[1:]]
    pixels = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    times = interleaved_times({label: onnx_call(path, pixels) for label, path in exports.items()}, rounds=args.rounds, progress="latency")
    ms = {label: statistics.median(values) * 1e3 for label, values in times.items()}
    base = scores["checkpoint (.pt, fused)"][metrics[0]]
    print(f"\n{args.weights}; {cpu_model()}, {torch.get_num_threads()} threads; onnxruntime batch 1, {args.rounds} interleaved rounds\n")
    print(f"| model | {' | '.join(metrics)} | change of {metrics[0]} | export wall-clock | onnxruntime ms | size |")
    print("|---|" + "---|" * (len(metrics) + 4))
    for label, score in scores.items():
        values = " | ".join(f"{score[m]:.4f}" for m in metrics)
        row = f"| {label} | {values} | {score[metrics[0]] - base:+.4f} |"
        if label in exports:
            row += f" {seconds[label]:.0f} s | {ms[label]:.2f} | {Path(exports[label]).stat().st_size / 1e6:.2f} MB |"
        else:
            row += " | | |"
        print(row)


if __name__ == "__main__":
    main()
