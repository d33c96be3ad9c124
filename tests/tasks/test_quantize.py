"""INT8 calibration: how activation ranges are chosen from the calibration images."""
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import numpy_helper

from tasks.onnx_export import write_onnx
from tasks.quantize import output_tail, quantize_int8


def input_scale(model: Path) -> float:
    """The quantisation scale the INT8 model applies to its float input."""
    graph = onnx.load(model).graph
    initialisers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    quantise = next(node for node in graph.node if node.op_type == "QuantizeLinear" and node.input[0] == graph.input[0].name)
    return float(initialisers[quantise.input[1]])


@pytest.fixture()
def conv_model(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "conv.onnx"
    write_onnx(nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU()).eval(), torch.zeros(1, 3, 32, 32), path,
               ["images"], ["features"])
    return path


def calibration_with_one_hot_pixel() -> list[np.ndarray]:
    """16 images in 0-10, one of which has a single pixel at 10 000 (a sensor glitch, a bad file)."""
    images = [np.random.default_rng(i).uniform(0, 10, (1, 3, 32, 32)).astype(np.float32) for i in range(16)]
    images[5][0, 1, 7, 7] = 10_000.0
    return images


def test_percentile_ranges_ignore_a_single_outlier_that_minmax_ranges_stretch_to(conv_model, tmp_path):
    images = calibration_with_one_hot_pixel()
    quantize_int8(conv_model, tmp_path / "default.int8.onnx", images)
    quantize_int8(conv_model, tmp_path / "minmax.int8.onnx", images, method="minmax")
    assert input_scale(tmp_path / "default.int8.onnx") < 10 / 255 * 1.5
    assert input_scale(tmp_path / "minmax.int8.onnx") > 10_000 / 255 * 0.9


def test_percentile_int8_model_tracks_the_float_model_where_minmax_loses_the_signal(conv_model, tmp_path):
    import onnxruntime as ort

    images = calibration_with_one_hot_pixel()
    errors = {}
    for method in ("percentile", "minmax"):
        quantize_int8(conv_model, tmp_path / f"{method}.onnx", images, method=method)
        float_session, int8_session = (ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                                       for path in (conv_model, tmp_path / f"{method}.onnx"))
        reference, quantised = (session.run(None, {"images": images[0]})[0] for session in (float_session, int8_session))
        errors[method] = float(np.abs(quantised - reference).mean() / np.abs(reference).mean())
    assert errors["percentile"] < 0.05 < errors["minmax"], errors


def test_a_nearly_constant_activation_falls_back_to_minmax_ranges_instead_of_failing(tmp_path, capsys):
    """An untrained head's last convolution puts out its bias plus noise: too narrow for 2048 histogram bins."""
    conv = nn.Conv2d(3, 4, 1)
    nn.init.normal_(conv.weight, std=1e-7)
    nn.init.constant_(conv.bias, 7.5)
    fp32 = tmp_path / "constant.onnx"
    write_onnx(conv.eval(), torch.zeros(1, 3, 32, 32), fp32, ["images"], ["features"])
    images = [np.random.default_rng(i).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32) for i in range(4)]
    kept, method = quantize_int8(fp32, tmp_path / "constant.int8.onnx", images)
    assert (kept, method) == ([], "minmax")
    assert onnx.load(tmp_path / "constant.int8.onnx").graph.node


class TrunkAndTail(nn.Module):
    """conv -> SiLU -> conv, then a decoding tail (sigmoid, scale) after the last convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.head = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(nn.functional.silu(self.stem(x)))) * 320.0


def optimised_ops(model: Path, tmp_path: Path) -> list[str]:
    """The operators onnxruntime runs for ``model`` once it has fused the quantise/dequantise pairs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return [node.op_type for node in onnx.load(tmp_path / "optimised.onnx").graph.node]


def test_activations_between_convolutions_run_in_int8_and_the_decoding_tail_in_float(tmp_path):
    torch.manual_seed(0)
    fp32 = tmp_path / "trunk.onnx"
    write_onnx(TrunkAndTail().eval(), torch.zeros(1, 3, 32, 32), fp32, ["images"], ["output"])
    tail = output_tail(onnx.load(fp32))
    computed = [node.op_type for node in onnx.load(fp32).graph.node if node.name in tail and node.op_type != "Constant"]
    assert computed == ["Sigmoid", "Mul"]
    images = [np.random.default_rng(i).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32) for i in range(8)]
    quantize_int8(fp32, tmp_path / "trunk.int8.onnx", images)
    ops = optimised_ops(tmp_path / "trunk.int8.onnx", tmp_path)
    assert ops.count("QLinearConv") == 2
    assert "QLinearSigmoid" in ops and "QLinearMul" in ops, ops  # the SiLU between the convolutions
    assert "Sigmoid" in ops and "Mul" in ops, ops  # the tail stays float
