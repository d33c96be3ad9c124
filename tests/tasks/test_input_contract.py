"""The backbone owns its input contract: task models, the smp bridge and exports take mean, std and channels from it."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

from backbones import ImageNormalize, InputSpec, backbone_info, get_backbone
from backbones.smp_encoder import register_smp_encoder
from tasks.cli import main
from tasks.depth.model import DepthModel
from tasks.depth.synth import write_scenes
from tasks.detect.model import Detector
from tasks.detect.synth import write_shapes
from tasks.images import read_image


@pytest.mark.parametrize("name, mean", [("mobilenetv1_100", 0.5), ("legacy_xception", 0.5), ("mobilenetv2_050", 0.485)])
def test_normalised_input_equals_timms_own_transform(name, mean):
    spec = get_backbone(name).input_spec
    assert spec.mean[0] == pytest.approx(mean)
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    config = resolve_data_config({}, model=timm.create_model(name, pretrained=False))
    transform = create_transform(**{**config, "input_size": (3, 48, 64), "crop_pct": 1.0})
    expected = transform(Image.fromarray(pixels))
    ours = ImageNormalize(spec)(torch.from_numpy(pixels).permute(2, 0, 1)[None])[0]
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_task_models_and_the_smp_bridge_take_the_backbones_spec():
    import segmentation_models_pytorch as smp

    detector = Detector("mobilenetv1_100", num_classes=2)
    depth = DepthModel("mobilenetv1_100")
    expected = torch.full((1, 3, 1, 1), 0.5 * 255)
    assert torch.allclose(detector.normalize.mean, expected) and torch.allclose(depth.normalize.mean, expected)
    encoder = smp.Unet(register_smp_encoder("mobilenetv1_100"), encoder_weights=None).encoder
    assert encoder.preprocessing_params()["mean"] == [0.5, 0.5, 0.5]


def test_backbone_info_shows_the_input_spec():
    info = backbone_info("shufflenet_v2_x0_5")["input"]
    assert info["mean"] == pytest.approx([0.485, 0.456, 0.406]) and "torchvision" in info["source"] and info["channels"] == 3
    assert get_backbone("tf_efficientnetv2_s").input_spec.source == "timm pretrained_cfg of tf_efficientnetv2_s"


@pytest.mark.parametrize("channels, mean", [(1, (0.449,)), (4, (0.485, 0.456, 0.406, 0.485))])
def test_spec_follows_the_channel_count(channels, mean):
    spec = get_backbone("mobilenetv2_050", in_chans=channels).input_spec
    assert spec.channels == channels and spec.mean == pytest.approx(mean)
    assert Detector("mobilenetv2_050", num_classes=1, in_chans=channels).normalize.mean.shape == (1, channels, 1, 1)


def test_input_range_is_honoured():
    spec = InputSpec(mean=(0.0,), std=(1.0,), input_range=(-1.0, 1.0))
    out = ImageNormalize(spec)(torch.tensor([0.0, 127.5, 255.0]).view(1, 1, 1, 3))
    torch.testing.assert_close(out.flatten(), torch.tensor([-1.0, 0.0, 1.0]))


def test_reader_gives_the_channels_asked_for(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "x.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.jpg")
    assert np.array_equal(read_image(tmp_path / "x.png", 4), rgba)
    assert read_image(tmp_path / "rgb.jpg", 1).shape == (20, 30, 1)
    from tasks.images import ImageReadError

    with pytest.raises(ImageReadError, match="has 3 channels"):
        read_image(tmp_path / "rgb.jpg", 4)


def _rgbd_shapes(root):
    data = write_shapes(root / "shapes", train=16, val=4, size=64, progress=False)
    for path in (root / "shapes/images").rglob("*.jpg"):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        Image.fromarray(np.dstack([rgb, rgb.mean(2).astype(np.uint8)]), "RGBA").save(path.with_suffix(".png"))
        path.unlink()
    return data


@pytest.mark.parametrize("channels", [1, 4])
def test_detector_with_other_channel_counts_trains_predicts_and_exports(tmp_path, monkeypatch, channels):
    data = _rgbd_shapes(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "detect", f"data.data={data}", "data.img_size=64", "train.epochs=1", "train.batch_size=8", "train.workers=0",
                 "model.backbone=mobilenetv3_small_075", "model.neck_kwargs={channels: 32}", f"model.in_chans={channels}",
                 "eval.samples=1", f"run.project={tmp_path / 'runs'}"]) == 0
    weights = tmp_path / "runs/detect/exp/weights/best.pt"
    assert main(["predict", "detect", "--weights", str(weights), "--source", str(tmp_path / "shapes/images/val")]) == 0
    assert len(list((tmp_path / "runs/detect/predict").glob("*.jpg"))) == 4
    assert main(["export", "detect", "--weights", str(weights), "--output", str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert session.get_inputs()[0].shape == [1, channels, 64, 64]
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["input_channels"]) == channels and json.loads(meta["names"])[0] == "circle"


def test_rgbd_depth_model_trains_and_exports(tmp_path):
    data = write_scenes(tmp_path / "scenes", train=8, val=2, size=64, progress=False)
    for path in (tmp_path / "scenes/images").rglob("*.jpg"):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        Image.fromarray(np.dstack([rgb, rgb[..., 0]]), "RGBA").save(path.with_suffix(".png"))
        path.unlink()
    assert main(["train", "depth", f"data.data={data}", "data.height=64", "data.width=64", "train.epochs=1", "train.batch_size=4",
                 "train.workers=0", "model.backbone=mobilenetv3_small_075", "model.in_chans=4", "eval.samples=1",
                 f"run.project={tmp_path / 'runs'}"]) == 0
    out = tmp_path / "d.onnx"
    assert main(["export", "depth", "--weights", str(tmp_path / "runs/depth/exp/weights/best.pt"), "--output", str(out)]) == 0
    assert ort.InferenceSession(str(out)).run(None, {"images": np.zeros((1, 4, 64, 64), np.float32)})[0].shape == (1, 1, 64, 64)


def test_backbone_export_records_the_input_spec(tmp_path):
    out = tmp_path / "b.onnx"
    assert main(["export", "backbone", "mobilenetv1_100", "--size", "64", "--output", str(out)]) == 0
    meta = ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map
    assert json.loads(meta["input_mean"]) == [0.5, 0.5, 0.5] and meta["normalised_inside"] == "false"
