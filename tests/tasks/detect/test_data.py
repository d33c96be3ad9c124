"""YOLO and COCO data loading, bad data counted and reported, the label cache, and augmentation."""
import json

import cv2
import numpy as np
import pytest
import torch
import yaml

from tasks.detect import data as data_module
from tasks.detect.data import DetectionDataset, collate, load_split, read_data_yaml
from tasks.detect.synth import write_shapes
from tasks.errors import UserError


@pytest.fixture
def dataset(tmp_path):
    path = write_shapes(tmp_path / "shapes", train=6, val=3, size=96, seed=3, progress=False)
    return tmp_path / "shapes", path


def _problems(root, path):
    return load_split(read_data_yaml(path), "train")


def test_clean_synthetic_data_has_no_problems(dataset):
    root, path = dataset
    records, report = _problems(root, path)
    assert len(records) == 6 and not report.problems
    assert all(r.labels.shape[1] == 5 and len(r.labels) for r in records)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("0 0.5 0.5 0.2", "wrong column count"),
        ("7 0.5 0.5 0.2 0.2", "class out of range"),
        ("0 1.5 0.5 0.2 0.2", "outside [0, 1]"),
        ("0 0.5 0.5 0.0 0.2", "zero size"),
        ("a b c d e", "not numbers"),
    ],
)
def test_bad_label_lines_are_dropped_and_counted(dataset, line, problem):
    root, path = dataset
    label = root / "labels" / "train" / "000000.txt"
    good = len(label.read_text().splitlines())
    label.write_text(label.read_text() + line + "\n")
    records, report = load_split(read_data_yaml(path), "train")
    assert len(records[0].labels) == good
    assert sum(n for what, n in report.problems.items() if problem in what) == 1
    assert problem in report.summary()


def test_corrupt_image_is_skipped_and_counted(dataset):
    root, path = dataset
    (root / "images" / "train" / "000001.jpg").write_bytes(b"not a jpeg at all")
    records, report = _problems(root, path)
    assert len(records) == 5 and report.problems["unreadable images (skipped)"] == 1


def test_missing_label_file_is_a_background_image(dataset):
    root, path = dataset
    (root / "labels" / "train" / "000002.txt").unlink()
    records, report = _problems(root, path)
    assert len(records) == 6 and report.problems["images without a label file (used as background)"] == 1
    assert any(len(r.labels) == 0 for r in records)


def test_empty_split_is_a_clear_error(dataset):
    root, path = dataset
    for image in (root / "images" / "val").iterdir():
        image.unlink()
    with pytest.raises(UserError, match="val split .* has no usable images"):
        load_split(read_data_yaml(path), "val")


def test_bad_data_yaml(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_data_yaml(tmp_path / "missing.yaml")
    (tmp_path / "d.yaml").write_text("train: images/train\n")
    with pytest.raises(UserError, match=r"lacks \['val'\]"):
        read_data_yaml(tmp_path / "d.yaml")


def test_second_start_reads_the_label_cache(dataset, monkeypatch):
    root, path = dataset
    first, _ = _problems(root, path)

    def must_not_scan(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(data_module, "_yolo_records", must_not_scan)
    second, _ = _problems(root, path)
    assert [r.image for r in first] == [r.image for r in second]
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(first, second))
    (root / "labels" / "train" / "000000.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(AssertionError, match="cache should have been used"):
        _problems(root, path)


def test_coco_json_gives_the_same_records(dataset, tmp_path):
    root, path = dataset
    records, _ = _problems(root, path)
    coco = {"images": [], "annotations": [], "categories": [{"id": 10 + k, "name": n} for k, n in enumerate(yaml.safe_load(path.read_text())["names"])]}
    for i, record in enumerate(records):
        coco["images"].append({"id": i, "file_name": f"{i:06d}.jpg", "height": record.height, "width": record.width})
        for c, cx, cy, w, h in record.labels:
            bw, bh = w * record.width, h * record.height
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i, "category_id": 10 + int(c),
                                        "bbox": [float(v) for v in (cx * record.width - bw / 2, cy * record.height - bh / 2, bw, bh)], "iscrowd": 0})
    (root / "train.json").write_text(json.dumps(coco))
    (root / "coco.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "train.json", "train_images": "images/train", "val": "images/val"}))
    spec = read_data_yaml(root / "coco.yaml")
    assert spec.names == ["circle", "rectangle", "triangle", "cross"]
    coco_records, _ = load_split(spec, "train")
    for a, b in zip(records, coco_records):
        np.testing.assert_allclose(a.labels, b.labels, atol=1e-5)


def test_augmented_boxes_stay_on_the_drawn_shapes(tmp_path):
    root = tmp_path / "one"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:70, 40:100] = (255, 255, 255)
    cv2.imwrite(str(root / "images" / "train" / "a.png"), image)
    (root / "labels" / "train" / "a.txt").write_text(f"0 {70 / 160} {50 / 120} {60 / 160} {40 / 120}\n")
    records = [data_module.Record(str(root / "images" / "train" / "a.png"), 120, 160, np.array([[0, 70 / 160, 50 / 120, 60 / 160, 40 / 120]], np.float32))]
    dataset = DetectionDataset(records, 128, train=True, mosaic=0.0)
    np.random.seed(0)
    for _ in range(10):
        sample = dataset[0]
        pixels = sample["image"].permute(1, 2, 0).numpy().astype(int)
        brightness = pixels.min(-1)
        white = np.argwhere(brightness > 0.85 * brightness.max())
        if len(sample["targets"]) == 0:
            continue
        _, x1, y1, x2, y2 = sample["targets"][0]
        assert abs(white[:, 1].min() - x1) <= 2 and abs(white[:, 1].max() + 1 - x2) <= 2
        assert abs(white[:, 0].min() - y1) <= 2 and abs(white[:, 0].max() + 1 - y2) <= 2
    batch = collate([dataset[0], dataset[0]])
    assert batch["image"].shape == (2, 3, 128, 128) and batch["targets"].shape[1] == 6


def test_training_augmentation_is_reproducible_by_seed(dataset):
    root, path = dataset
    records, _ = load_split(read_data_yaml(path), "train")
    train = DetectionDataset(records, 96, train=True, mosaic=1.0)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append([train[i]["image"] for i in range(4)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
