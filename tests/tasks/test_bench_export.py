"""`litebone backbones bench` and `litebone export backbone`."""
import csv
import json
import re

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from backbones import get_backbone
from tasks.bench import BenchOptions, run_bench
from tasks.bench.memory import peak_forward_bytes
from tasks.cli import main

TINY = ["mobilenetv3_small_075", "shufflenet_v2_x0_5"]


def test_bench_two_tiny_backbones_writes_table_csv_markdown_and_plot(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["backbones", "bench", *TINY, "--size", "64", "--batch", "1,2", "--rounds", "3", "--warmup", "1",
                 "--threads", "1", "--fused", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in TINY) and "b2 fused speed-up" in printed

    with (out / "bench.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == TINY
    for row in rows:
        backbone = get_backbone(row["name"])
        assert row["channels"] == "/".join(map(str, backbone.channels)) and row["strides"] == "8/16/32"
        assert float(row["params_M"]) == pytest.approx(sum(p.numel() for p in backbone.parameters()) / 1e6, rel=0.05)
        for batch in (1, 2):
            median, p90 = float(row[f"b{batch}_median_ms"]), float(row[f"b{batch}_p90_ms"])
            assert 0 < median <= p90
            assert float(row[f"b{batch}_img_s"]) == pytest.approx(batch * 1e3 / median, rel=1e-3)
            gflops = 2 * float(row["GMACs"]) * batch / (median / 1e3)
            assert float(row[f"b{batch}_GFLOP_s"]) == pytest.approx(gflops, rel=1e-2)
            assert float(row[f"b{batch}_peak_MB"]) > float(row["params_M"]) * 4 * 0.9
            speedup = float(row[f"b{batch}_unfused_median_ms"]) / median
            assert float(row[f"b{batch}_fused_speedup"]) == pytest.approx(speedup, rel=1e-2)

    markdown = (out / "bench.md").read_text().splitlines()
    assert "1 threads" in markdown[0] and "torch" in markdown[0] and "timm" in markdown[0]
    table = [line for line in markdown if line.startswith("|")]
    assert len(table) == 2 + len(TINY) and len({line.count("|") for line in table}) == 1

    record = json.loads((out / "bench.json").read_text())
    assert record["environment"]["threads"] == "1" and record["environment"]["cpu"] and record["environment"]["date"]
    with Image.open(out / "bench.png") as image:
        assert image.size[0] > 800 and image.size[1] > 500


def test_bench_expands_patterns_and_reports_unrunnable_models_as_skips():
    result = run_bench(BenchOptions(names=["shufflenet_v2_x0*", "vit_tiny_patch16_224"], size=64, batches=[1], rounds=1, warmup=0))
    assert [row["name"] for row in result.rows] == ["shufflenet_v2_x0_5"]
    assert list(result.skipped) == ["vit_tiny_patch16_224"]


@pytest.mark.parametrize("arguments, message", [
    (["nosuchnet_100"], "unknown backbone 'nosuchnet_100'"),
    (["mobilenetv2_100", "--size", "100"], "not a positive multiple of 32.*use 96 or 128"),
    (["mobilenetv2_100", "--device", "cuda"], "no CUDA GPU.*use --device cpu"),
    (["zzz*"], "no curated backbone matches 'zzz\\*'"),
    (["mobilenetv2_100", "--batch", "0"], "positive batch sizes"),
    (["mobilenetv2_100", "--threads", "0"], "--threads must be at least 1"),
])
def test_bench_bad_input_is_a_clear_usage_error(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["backbones", "bench", *arguments, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_cpu_peak_memory_counts_weights_input_and_live_activations():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1, bias=False), torch.nn.ReLU(),
                                torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)).eval()
    x = torch.randn(1, 3, 100, 100)
    weights = (3 * 64 * 9 + 64 * 64 * 9) * 4
    # two 64-channel maps are alive at once at most: a layer's input and its output
    expected = weights + x.numel() * 4 + 2 * 64 * 100 * 100 * 4
    assert peak_forward_bytes(model, x) == expected


def _saved_backbone(name, path):
    """A backbone with non-trivial weights and BatchNorm statistics, saved as a local weights file."""
    backbone = get_backbone(name)
    for module in backbone.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_var, 0.5, 2.0)
            torch.nn.init.normal_(module.running_mean, 0.0, 0.1)
            torch.nn.init.uniform_(module.weight, 0.2, 0.6)
    torch.save(backbone.state_dict(), path)
    return backbone.eval()


@pytest.mark.parametrize("name, dynamic", [("mobilenetv3_small_075", False), ("shufflenet_v2_x0_5", True)])
def test_export_backbone_onnx_matches_pytorch(tmp_path, name, dynamic, capsys):
    backbone = _saved_backbone(name, tmp_path / "weights.pt")
    path = tmp_path / "backbone.onnx"
    arguments = ["export", "backbone", name, "--size", "96", "--weights", str(tmp_path / "weights.pt"), "--output", str(path)]
    assert main(arguments + (["--dynamic"] if dynamic else [])) == 0
    assert f"level4: {backbone.channels[-1]} ch at stride 32" in capsys.readouterr().out
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["level2", "level3", "level4"]
    x = torch.randn(3 if dynamic else 1, 3, 96, 96)
    outputs = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        expected = backbone(x)
    for reference, output in zip(expected, outputs):
        assert output.shape == tuple(reference.shape)
        np.testing.assert_allclose(output, reference.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arguments, message", [
    (["export", "backbone"], "name the backbone"),
    (["export", "backbone", "mobilenetv2_100", "--size", "100"], "multiple of 32"),
    (["export", "backbone", "mobilenetv2_100", "--format", "tflite"], "not supported; use --format onnx"),
    (["export", "backbone", "mobilenetv2_100", "--out-indices", "2,7"], "asks for levels \\[7\\]"),
])
def test_export_backbone_bad_input(arguments, message, capsys):
    assert main(arguments) == 2
    assert re.search(message, capsys.readouterr().err)
