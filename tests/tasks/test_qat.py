"""Quantisation-aware fine-tuning: the fake-quantised model, its QDQ export, and the export options it refuses."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto
from torch.ao.quantization import FakeQuantize

from tasks.cli import main
from tasks.onnx_export import write_onnx
from tasks.qat import FakeQuantizedConv, calibrate, fake_quantize, write_qdq


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Hardswish(), nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8)),
                         nn.Identity(), nn.Conv2d(8, 8, 1), nn.ReLU6(inplace=True), nn.Conv2d(8, 4, 1)).eval()


def images(count: int) -> list[np.ndarray]:
    return [np.random.default_rng(i).uniform(0, 255, (1, 3, 16, 16)).astype(np.float32) for i in range(count)]


def test_every_convolution_is_wrapped_and_rounds_after_calibration():
    net = small_net()
    reference = net(torch.from_numpy(images(1)[0])).detach()
    fake_quantize(net, torch.from_numpy(images(1)[0]))
    assert [type(m) for m in net.modules() if isinstance(m, (nn.Conv2d, FakeQuantizedConv))].count(FakeQuantizedConv) == 4
    # each tensor is quantised once: the pointwise convolution takes the depthwise one's quantised output (through an
    # Identity) as it is;
    # the last one's input went through an in-place ReLU6 after the previous convolution's quantiser, so it quantises it
    assert isinstance(net[4].input_quant, nn.Identity)
    assert all(isinstance(quant, FakeQuantize) for quant in (net[0].input_quant, net[2][0].input_quant, net[6].input_quant))
    calibrate(net, images(8))
    quantised = net(torch.from_numpy(images(1)[0])).detach()
    output_scale = float(net[6].output_quant.scale)
    values = quantised / output_scale + float(net[6].output_quant.zero_point)
    assert torch.allclose(values, values.round(), atol=1e-3), "the output is not on the 8-bit grid"
    assert 0 < (quantised - reference).abs().max() < 0.1 * reference.abs().max()


def test_onnxruntime_runs_the_quantisation_that_was_trained(tmp_path):
    net = fake_quantize(small_net(), torch.from_numpy(images(1)[0]))
    calibrate(net, images(8))
    path = tmp_path / "q.onnx"
    write_qdq(lambda out: write_onnx(net, torch.zeros(1, 3, 16, 16), out, ["images"], ["out"], metadata={"task": "test"}), path)
    graph = onnx.load(path)
    assert {p.key: p.value for p in graph.metadata_props} == {"task": "test", "precision": "int8", "quantisation": "qat"}
    weights = [t for t in graph.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) == 4]
    assert len(weights) == 4, "every convolution's weights are stored as INT8"
    image = images(9)[8]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": image})[0]
    with torch.no_grad():
        expected = net(torch.from_numpy(image)).numpy()
    # integer arithmetic may round an intermediate value the other way, which can move an output a few steps
    steps = np.abs(got - expected) / float(net[6].output_quant.scale)
    assert (steps < 0.5).mean() >= 0.9 and steps.max() <= 4.01, (steps < 0.5).mean()


def test_a_convolution_also_fed_by_something_else_keeps_its_input_quantiser():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.second(self.first(x)) + self.second(x)

    net = fake_quantize(Shared().eval(), torch.from_numpy(images(1)[0]))
    assert isinstance(net.second.input_quant, FakeQuantize)


@pytest.mark.parametrize("extra, message", [
    (["--qat-epochs", "2"], "add --int8"),
    (["--int8", "--qat-epochs", "2", "--keep-float", "3"], "drop one of the two"),
    (["--int8", "--qat-epochs", "2", "--no-fuse"], "drop --no-fuse"),
])
def test_export_refuses_qat_options_that_cannot_go_together(tmp_path, capsys, extra, message):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"not read: the options are checked first")
    assert main(["export", "detect", "--weights", str(weights), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert weights.read_bytes() == b"not read: the options are checked first"


@pytest.mark.parametrize("value", ["0", "-1e-4", "inf", "fast"])
def test_qat_lr_must_be_a_positive_number(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "depth", "--weights", str(tmp_path / "best.pt"), "--int8", "--qat-epochs", "1", "--qat-lr", value])
    assert exit_.value.code == 2 and "--qat-lr" in capsys.readouterr().err


def test_a_negative_qat_epochs_is_refused_by_the_python_api_too(tmp_path):
    from tasks.detect.inference import export
    from tasks.errors import UserError

    with pytest.raises(UserError, match="--qat-epochs must be at least 0, got -1"):
        export(str(tmp_path / "best.pt"), int8=True, qat_epochs=-1)
