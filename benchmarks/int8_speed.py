"""How much faster INT8 runs than FP32 under onnxruntime, per model, and why it differs.

    python -m benchmarks.int8_speed [--size 320] [--depth-size 192 256] [--rounds 30] [--profile]

Each model (the default detector, the ``configs/detect_large.yaml`` shape, a ResNet-18 + PAN
detector and the default depth model; untrained weights, latency does not depend on them) is
exported fused to ONNX FP32 and quantised exactly as ``litebone export --int8`` does, calibrated on
16 noise images. Both run under onnxruntime, batch 1, this process's thread count, in interleaved
rounds. The table gives the MACs, median ms and the speed-up. ``--profile`` adds, per model, where
onnxruntime spends each precision's time: its own node profiler, summed per operator kind, with
convolutions split into dense and depthwise by kernel size and stride.
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json
import statistics
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

from benchmarks.compress import onnx_call
from tasks.bench.environment import cpu_model
from tasks.bench.timing import interleaved_times
from tasks.config import load_config
from tasks.depth.config import DepthConfig
from tasks.depth.model import build_depth_model
from tasks.detect.config import DetectConfig
from tasks.detect.inference import ExportRaw
from tasks.detect.model import build_detector
from tasks.onnx_export import write_onnx
from tasks.prune import count_macs_params
from tasks.quantize import quantize_int8

DETECTORS = {
    "default detector (MobileNetV3-S + GhostPAN)": [],
    "detect_large shape (MobileNetV3-L + PAN)": ["model.backbone=mobilenetv3_large_100", "model.neck=pan",
                                                 "model.neck_kwargs={width: 0.25, depth: 0.33}", "model.head_kwargs={depthwise: false}"],
    "ResNet-18 + PAN": ["model.backbone=resnet18", "model.neck=pan", "model.neck_kwargs={width: 0.25, depth: 0.33}",
                        "model.head_kwargs={depthwise: false}"],
}


def models(size: int, depth_size: tuple[int, int]) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """Fused models and their example inputs, by label."""
    built = {}
    for label, overrides in DETECTORS.items():
        config = load_config(DetectConfig, None, overrides)
        detector = build_detector(config.model, num_classes=4).eval()
        built[label] = (ExportRaw(detector.fuse(size, channels_last=False)).eval(), torch.zeros(1, 3, size, size))
    depth_config = DepthConfig().model
    depth = build_depth_model(depth_config, max_depth=10.0).eval()
    built[f"default depth model ({depth_config.backbone} + {depth_config.decoder})"] = (
        depth.fuse(depth_size, channels_last=False), torch.zeros(1, 3, *depth_size))
    return built


def operator_kind(node: onnx.NodeProto) -> str:
    """``Conv dw 5x5/1``-style names for convolutions (float or QLinear), the op type for the rest."""
    if "Conv" not in node.op_type:
        return node.op_type
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    kernel, stride = attributes.get("kernel_shape", [0]), attributes.get("strides", [1])
    layout = "dw" if attributes.get("group", 1) > 1 else "dense"
    return f"{node.op_type} {layout} {'x'.join(map(str, kernel))}/{stride[0]}"


def profile(path: Path, pixels: np.ndarray, runs: int) -> dict[str, float]:
    """Milliseconds per run that onnxruntime's node profiler gives each operator kind, averaged over ``runs`` runs (the first included)."""
    with tempfile.TemporaryDirectory() as folder:
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.optimized_model_filepath = str(Path(folder) / "optimised.onnx")  # the graph it runs, to name the nodes
        options.enable_profiling, options.profile_file_prefix = True, str(Path(folder) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        kinds = {node.name: operator_kind(node) for node in onnx.load(options.optimized_model_filepath).graph.node}
        name = session.get_inputs()[0].name
        for _ in range(runs):
            session.run(None, {name: pixels})
        events = json.loads(Path(session.end_profiling()).read_text())
    totals: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"].removesuffix("_kernel_time")
            totals[kinds.get(node, event["args"]["op_name"])] += event["dur"] / 1e3 / runs
    return dict(totals)


def print_profile(label: str, fp32: dict[str, float], int8: dict[str, float], rows: int = 12) -> None:
    print(f"\n{label}: ms per run by operator kind (onnxruntime's node profiler)\n")
    print("| FP32 operator | ms | INT8 operator | ms |\n|---|---|---|---|")
    slowest = [[f"{kind} | {ms:.3f}" for kind, ms in sorted(times.items(), key=lambda kv: -kv[1])[:rows]] for times in (fp32, int8)]
    for left, right in itertools.zip_longest(*slowest, fillvalue=" | "):
        print(f"| {left} | {right} |")
    print(f"| all nodes | {sum(fp32.values()):.3f} | all nodes | {sum(int8.values()):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=320, help="detector input size")
    parser.add_argument("--depth-size", type=int, nargs=2, default=(192, 256), metavar=("H", "W"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="also break each model's time down by operator kind")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    calls, macs, shapes, profiles = {}, {}, {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (label, (model, example)) in enumerate(models(args.size, tuple(args.depth_size)).items()):
            fp32, int8 = Path(folder) / f"{index}.onnx", Path(folder) / f"{index}.int8.onnx"
            write_onnx(model, example, fp32, ["images"], ["output"])
            noise = [rng.integers(0, 256, example.shape).astype(np.float32) for _ in range(16)]
            quantize_int8(fp32, int8, noise)
            pixels = noise[0]
            calls[(label, "fp32")], calls[(label, "int8")] = onnx_call(fp32, pixels), onnx_call(int8, pixels)
            macs[label], shapes[label] = count_macs_params(model, example)[0], "x".join(map(str, example.shape[-2:]))
            if args.profile:
                profiles[label] = (profile(fp32, pixels, args.rounds), profile(int8, pixels, args.rounds))
        times = interleaved_times(calls, rounds=args.rounds, progress="int8 latency")
    ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
    print(f"\n{cpu_model()}, {torch.get_num_threads()} threads, batch 1, {args.rounds} interleaved rounds; onnxruntime median ms\n")
    print("| model | input | MACs | ONNX FP32 | ONNX INT8 | INT8 speed-up |\n|---|---|---|---|---|---|")
    for label in macs:
        fp32, int8 = ms[(label, "fp32")], ms[(label, "int8")]
        print(f"| {label} | {shapes[label]} | {macs[label] / 1e6:.0f}M | {fp32:.2f} | {int8:.2f} | {fp32 / int8:.2f}x |")
    for label, (fp32_profile, int8_profile) in profiles.items():
        print_profile(label, fp32_profile, int8_profile)


if __name__ == "__main__":
    main()
