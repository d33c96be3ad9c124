"""INT8 post-training quantisation of an ONNX export, through onnxruntime's static QDQ quantiser.

Weights are INT8 per output channel, activations UINT8 with ranges calibrated on images that went
through the task's own validation preprocessing. Ranges come from the 99.99th percentile of each
activation's calibration histogram by default, not its extreme values: on a MobileNetV3-L detector
min-max ranges lost 4.5 mAP50-95 points and percentile ranges 0.4. Every operator onnxruntime can
run in INT8 (convolutions, adds, concatenations, sigmoids, resizes, ...) is quantised up to the
last convolutions, so consecutive layers pass INT8 tensors without a float round trip: quantising
the convolutions alone left a dequantise/quantise pair around every add and activation and ran
slower than FP32. The output tail after the last convolutions stays float: the box decoding mixes
pixel coordinates and probabilities in one tensor, which a single 8-bit scale cannot hold.

Which layers stay in float is measured, not guessed: onnxruntime's ``qdq_loss_debug`` runs the
float and the fully quantised model on the calibration images and gives each activation's
signal-to-quantisation-noise ratio; the nodes that produce the ``keep_float`` noisiest activations
are excluded and the model is quantised again.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization import qdq_loss_debug
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
from onnxruntime.quantization.shape_inference import quant_pre_process

from .files import atomic_open

PRODUCT_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
INT8_OPS = sorted(set(QDQRegistry) | set(QLinearOpsRegistry))
# onnxruntime's Entropy method is not offered: on the detectors measured it chose exactly min-max's ranges.
CALIBRATION_METHODS = {"percentile": CalibrationMethod.Percentile, "minmax": CalibrationMethod.MinMax}
PERCENTILE = 99.99


class ImageReader(CalibrationDataReader):
    """Feeds preprocessed images (1, C, H, W float32, 0-255) to the quantiser one at a time."""

    def __init__(self, input_name: str, images: list[np.ndarray]) -> None:
        self.input_name = input_name
        self.images = images
        self.iterator: Iterator[np.ndarray] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self.iterator, None)
        return None if image is None else {self.input_name: image}

    def rewind(self) -> None:
        self.iterator = iter(self.images)


def output_tail(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes from which no convolution or matrix product is reachable: the decoding after the last ones."""
    nodes = list(model.graph.node)
    consumers: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(index)
    feeds_product = [False] * len(nodes)
    for index in reversed(range(len(nodes))):  # ONNX lists nodes in topological order
        feeds_product[index] = any(nodes[consumer].op_type in PRODUCT_OPS or feeds_product[consumer]
                                   for tensor in nodes[index].output for consumer in consumers.get(tensor, []))
    return [node.name for node, feeds in zip(nodes, feeds_product) if node.op_type not in PRODUCT_OPS and not feeds]


def _quantize(source: Path, target: Path, reader: ImageReader, exclude: list[str], method: str) -> None:
    reader.rewind()
    with contextlib.redirect_stdout(io.StringIO()):  # onnxruntime prints its histogram progress
        quantize_static(source, target, reader, quant_format=QuantFormat.QDQ, per_channel=True, op_types_to_quantize=INT8_OPS,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                        calibrate_method=CALIBRATION_METHODS[method], extra_options={"CalibPercentile": PERCENTILE})


def noisiest_nodes(float_model: Path, quantised_model: Path, reader: ImageReader, count: int,
                   tail: list[str]) -> list[tuple[str, float]]:
    """(node name, SQNR in dB) of ``count`` quantised nodes (none of ``tail``) next to the activations that lose most, worst first.

    Quantising a node puts quantise/dequantise pairs on its input and output activations;
    keeping it in float removes them, so the noisiest activations name the nodes to keep."""
    with tempfile.TemporaryDirectory() as folder:
        float_outputs, quantised_outputs = Path(folder) / "float.onnx", Path(folder) / "quantised.onnx"
        qdq_loss_debug.modify_model_output_intermediate_tensors(float_model, float_outputs)
        qdq_loss_debug.modify_model_output_intermediate_tensors(quantised_model, quantised_outputs)
        reader.rewind()
        float_activations = qdq_loss_debug.collect_activations(str(float_outputs), reader)
        reader.rewind()
        quantised_activations = qdq_loss_debug.collect_activations(str(quantised_outputs), reader)
    errors = qdq_loss_debug.compute_activation_error(
        qdq_loss_debug.create_activation_matching(quantised_activations, float_activations))
    touching: dict[str, list[str]] = {}
    for node in onnx.load(float_model).graph.node:
        if node.op_type in INT8_OPS and node.name not in tail:
            for tensor in [*node.input, *node.output]:
                touching.setdefault(tensor, []).append(node.name)
    ranked = sorted((value["qdq_err"], name) for name, value in errors.items() if name in touching and np.isfinite(value["qdq_err"]))
    chosen: dict[str, float] = {}
    for sqnr, tensor in ranked:
        for node in touching[tensor]:
            if len(chosen) < count:
                chosen.setdefault(node, float(sqnr))
    return list(chosen.items())


def quantize_int8(fp32_model: Path, int8_model: Path, images: list[np.ndarray], keep_float: int = 0,
                  method: str = "percentile") -> tuple[list[tuple[str, float]], str]:
    """Write the INT8 QDQ model of ``fp32_model`` to ``int8_model`` atomically, calibrated on ``images``.

    ``method`` (one of ``CALIBRATION_METHODS``) turns calibration statistics into activation ranges;
    a histogram method falls back to min-max when an activation is too nearly constant to bin (an
    untrained or barely trained model). ``keep_float`` nodes, the ones measured to lose most, stay in
    float. Returns them with their SQNR, and the method used.
    """
    input_name = onnx.load(fp32_model).graph.input[0].name
    reader = ImageReader(input_name, images)
    with tempfile.TemporaryDirectory() as folder:
        prepared, quantised = Path(folder) / "prepared.onnx", Path(folder) / "quantised.onnx"
        quant_pre_process(fp32_model, prepared, skip_symbolic_shape=True)
        tail = output_tail(onnx.load(prepared))
        try:
            _quantize(prepared, quantised, reader, tail, method)
        except ValueError as error:
            if method == "minmax" or "bins" not in str(error):
                raise
            method = "minmax"
            _quantize(prepared, quantised, reader, tail, method)
        kept = noisiest_nodes(prepared, quantised, reader, keep_float, tail) if keep_float else []
        if kept:
            _quantize(prepared, quantised, reader, [*tail, *(name for name, _ in kept)], method)
        write_int8_model(onnx.load(quantised), fp32_model, int8_model)
    return kept, method


def write_int8_model(graph: onnx.ModelProto, float_model: Path, path: Path, **metadata: str) -> None:
    """Write the INT8 ``graph`` atomically at ``path``, with ``float_model``'s metadata, ``precision: int8`` and ``metadata``."""
    for prop in onnx.load(float_model).metadata_props:
        graph.metadata_props.add(key=prop.key, value=prop.value)
    for key, value in {"precision": "int8", **metadata}.items():
        graph.metadata_props.add(key=key, value=value)
    with atomic_open(path, "wb") as handle:
        handle.write(graph.SerializeToString())


def calibration_images(dataset, count: int) -> list[np.ndarray]:
    """``count`` images spread evenly over a task's (unaugmented) dataset, as (1, C, H, W) float32 arrays."""
    if count < 1:
        raise ValueError(f"--calib-images must be at least 1, got {count}")
    indices = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int)
    return [dataset[int(i)]["image"].float().numpy()[None] for i in dict.fromkeys(indices)]


def export_int8(write_fp32: Callable[[Path], None], path: Path, images: list[np.ndarray], keep_float: int,
                method: str = "percentile") -> Path:
    """Write the FP32 export with ``write_fp32(temporary path)``, then its INT8 model at ``path``; report what stayed float."""
    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "fp32.onnx"
        write_fp32(fp32)
        kept, used = quantize_int8(fp32, path, images, keep_float, method)
    listed = ", ".join(f"{name} ({sqnr:.1f} dB)" for name, sqnr in kept) or "none"
    if used != method:
        print(f"litebone: {method} calibration could not bin an activation that is nearly constant on the calibration images "
              f"(an untrained or barely trained model?); used {used} ranges instead")
    print(f"litebone: INT8 (QDQ, per-channel weights, {used} ranges) calibrated on {len(images)} training images; "
          f"kept in float: {listed}")
    return path
