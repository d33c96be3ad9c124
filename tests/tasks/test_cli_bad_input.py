"""The CLI with a trained checkpoint and a careless user: no file is lost, every mistake exits 2 without a traceback."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tasks.cli import main
from tasks.depth.synth import write_scenes
from tasks.detect.synth import write_shapes

TINY = ["data.img_size=64", "train.epochs=1", "train.batch_size=8", "train.workers=0", "model.backbone=mobilenetv3_small_075",
        "model.neck_kwargs={channels: 32}", "eval.samples=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_bad")
    data = write_shapes(root / "data", train=8, val=2, size=64, progress=False)
    assert main(["train", "detect", f"data.data={data}", *TINY, f"run.project={root / 'runs'}"]) == 0
    return root, data, root / "runs/detect/exp/weights/best.pt"


def _fails_cleanly(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err, err
    return err


def test_export_onto_its_own_checkpoint_is_refused(trained, capsys):
    _, _, checkpoint = trained
    before = checkpoint.read_bytes()
    _fails_cleanly(capsys, ["export", "detect", "--weights", str(checkpoint), "--output", str(checkpoint)], "is also an input")
    _fails_cleanly(capsys, ["export", "detect", "--weights", str(checkpoint), "--output", str(checkpoint), "--overwrite"], "is also an input")
    assert checkpoint.read_bytes() == before


def test_export_keeps_an_existing_file_unless_asked(trained, tmp_path, capsys):
    _, _, checkpoint = trained
    mine = tmp_path / "mine.onnx"
    mine.write_text("the user's earlier export")
    _fails_cleanly(capsys, ["export", "detect", "--weights", str(checkpoint), "--output", str(mine)], "pass --overwrite")
    assert mine.read_text() == "the user's earlier export"
    assert main(["export", "detect", "--weights", str(checkpoint), "--output", str(mine), "--overwrite"]) == 0
    assert mine.read_bytes()[:2] != b"th" and not list(tmp_path.glob(".*.tmp"))


def test_export_backbone_keeps_an_existing_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mobilenetv3_small_075_64.onnx").write_text("keep me")
    _fails_cleanly(capsys, ["export", "backbone", "mobilenetv3_small_075", "--size", "64"], "pass --overwrite")
    assert (tmp_path / "mobilenetv3_small_075_64.onnx").read_text() == "keep me"


def test_predict_gives_every_input_its_own_outputs(trained, tmp_path, monkeypatch):
    root, _, checkpoint = trained
    source = tmp_path / "photos"
    for relative in ("a/img.jpg", "b/img.jpg", "img.png", "img.jpg"):
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "data/images/val/000000.jpg", source / relative)
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "detect", "--weights", str(checkpoint), "--source", str(source), "--conf", "0.0", "--max-det", "1"]) == 0
    out = tmp_path / "runs/detect/predict"
    labels = sorted(str(p.relative_to(out / "labels")) for p in (out / "labels").rglob("*.json"))
    assert labels == ["a/img.json", "b/img.json", "img_jpg.json", "img_png.json"]
    assert len(list(out.rglob("*.jpg"))) == 4
    sources = {json.loads(p.read_text())["image"] for p in (out / "labels").rglob("*.json")}
    assert len(sources) == 4


def test_predict_skips_and_names_unreadable_images(trained, tmp_path, monkeypatch, capsys):
    root, _, checkpoint = trained
    source = tmp_path / "photos"
    source.mkdir()
    shutil.copy(root / "data/images/val/000000.jpg", source / "good.jpg")
    (source / "bad.jpg").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "detect", "--weights", str(checkpoint), "--source", str(source)]) == 0
    out = capsys.readouterr().out
    assert "bad.jpg" in out and "skipped 1 of 2 images" in out


@pytest.mark.parametrize("content, cause", [
    (b"just some text\n", "text file"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n", "Git LFS pointer"),
])
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("command", [["val", "detect"], ["predict", "detect", "--source", "."], ["export", "detect"]])
def test_unreadable_weights_are_clear_errors_everywhere(tmp_path, capsys, monkeypatch, content, cause, suffix, command):
    monkeypatch.chdir(tmp_path)
    weights = tmp_path / f"best{suffix}"
    weights.write_bytes(content)
    _fails_cleanly(capsys, [*command, "--weights", str(weights)], cause)


def test_export_backbone_with_unreadable_weights(tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    weights.write_text("oops")
    _fails_cleanly(capsys, ["export", "backbone", "mobilenetv3_small_075", "--weights", str(weights),
                            "--output", str(tmp_path / "b.onnx")], "text file")


def test_val_on_a_missing_gpu_is_a_clear_error(trained, capsys, monkeypatch):
    _, data, checkpoint = trained
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _fails_cleanly(capsys, ["val", "detect", "--weights", str(checkpoint), "--device", "cuda"], "no CUDA GPU is visible")


def test_offline_pretrained_weights_exit_2(trained, tmp_path, capsys, offline_timm):
    _, data, _ = trained
    _fails_cleanly(capsys, ["train", "detect", f"data.data={data}", *TINY, "model.backbone=resnet18", "model.pretrained=true",
                            f"run.project={tmp_path}"], "could not load upstream weights for resnet18")


def test_resuming_a_detection_run_as_depth_names_the_task(trained, capsys):
    _, _, checkpoint = trained
    _fails_cleanly(capsys, ["train", "depth", "--resume", str(checkpoint)], "is from a detect run; resume it with litebone train detect")


@pytest.mark.parametrize("overrides, message", [
    (["train.device=banana"], "train.device=banana is not a device"),
    (["train.epochs=0"], "train.epochs must be >= 1"),
    (["train.accumulate=0"], "train.accumulate must be >= 1"),
    (["data.img_size=-64"], "data.img_size must be >= 32"),
])
def test_bad_training_settings_exit_2(trained, tmp_path, capsys, overrides, message):
    _, data, _ = trained
    _fails_cleanly(capsys, ["train", "detect", f"data.data={data}", *TINY, f"run.project={tmp_path}", *overrides], message)


def test_a_file_in_place_of_the_run_folder_exits_2(trained, tmp_path, capsys):
    _, data, _ = trained
    (tmp_path / "detect").write_text("not a folder")
    _fails_cleanly(capsys, ["train", "detect", f"data.data={data}", *TINY, f"run.project={tmp_path}"], "is a file, but litebone needs a folder")
    assert (tmp_path / "detect").read_text() == "not a folder"


def test_synth_refuses_a_file_or_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    _fails_cleanly(capsys, ["synth", "shapes", str(tmp_path / "file"), "--train", "1", "--val", "1"], "is a file")
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset/data.yaml").write_text("mine")
    _fails_cleanly(capsys, ["synth", "shapes", str(tmp_path / "dataset"), "--train", "1", "--val", "1"], "is not empty")
    assert (tmp_path / "dataset/data.yaml").read_text() == "mine"


@pytest.mark.parametrize("argv", [
    ["predict", "detect", "--weights", "w.pt", "--source", ".", "--img-size", "0"],
    ["predict", "detect", "--weights", "w.pt", "--source", ".", "--conf", "2"],
    ["val", "detect", "--weights", "w.pt", "--batch", "0"],
    ["synth", "shapes", "x", "--train", "-1"],
])
def test_out_of_range_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "Traceback" not in capsys.readouterr().err


def _white_boxes_dataset(root, rng):
    """A one-class YOLO set of white rectangles on black: the truth is visible in the pixels."""
    for split, count in (("train", 12), ("val", 3)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for index in range(count):
            image, line = _white_box(rng)
            cv2.imwrite(str(root / "images" / split / f"{index}.png"), image)
            (root / "labels" / split / f"{index}.txt").write_text(line)
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": ["box"]}))


def _white_box(rng, height=72, width=96):
    image = np.zeros((height, width, 3), np.uint8)
    w, h = int(rng.integers(16, 40)), int(rng.integers(16, 40))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    image[y:y + h, x:x + w] = 255
    return image, f"0 {(x + w / 2) / width} {(y + h / 2) / height} {w / width} {h / height}\n"


class PixelOracle(torch.nn.Module):
    """A 'detector' that boxes the white blobs it sees: perfect when the ground truth matches the pixels."""

    def detect(self, images, conf, iou, max_det):
        results = []
        for image in images:
            mask = (image.min(0).values > 200).numpy().astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
            rows = [[x, y, x + w, y + h, 1.0, 0.0] for x, y, w, h, _ in stats[1:count]]
            results.append(torch.tensor(rows, dtype=torch.float32).reshape(-1, 6))
        return results


def test_training_on_a_dataset_full_of_bad_files_counts_each_and_evaluates_true_boxes(tmp_path, capsys):
    from tasks.config import load_config
    from tasks.detect import DetectConfig, DetectTask
    from tests.tasks.detect.test_bad_data import save_rotated_jpeg

    root = tmp_path / "phone"
    rng = np.random.default_rng(0)
    _white_boxes_dataset(root, rng)
    for split in ("train", "val"):
        upright, line = _white_box(rng)
        save_rotated_jpeg(root / "images" / split / "rotated.jpg", cv2.cvtColor(upright, cv2.COLOR_BGR2RGB))
        (root / "labels" / split / "rotated.txt").write_text(line)
    truncated = root / "images/train/truncated.jpg"
    cv2.imwrite(str(truncated), _white_box(rng)[0])
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (root / "labels/train/truncated.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "labels/train/3.txt").write_bytes(b"0 0.5 0.5 0.2 0.2 \xff\n")
    Image.open(root / "images/train/4.png").save(root / "images/train/4.jpg")
    assert main(["train", "detect", f"data.data={root / 'data.yaml'}", *TINY, "train.batch_size=4", f"run.project={tmp_path / 'runs'}"]) == 0
    out = capsys.readouterr().out
    for count in ("1 truncated images (skipped)", "1 label files that are not UTF-8 text (image skipped)",
                  "2 images sharing one label file with another image of the same name (skipped)", "train: 11 images", "val: 4 images"):
        assert count in out, out
    config = load_config(DetectConfig, None, [f"data.data={root / 'data.yaml'}", "data.img_size=96"])
    task = DetectTask(config, splits=("val",))
    loader = torch.utils.data.DataLoader(task.val_dataset(), batch_size=4, collate_fn=task.collate_fn)
    metrics = task.evaluate(PixelOracle(), loader, torch.device("cpu")).metrics
    assert metrics["mAP50-95"] > 0.9, metrics


def test_depth_training_on_bad_files_counts_each(tmp_path, capsys):
    data = write_scenes(tmp_path / "scenes", train=10, val=2, size=64, progress=False)
    root = data.parent
    shape = cv2.imread(str(root / "images/train/000000.jpg")).shape[:2]
    cv2.imwrite(str(root / "depth/train/000000.png"), np.full(shape, 100, np.uint8))
    image = root / "images/train/000001.jpg"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    Image.open(root / "images/train/000002.jpg").save(root / "images/train/000002.png")
    metres = cv2.imread(str(root / "depth/train/000003.png"), -1).astype(np.float32) / 1000
    (root / "depth/train/000003.png").unlink()
    np.save(root / "depth/train/000003.npy", metres[..., None])
    assert main(["train", "depth", f"data.data={data}", "data.height=64", "data.width=64", "train.epochs=1", "train.batch_size=4",
                 "train.workers=0", "model.backbone=mobilenetv3_small_075", "eval.samples=1", f"run.project={tmp_path / 'runs'}"]) == 0
    out = capsys.readouterr().out
    for count in ("train: 7 image/depth pairs", "1 depth files of the wrong dtype (skipped)", "1 truncated images (skipped)",
                  "2 images sharing one depth file with another image of the same name (skipped)"):
        assert count in out, out


def test_int8_with_nms_is_refused(trained, tmp_path, capsys):
    _, _, checkpoint = trained
    _fails_cleanly(capsys, ["export", "detect", "--weights", str(checkpoint), "--int8", "--nms", "--output", str(tmp_path / "q.onnx")],
                   "--int8 quantises the raw export")


def test_without_the_export_extra_training_imports_and_export_names_the_extra(trained, tmp_path):
    import os
    import subprocess
    import sys

    for package in ("onnx", "onnxruntime"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"raise ImportError('{package} is not installed')\n")
    _, _, checkpoint = trained
    script = ("import tasks.detect, tasks.depth\nfrom tasks.cli import main\n"
              f"raise SystemExit(main(['export', 'detect', '--weights', {str(checkpoint)!r}, '--output', {str(tmp_path / 'm.onnx')!r}]))")
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{root}"})
    assert result.returncode == 2 and "pip install 'litebone[export]'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("setting", ["loss.kwargs={delta_weight: -3}", "loss.kwargs={delta_ratio: 0.8}"])
def test_a_delta_term_out_of_range_is_refused_before_training(tmp_path, capsys, setting):
    _fails_cleanly(capsys, ["train", "depth", "train.epochs=1", "train.workers=0", "model.backbone=mobilenetv3_small_075",
                            "data.synth_train=2", "data.synth_val=1", f"data.synth_dir={tmp_path / 'synth'}",
                            f"run.project={tmp_path / 'runs'}", setting], "delta_weight must be >= 0 and delta_ratio > 1")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("task, misspelt", [("depth", "loss.kwargs={gradiant_weight: 0.5}"),
                                            ("depth", "model.decoder_kwargs={last_chanels: 16}"),
                                            ("depth", "model.backbone_kwargs={widht_mult: 0.5}"),
                                            ("detect", "model.neck_kwargs={chanels: 32}")])
def test_a_misspelt_keyword_argument_is_named(tmp_path, capsys, task, misspelt):
    key = misspelt.split("{")[1].split(":")[0]
    _fails_cleanly(capsys, ["train", task, "train.epochs=1", "train.workers=0", "model.backbone=mobilenetv3_small_075",
                            "data.synth_train=2", "data.synth_val=1", f"data.synth_dir={tmp_path / 'synth'}",
                            f"run.project={tmp_path / 'runs'}", misspelt], f"takes no argument '{key}'")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.pt"))
