"""What each compression path gains and costs: INT8, pruning and distillation of the default models.

    python -m benchmarks.compress [--task detect|depth|both] [--epochs 9] [--train 600] [--val 150] [--out runs/bench_compress]

Per task, on the synthetic data (shapes at 192 px; scenes at 192x256), from scratch:
- base: the default model, ``--epochs`` epochs (depth at full size throughout, as its distilled
  students and pruned fine-tunes train, so that each row differs from the base by one thing);
- INT8: the base's ONNX export quantised by ``litebone export --int8`` (64 calibration images);
- pruned 30% / 50%: ``litebone prune --ratio`` of the base with each importance criterion, then
  ``model.init=`` fine-tuning for a third of the epochs; the criteria table picks the row shown;
- distilled student: the default model with ``train.distill.teacher`` (detection: MobileNetV3-L + PAN;
  depth: the default model trained twice as long), ``--epochs`` epochs; once more with feature
  imitation on (``train.distill.features=1``).
Accuracy is ``litebone val`` of each deployable (checkpoint or ONNX) with the same evaluator.
Latency is batch 1, median of interleaved rounds: PyTorch fused copy, ONNX FP32 and ONNX INT8 on
onnxruntime, all with this process's thread count. Finished runs in ``--out`` are reused.
"""
from __future__ import annotations

import argparse
import math
import statistics
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from benchmarks.runs import train
from tasks.bench.environment import cpu_model
from tasks.bench.timing import interleaved_times
from tasks.depth import inference as depth_inference
from tasks.depth.synth import write_scenes
from tasks.detect import inference as detect_inference
from tasks.detect.synth import write_shapes
from tasks.prune import count_macs_params, prune

CRITERIA = ("l2", "l1", "bn")
RATIOS = (0.3, 0.5)
SETUPS = {
    "detect": {"metric": "mAP50-95", "inference": detect_inference, "shape": (192, 192), "base": [],
               "teacher": ["model.backbone=mobilenetv3_large_100", "model.neck=pan", "model.neck_kwargs={width: 0.25, depth: 0.33}"]},
    "depth": {"metric": "delta1", "inference": depth_inference, "shape": (192, 256), "base": ["data.low_res_fraction=0"], "teacher": []},
}


def accuracy(task: str, weights: Path, out: Path, label: str) -> float:
    metrics = SETUPS[task]["inference"].validate(str(weights), project=str(out / "val"), name=f"{task}-{label}")
    return metrics[SETUPS[task]["metric"]]


def onnx_call(path: Path, pixels: np.ndarray):
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle spinning would slow the other models
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: pixels})


def benchmark(task: str, out: Path, data: Path, epochs: int, rounds: int) -> None:
    setup, inference = SETUPS[task], SETUPS[task]["inference"]
    size = [f"data.img_size={setup['shape'][0]}"] if task == "detect" else [f"data.height={setup['shape'][0]}", f"data.width={setup['shape'][1]}"]
    common = [f"data.data={data}", *size, "train.workers=1"]
    base = train(task, out, "base", epochs, [*common, *setup["base"]])
    teacher = train(task, out, "teacher", 2 * epochs, [*common, *setup["teacher"]])
    student = train(task, out, "student", epochs, [*common, f"train.distill.teacher={teacher}"])
    imitating = train(task, out, "student-features", epochs, [*common, f"train.distill.teacher={teacher}",
                                                              "train.distill.features=1"])
    fp32 = inference.export(str(base), output=str(out / task / "base.onnx"), overwrite=True)
    int8 = inference.export(str(base), output=str(out / task / "base.int8.onnx"), overwrite=True, int8=True)
    base_accuracy = accuracy(task, base, out, "base")

    criteria_rows, pruned = [], {}
    for ratio in RATIOS:
        for criterion in CRITERIA:
            name = f"pruned{round(ratio * 100)}-{criterion}"
            start = out / task / f"{name}.pt"
            if not start.is_file():
                prune(task, str(base), ratio, output=str(start), importance=criterion)
            tuned = train(task, out, name, math.ceil(epochs / 3), [*common, f"model.init={start}"])
            criteria_rows.append((ratio, criterion, tuned, accuracy(task, tuned, out, name)))
        best = max((row for row in criteria_rows if row[0] == ratio), key=lambda row: row[3])
        pruned[ratio] = (best[1], best[2], best[3], inference.export(str(best[2]), output=str(out / task / f"pruned{ratio}.onnx"), overwrite=True))

    load = detect_inference.load_detector if task == "detect" else depth_inference.load_depth_model
    example = torch.zeros(1, 3, *setup["shape"])
    pixels = np.random.default_rng(0).integers(0, 256, (1, 3, *setup["shape"])).astype(np.float32)
    rows = {"base": (base, fp32, base_accuracy), "INT8": (None, int8, accuracy(task, int8, out, "int8"))}
    for ratio, (criterion, tuned, value, onnx_path) in pruned.items():
        rows[f"pruned {round(ratio * 100)}% ({criterion})"] = (tuned, onnx_path, value)
    rows["distilled student"] = (student, None, accuracy(task, student, out, "student"))
    rows["distilled student + features"] = (imitating, None, accuracy(task, imitating, out, "student-features"))
    calls, sizes = {}, {}
    for label, (weights, onnx_path, _) in rows.items():
        if weights is not None:
            model = load(weights)[0]
            sizes[label] = count_macs_params(model, example)
            fused = model.fuse(setup["shape"][0]) if task == "detect" else model.fuse(setup["shape"])
            calls[(label, "torch")] = (lambda m=fused, x=torch.from_numpy(pixels): m(x))
        if onnx_path is not None:
            calls[(label, "int8" if label == "INT8" else "fp32")] = onnx_call(Path(onnx_path), pixels)
    sizes["INT8"] = sizes["base"]
    with torch.no_grad():
        times = interleaved_times(calls, rounds=rounds, progress=f"{task} latency")
    ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}

    metric = setup["metric"]
    shape = "x".join(map(str, setup["shape"]))
    print(f"\n{task}: synthetic data at {shape}, {epochs} epochs from scratch; {cpu_model()}, {torch.get_num_threads()} threads, batch 1\n")
    print(f"| row | params | MACs | PyTorch fused ms | ONNX FP32 ms | ONNX INT8 ms | {metric} | of base |\n|---|---|---|---|---|---|---|---|")
    for label, (_, _, value) in rows.items():
        macs, params = sizes[label]
        cells = [f"{ms[(label, kind)]:.2f}" if (label, kind) in ms else "-" for kind in ("torch", "fp32", "int8")]
        print(f"| {label} | {params / 1e6:.2f}M | {macs / 1e6:.0f}M | {' | '.join(cells)} | {value:.4f} | {value / base_accuracy:.1%} |")
    print(f"\nPruning criteria (fine-tuned {math.ceil(epochs / 3)} epochs; base {metric} {base_accuracy:.4f})\n")
    print(f"| ratio | criterion | MACs removed | {metric} | of base |\n|---|---|---|---|---|")
    for ratio, criterion, tuned, value in criteria_rows:
        macs = count_macs_params(load(tuned)[0], example)[0]
        print(f"| {ratio} | {criterion} | {1 - macs / sizes['base'][0]:.0%} | {value:.4f} | {value / base_accuracy:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["detect", "depth", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", default="runs/bench_compress")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    out = Path(args.out).resolve()
    for task in (["detect", "depth"] if args.task == "both" else [args.task]):
        folder = out / ("shapes" if task == "detect" else "scenes")
        data = folder / "data.yaml"
        if not data.is_file():
            writer = write_shapes if task == "detect" else write_scenes
            writer(folder, train=args.train, val=args.val, size=192 if task == "detect" else 256, progress=False)
        benchmark(task, out, data, args.epochs, args.rounds)


if __name__ == "__main__":
    main()
