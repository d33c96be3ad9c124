"""Bad detection data: each file a phone or a careless export produces is refused, counted or repaired."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from tasks.detect.data import DetectionDataset, load_split, read_data_yaml
from tasks.detect.letterbox import letterbox
from tasks.detect.synth import write_shapes
from tasks.errors import UserError

ORIENTATION = 0x0112


@pytest.fixture
def dataset(tmp_path):
    path = write_shapes(tmp_path / "shapes", train=6, val=3, size=96, seed=3, progress=False)
    return tmp_path / "shapes", path


def _scan(path, split="train"):
    return load_split(read_data_yaml(path), split)


def save_rotated_jpeg(path, upright: np.ndarray) -> None:
    """Store ``upright`` as a phone does: pixels turned 90 degrees plus EXIF orientation 6 (rotate back on display)."""
    stored = np.ascontiguousarray(np.rot90(upright, 1))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    Image.fromarray(stored).save(path, exif=exif, quality=95)


def test_exif_rotated_jpeg_is_read_upright_with_its_upright_size(tmp_path):
    root = tmp_path / "phone"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    upright = np.zeros((120, 60, 3), np.uint8)
    upright[10:40, 5:25] = 255
    save_rotated_jpeg(root / "images" / "train" / "a.jpg", upright)
    (root / "labels" / "train" / "a.txt").write_text(f"0 {15 / 60} {25 / 120} {20 / 60} {30 / 120}\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/train", "names": ["box"]}))
    records, report = _scan(root / "data.yaml")
    assert (records[0].height, records[0].width) == (120, 60)
    sample = DetectionDataset(records, 120, train=False)[0]
    x1, y1, x2, y2 = sample["gt_boxes"][0]
    np.testing.assert_allclose((x1, y1, x2, y2), (5, 10, 25, 40), atol=1e-4)
    image = sample["image"].permute(1, 2, 0).numpy()
    info = sample["info"]
    bright = np.argwhere(image.min(-1) > 200)
    assert abs(bright[:, 1].min() - info.pad_x - 5) <= 1 and abs(bright[:, 0].min() - info.pad_y - 10) <= 1


def test_truncated_jpeg_is_skipped_and_counted(dataset):
    root, path = dataset
    image = root / "images" / "train" / "000001.jpg"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    records, report = _scan(path)
    assert len(records) == 5 and report.problems["truncated images (skipped)"] == 1
    assert str(image) in report.summary()


def test_float_tiff_is_skipped_at_the_scan_not_mid_epoch(dataset):
    root, path = dataset
    Image.fromarray(np.random.default_rng(0).random((96, 96), np.float32)).save(root / "images" / "train" / "float.tif")
    records, report = _scan(path)
    assert len(records) == 6 and report.problems["images in a pixel format other than 8-bit (skipped)"] == 1
    train = DetectionDataset(records, 64, train=True, mosaic=1.0)
    assert all(train[i]["image"].shape == (3, 64, 64) for i in range(len(train)))


def test_images_sharing_a_label_file_are_skipped_and_counted(dataset):
    root, path = dataset
    Image.open(root / "images" / "train" / "000000.jpg").save(root / "images" / "train" / "000000.png")
    records, report = _scan(path)
    assert len(records) == 5 and report.problems["images sharing one label file with another image of the same name (skipped)"] == 2
    assert not any("000000" in r.image for r in records)


def test_non_utf8_label_file_is_counted_and_named(dataset):
    root, path = dataset
    label = root / "labels" / "train" / "000003.txt"
    label.write_bytes(b"0 0.5 0.5 0.2 0.2 \xff\xfe\n")
    records, report = _scan(path)
    assert len(records) == 5 and report.problems["label files that are not UTF-8 text (image skipped)"] == 1
    assert str(label) in report.summary()


@pytest.mark.parametrize("line", ["inf 0.5 0.5 0.2 0.2", "nan 0.5 0.5 0.2 0.2", "0 nan 0.5 0.2 0.2", "1e400 0.5 0.5 0.2 0.2"])
def test_non_finite_label_values_are_dropped_and_counted(dataset, line):
    root, path = dataset
    label = root / "labels" / "train" / "000000.txt"
    good = len(label.read_text().splitlines())
    label.write_text(label.read_text() + line + "\n")
    records, report = _scan(path)
    assert len(records[0].labels) == good and report.problems["label lines that are not numbers (dropped)"] == 1


def test_a_torn_label_cache_is_rebuilt_with_a_warning(dataset, capsys):
    root, path = dataset
    first, _ = _scan(path)
    cache = root / "images" / "train.litebone.cache.json"
    cache.write_text(cache.read_text()[:40])
    second, _ = _scan(path)
    assert "label cache" in capsys.readouterr().out and [r.image for r in first] == [r.image for r in second]
    assert json.loads(cache.read_text())["records"], "the rebuilt cache is whole again"
    assert not list(cache.parent.glob(".*.tmp")), "no temporary file is left beside it"


@pytest.mark.parametrize("names, message", [
    ("circle", "names is 'circle'"),
    (4, "names is 4"),
    ([], "names is \\[\\]"),
    ({"a": "cat"}, "names key 'a' is not a class index"),
    ({0: "cat", 2: "dog"}, "must be 0..1 without gaps"),
    ([["nested"]], "class names must be non-empty text"),
])
def test_bad_names_are_clear_errors(tmp_path, names, message):
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names}))
    with pytest.raises(UserError, match=message):
        read_data_yaml(tmp_path / "d.yaml")


def test_names_with_quoted_integer_keys_sort_numerically(tmp_path):
    names = {str(i): f"cls{i}" for i in range(12)}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({"train": "images/train", "val": "images/val", "names": names}))
    assert read_data_yaml(tmp_path / "d.yaml").names == [f"cls{i}" for i in range(12)]


@pytest.mark.parametrize("text, message", [
    ("train: [images/train\nval: x\n", "is not valid YAML"),
    ("- train\n- val\n", "must hold a mapping of keys"),
    ("train: [a, b]\nval: images/val\nnames: [x]\n", "train must be one folder or JSON file"),
])
def test_malformed_data_yaml_names_the_file(tmp_path, text, message):
    (tmp_path / "d.yaml").write_text(text)
    with pytest.raises(UserError, match=message):
        read_data_yaml(tmp_path / "d.yaml")


def _coco(root, coco):
    (root / "train.json").write_text(coco if isinstance(coco, str) else json.dumps(coco))
    (root / "coco.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "train.json", "train_images": "images/train",
                                                    "val": "images/val", "names": ["circle", "rectangle", "triangle", "cross"]}))
    return root / "coco.yaml"


def _good_coco():
    return {"images": [{"id": 1, "file_name": "000000.jpg"}, {"id": 2, "file_name": "000001.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 0, "bbox": [10, 10, 20, 20]}],
            "categories": [{"id": 0, "name": "circle"}]}


@pytest.mark.parametrize("breakage, message", [
    (lambda c: c.pop("images"), "has no 'images' list"),
    (lambda c: c.pop("categories"), "has no 'categories' list"),
    (lambda c: c["categories"][0].pop("name"), "every category needs an integer 'id' and a 'name'"),
])
def test_coco_without_required_keys_is_a_clear_error(dataset, breakage, message):
    root, _ = dataset
    coco = _good_coco()
    breakage(coco)
    with pytest.raises(UserError, match=f"COCO file {root / 'train.json'}.*{message}"):
        _scan(_coco(root, coco))


@pytest.mark.parametrize("breakage, problem", [
    (lambda c: c["annotations"][0].pop("bbox"), "without a numeric [x, y, w, h] bbox"),
    (lambda c: c["annotations"][0].update(bbox="10 10 20 20"), "without a numeric [x, y, w, h] bbox"),
    (lambda c: c["annotations"][0].update(bbox=[10, 10, 20]), "without a numeric [x, y, w, h] bbox"),
    (lambda c: c["annotations"][0].pop("category_id"), "with an unknown category"),
    (lambda c: c["annotations"][0].update(image_id=99), "whose image_id is not in images"),
    (lambda c: c["images"][1].pop("file_name"), "COCO images without an id or file_name"),
])
def test_coco_bad_entries_are_dropped_and_counted(dataset, breakage, problem):
    root, _ = dataset
    coco = _good_coco()
    breakage(coco)
    records, report = _scan(_coco(root, coco))
    assert any(problem in what for what in report.problems), report.summary()


def test_malformed_coco_json_names_its_path(dataset):
    root, _ = dataset
    with pytest.raises(UserError, match=f"COCO file {root / 'train.json'} is not valid JSON"):
        _scan(_coco(root, '{"images": [1, 2'))


@pytest.mark.parametrize("shape", [(10, 4000, 3), (4000, 1, 3), (1, 1, 3)])
def test_letterbox_handles_extreme_aspect_ratios(shape):
    canvas, info = letterbox(np.full(shape, 200, np.uint8), 64)
    assert canvas.shape == (64, 64, 3) and info.ratio > 0
