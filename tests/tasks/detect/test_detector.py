"""Every curated backbone in a Detector, ONNX export parity, and the CLI end to end."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from backbones import list_backbones
from tasks.cli import main
from tasks.detect import Detector
from tasks.detect.loss import DetectionLoss
from tasks.detect.synth import write_shapes

TARGETS = torch.tensor([[0, 1, 8.0, 8.0, 40.0, 36.0], [1, 0, 20.0, 4.0, 60.0, 50.0]])


@pytest.mark.parametrize("name", list_backbones())
def test_every_curated_backbone_trains_one_step_in_a_detector(name):
    model = Detector(name, num_classes=2, neck="ghostpan", neck_kwargs={"channels": 32}).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    loss, items = DetectionLoss()(model.head, model(images), TARGETS)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and items["box"] > 0
    backbone_grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert backbone_grads and any(g is not None and g.abs().sum() > 0 for g in backbone_grads)


@pytest.mark.parametrize("neck, kwargs", [("pan", {}), ("pan", {"extra_level": True, "width": 0.5}), ("ghostpan", {"extra_level": True})])
def test_necks_wire_channels_and_strides_automatically(neck, kwargs):
    model = Detector("shufflenet_v2_x0_5", num_classes=3, neck=neck, neck_kwargs=kwargs).eval()
    raw = model(torch.zeros(1, 3, 128, 128))
    assert [r.shape[-1] for r in raw] == [128 // s for s in model.neck.out_strides]
    assert len(raw) == 4 if kwargs.get("extra_level") else len(raw) == 3


def test_predict_maps_boxes_to_original_pixels():
    model = Detector("mobilenetv3_small_075", num_classes=2, neck_kwargs={"channels": 32}).eval()
    image = np.random.default_rng(0).integers(0, 255, (90, 200, 3), dtype=np.uint8)
    (detections,) = model.predict([image], img_size=128, conf=0.0, max_det=50)
    assert detections.shape[1] == 6 and len(detections) > 0
    assert detections[:, [0, 2]].max() <= 200 and detections[:, [1, 3]].max() <= 90 and detections[:, :4].min() >= 0


def test_unknown_neck_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown neck 'panet'. Did you mean pan"):
        Detector("mobilenetv3_small_075", num_classes=2, neck="panet")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    data = write_shapes(root / "data", train=16, val=4, size=64, progress=False)
    code = main(["train", "detect", f"data.data={data}", "data.img_size=64", "train.epochs=1", "train.batch_size=8", "train.workers=0",
                 "model.backbone=mobilenetv3_small_075", "model.neck_kwargs={channels: 32}", f"run.project={root / 'runs'}", "eval.samples=2"])
    assert code == 0
    return root, data, root / "runs" / "detect" / "exp"


def test_train_writes_the_run_directory(trained_run):
    _, _, run = trained_run
    for name in ("config.yaml", "results.csv", "results.png", "val_predictions.jpg", "pr_curve.png", "confusion_matrix.png",
                 "weights/last.pt", "weights/best.pt", "weights/best.safetensors"):
        assert (run / name).is_file(), name


def test_val_and_predict_commands(trained_run, tmp_path, monkeypatch, capsys):
    root, data, run = trained_run
    monkeypatch.chdir(tmp_path)
    assert main(["val", "detect", "--weights", str(run / "weights/best.pt"), "--data", str(data)]) == 0
    assert "mAP50-95" in capsys.readouterr().out
    assert (tmp_path / "runs/detect/val/per_class_ap.txt").is_file()
    assert main(["predict", "detect", "--weights", str(run / "weights/best.safetensors"), "--source", str(root / "data/images/val"), "--conf", "0.0", "--max-det", "5"]) == 0
    outputs = sorted((tmp_path / "runs/detect/predict").glob("*.jpg"))
    record = json.loads((tmp_path / "runs/detect/predict/labels/000000.json").read_text())
    assert len(outputs) == 4 and record["width"] == 64 and len(record["detections"]) == 5
    assert main(["predict", "detect", "--weights", str(run / "weights/best.pt"), "--source", str(tmp_path / "nothing")]) == 2


@pytest.mark.parametrize("nms", [False, True])
def test_onnx_export_matches_pytorch(trained_run, tmp_path, nms):
    """A one-epoch model scores every anchor near the prior (ties at 1e-7), which makes NMS order
    backend-dependent; spreading the class logits gives NMS a well-defined answer to compare."""
    from tasks.detect.inference import ExportNMS, ExportRaw, load_detector
    from tasks.engine import atomic_save, load_checkpoint

    _, _, run = trained_run
    checkpoint = load_checkpoint(run / "weights/best.pt")
    generator = torch.Generator().manual_seed(0)
    for key, value in checkpoint["ema"].items():
        final_conv = key.startswith("head.cls.") and value.ndim in (1, 4) and value.shape[0] == 4 and value.shape[-1] in (1, 4)
        if final_conv and key.endswith(".weight"):
            value.copy_(torch.randn(value.shape, generator=generator) * 0.5)
        elif final_conv and key.endswith(".bias"):
            value.zero_()
    weights = tmp_path / "spread.pt"
    atomic_save(checkpoint, weights)
    out = tmp_path / ("nms.onnx" if nms else "raw.onnx")
    args = ["export", "detect", "--weights", str(weights), "--format", "onnx", "--output", str(out), "--conf", "0.05"]
    assert main(args + (["--nms"] if nms else [])) == 0
    model, _, _ = load_detector(weights)
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (1, 3, 64, 64))).float()
    wrapper = ExportNMS(model, 0.05, 0.7, 300) if nms else ExportRaw(model)
    with torch.no_grad():
        expected = wrapper.eval()(images).numpy()
    got = ort.InferenceSession(str(out)).run(None, {"images": images.numpy()})[0]
    assert got.shape == expected.shape and len(expected) > 0
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=1e-3)


def test_export_refuses_unknown_format_and_bad_size(trained_run):
    _, _, run = trained_run
    assert main(["export", "detect", "--weights", str(run / "weights/best.pt"), "--format", "tflite"]) == 2
    assert main(["export", "detect", "--weights", str(run / "weights/best.pt"), "--img-size", "100"]) == 2


def test_val_runs_the_fused_copy_and_agrees_with_no_fuse(trained_run, tmp_path, monkeypatch, capsys):
    from tasks.detect.inference import validate

    _, data, run = trained_run
    monkeypatch.chdir(tmp_path)
    fused = validate(str(run / "weights/best.pt"), data=str(data))
    plain = validate(str(run / "weights/best.pt"), data=str(data), fuse=False)
    assert fused == pytest.approx(plain, abs=1e-3)
    assert main(["predict", "detect", "--weights", str(run / "weights/best.pt"), "--source", str(data.parent / "images/val"), "--no-fuse"]) == 0


def test_val_of_the_fp32_onnx_export_equals_val_of_the_checkpoint(trained_run, tmp_path, monkeypatch):
    from tasks.detect.inference import validate
    from tasks.engine import atomic_save, load_checkpoint

    _, data, run = trained_run
    checkpoint = load_checkpoint(run / "weights/best.pt")
    generator = torch.Generator().manual_seed(0)
    for key, value in checkpoint["ema"].items():
        if key.startswith("head.cls.") and value.ndim == 4 and value.shape[0] == 4:
            value.copy_(torch.randn(value.shape, generator=generator) * 0.5)
    spread = tmp_path / "spread.pt"
    atomic_save(checkpoint, spread)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "detect", "--weights", str(spread), "--output", str(tmp_path / "m.onnx")]) == 0
    from_pt = validate(str(spread), data=str(data))
    assert validate(str(tmp_path / "m.onnx"), data=str(data)) == pytest.approx(from_pt, abs=1e-4)
    from tasks.detect import DetectTask, load_detector
    from tasks.onnx_model import OnnxDetector

    model, config, _ = load_detector(spread)
    config.data.data = str(data)
    task = DetectTask(config, splits=("val",))
    loader = torch.utils.data.DataLoader(task.val_dataset(), batch_size=4, collate_fn=task.collate_fn)
    expected = task.evaluate(model.fuse(64), loader, torch.device("cpu")).details["detections"]
    got = task.evaluate(OnnxDetector(tmp_path / "m.onnx"), loader, torch.device("cpu")).details["detections"]
    assert sum(len(d) for d in expected) > 0
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, atol=1e-3, rtol=1e-3)
    assert main(["export", "detect", "--weights", str(spread), "--output", str(tmp_path / "n.onnx"), "--nms"]) == 0
    assert main(["val", "detect", "--weights", str(tmp_path / "n.onnx")]) == 2


def test_dfl_distances_are_the_expected_bin_under_the_softmax_with_gradients():
    from heads.detect.yolo import YOLOHead

    head = YOLOHead([16, 24, 32], [8, 16, 32], num_classes=3, reg_max=8)
    logits = torch.randn(2, 5, 4 * 8, requires_grad=True)
    expected = (logits.view(2, 5, 4, 8).softmax(3) * torch.arange(8.0)).sum(3)
    distances = head.distances(logits)
    torch.testing.assert_close(distances, expected)
    distances.sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
