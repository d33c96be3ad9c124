"""Detection data: YOLO-format folders (or COCO JSON) -> validated, cached records -> augmented batches.

Bad data is counted and reported once per split, never silently used:
unreadable images are skipped; label lines with a wrong column count, a class out of range,
coordinates outside [0, 1] or zero size are dropped; images without a label file are backgrounds;
an empty split is an error.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import read_yaml_mapping
from ..errors import UserError
from ..files import atomic_write_text
from ..images import ImageReadError, ScanReport, find_images, read_image
from .letterbox import letterbox
from .transforms import train_transform

CACHE_VERSION = 1


@dataclass
class Record:
    """One usable image: path, original size, and labels (N, 5) class, cx, cy, w, h normalised."""

    image: str
    height: int
    width: int
    labels: np.ndarray


@dataclass
class DataSpec:
    """A parsed data.yaml: class names and, per split, where its images and annotations are."""

    root: Path
    names: list[str]
    splits: dict[str, Any]


def parse_names(names: Any, where: str) -> list[str]:
    """Class names from a list, or from a mapping whose keys are the integers 0..N-1 (quoted or not)."""
    hint = "write names as a list, e.g. names: [cat, dog], or a mapping, e.g. names: {0: cat, 1: dog}"
    if isinstance(names, dict):
        keys = {}
        for key in names:
            text = str(key).strip()
            if isinstance(key, bool) or not text.isdigit():
                raise UserError(f"{where}: names key {key!r} is not a class index; {hint}")
            keys[int(text)] = names[key]
        if sorted(keys) != list(range(len(keys))):
            raise UserError(f"{where}: names keys {sorted(keys)} must be 0..{len(keys) - 1} without gaps; {hint}")
        names = [keys[index] for index in range(len(keys))]
    if not isinstance(names, (list, tuple)) or not names:
        raise UserError(f"{where}: names is {names!r}; {hint}")
    bad = [name for name in names if not isinstance(name, (str, int)) or isinstance(name, bool) or str(name).strip() == ""]
    if bad:
        raise UserError(f"{where}: class names must be non-empty text, got {bad[0]!r}; {hint}")
    return [str(name) for name in names]


def read_data_yaml(path: str | Path) -> DataSpec:
    """Parse a YOLO ``data.yaml`` (``path``, ``train``, ``val``, ``names``); COCO JSON splits are allowed."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file {path} does not exist; pass a YOLO data.yaml, or omit it to use synthetic shapes")
    data = read_yaml_mapping(path, "data file")
    missing = [k for k in ("train", "val") if k not in data]
    if missing:
        raise UserError(f"{path} lacks {missing}; a data.yaml needs path, train, val and names")
    for split in ("train", "val", "test"):
        if split in data and not isinstance(data[split], str):
            raise UserError(f"{path}: {split} must be one folder or JSON file relative to path, got {data[split]!r}")
    root = Path(str(data.get("path") or path.parent))
    root = root if root.is_absolute() else (path.parent / root).resolve()
    splits = {split: data[split] for split in ("train", "val", "test") if split in data}
    names = data.get("names")
    if names is None:
        json_split = next((v for v in splits.values() if str(v).endswith(".json")), None)
        if json_split is None:
            raise UserError(f"{path} lacks names; list the class names, e.g. names: [cat, dog]")
        names = [c["name"] for c in sorted(_coco_categories(read_coco(root / json_split), root / json_split), key=lambda c: c["id"])]
    extra = {f"{s}_images": data[f"{s}_images"] for s in splits if f"{s}_images" in data}
    return DataSpec(root, parse_names(names, str(path)), {**splits, **extra})


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if index is None:
        return image.with_suffix(".txt")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def _parse_label_file(path: Path, num_classes: int, report: ScanReport) -> np.ndarray:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            report.add("label lines with a wrong column count (dropped)", path)
            continue
        try:
            cls, cx, cy, w, h = (float(v) for v in fields)
        except ValueError:
            report.add("label lines that are not numbers (dropped)", path)
            continue
        if not all(math.isfinite(v) for v in (cls, cx, cy, w, h)):
            report.add("label lines that are not numbers (dropped)", path)
        elif cls != int(cls) or not 0 <= cls < num_classes:
            report.add("label lines with a class out of range (dropped)", path)
        elif not all(0 <= v <= 1 for v in (cx, cy, w, h)):
            report.add("label lines with coordinates outside [0, 1] (dropped)", path)
        elif w <= 0 or h <= 0:
            report.add("label lines with zero size (dropped)", path)
        else:
            rows.append((cls, cx, cy, w, h))
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def _image_size(path: Path, report: ScanReport, channels: int) -> tuple[int, int] | None:
    """(height, width) of the upright image as training will read it, or None (counted) when unusable."""
    try:
        image = read_image(path, channels)
    except ImageReadError as error:
        report.add(f"{error.reason} (skipped)", path)
        return None
    return image.shape[0], image.shape[1]


def _yolo_records(image_dir: Path, num_classes: int, report: ScanReport, channels: int) -> list[Record]:
    images = find_images(image_dir)
    claims = Counter(_label_path(image) for image in images)
    records = []
    for image in images:
        label_file = _label_path(image)
        if claims[label_file] > 1:
            report.add("images sharing one label file with another image of the same name (skipped)", image)
            continue
        size = _image_size(image, report, channels)
        if size is None:
            continue
        if label_file.is_file():
            try:
                labels = _parse_label_file(label_file, num_classes, report)
            except UnicodeDecodeError:
                report.add("label files that are not UTF-8 text (image skipped)", label_file)
                continue
        else:
            report.add("images without a label file (used as background)", image)
            labels = np.zeros((0, 5), np.float32)
        records.append(Record(str(image), size[0], size[1], labels))
    return records


def read_coco(path: Path) -> dict[str, Any]:
    """A COCO annotation file's top level, checked to hold ``images`` and ``categories`` lists."""
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"COCO file {path} is not valid JSON ({error}); re-export it") from None
    if not isinstance(coco, dict):
        raise UserError(f"COCO file {path} must hold an object with images, annotations and categories")
    for key in ("images", "categories"):
        if not isinstance(coco.get(key), list):
            raise UserError(f"COCO file {path} has no '{key}' list; a COCO detection file needs images, annotations and categories")
    if not isinstance(coco.get("annotations", []), list):
        raise UserError(f"COCO file {path}: 'annotations' must be a list")
    return coco


def _coco_categories(coco: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    for category in coco["categories"]:
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) or not isinstance(category.get("name"), str):
            raise UserError(f"COCO file {path}: every category needs an integer 'id' and a 'name', got {category!r}")
    return coco["categories"]


def _coco_box(annotation: Any) -> tuple[float, float, float, float] | None:
    box = annotation.get("bbox") if isinstance(annotation, dict) else None
    if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        return None
    return tuple(float(v) for v in box) if all(math.isfinite(v) for v in box) else None


def _coco_records(json_path: Path, image_dir: Path, report: ScanReport, channels: int) -> list[Record]:
    coco = read_coco(json_path)
    class_of = {cat["id"]: i for i, cat in enumerate(sorted(_coco_categories(coco, json_path), key=lambda c: c["id"]))}
    images = [info for info in coco["images"] if isinstance(info, dict) and "id" in info and isinstance(info.get("file_name"), str)]
    if len(images) < len(coco["images"]):
        report.add("COCO images without an id or file_name (skipped)", json_path, len(coco["images"]) - len(images))
    known = {info["id"] for info in images}
    by_image: dict[Any, list] = {}
    for annotation in coco.get("annotations", []):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if image_id not in known:
            report.add("annotations whose image_id is not in images (dropped)", json_path)
        else:
            by_image.setdefault(image_id, []).append(annotation)
    records = []
    for info in images:
        path = image_dir / info["file_name"]
        size = _image_size(path, report, channels)
        if size is None:
            continue
        height, width = size
        rows = []
        for annotation in by_image.get(info["id"], []):
            if annotation.get("iscrowd", 0):
                continue
            box = _coco_box(annotation)
            if box is None:
                report.add("annotations without a numeric [x, y, w, h] bbox (dropped)", json_path)
                continue
            x, y, w, h = box
            if annotation.get("category_id") not in class_of:
                report.add("annotations with an unknown category (dropped)", json_path)
            elif w <= 0 or h <= 0:
                report.add("label lines with zero size (dropped)", json_path)
            elif x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
                report.add("label lines with coordinates outside [0, 1] (dropped)", json_path)
            else:
                x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
                rows.append((class_of[annotation["category_id"]], (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height))
        records.append(Record(str(path), height, width, np.array(rows, np.float32).reshape(-1, 5)))
    return records


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha1(str(CACHE_VERSION).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _read_cache(cache_file: Path, fingerprint: str, num_classes: int, channels: int, report: ScanReport) -> list[Record] | None:
    """The cached scan when it matches; an unreadable cache is reported and rebuilt."""
    if not cache_file.is_file():
        return None
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        if (cached.get("fingerprint"), cached.get("num_classes"), cached.get("channels", 3)) != (fingerprint, num_classes, channels):
            return None
        records = [Record(r["image"], r["height"], r["width"], np.array(r["labels"], np.float32).reshape(-1, 5)) for r in cached["records"]]
        problems, examples = Counter(cached["problems"]), dict(cached.get("examples", {}))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        print(f"litebone: warning: label cache {cache_file} is unreadable (a run was cut off while writing it?); rebuilding it")
        return None
    report.problems.update(problems)
    report.examples.update(examples)
    return records


def load_split(spec: DataSpec, split: str, channels: int = 3) -> tuple[list[Record], ScanReport]:
    """Scan (or read from cache) one split, reading images with ``channels`` channels: its usable records and what
    the scan found; ``UserError`` if nothing is usable."""
    if split not in spec.splits:
        raise UserError(f"the data has no '{split}' split; data.yaml lists {sorted(s for s in spec.splits if not s.endswith('_images'))}")
    source = spec.root / str(spec.splits[split])
    is_coco = source.suffix == ".json"
    image_dir = spec.root / str(spec.splits.get(f"{split}_images", f"images/{split}")) if is_coco else source
    if not source.exists():
        raise UserError(f"{split} split {source} does not exist; check 'path' and '{split}' in data.yaml")
    if not is_coco and not source.is_dir():
        raise UserError(f"{split} split {source} is a file; point '{split}' in data.yaml at a folder of images or a COCO .json")
    watched = [source]
    if not is_coco:
        watched += sorted(image_dir.rglob("*")) + sorted((spec.root / "labels").rglob("*.txt"))
    cache_file = (source.parent if is_coco else source).with_name(f"{source.stem if is_coco else source.name}.litebone.cache.json")
    fingerprint = _fingerprint([p for p in watched if p.is_file()])
    report = ScanReport(split)
    records = _read_cache(cache_file, fingerprint, len(spec.names), channels, report)
    if records is None:
        records = _coco_records(source, image_dir, report, channels) if is_coco else _yolo_records(source, len(spec.names), report, channels)
        payload = {
            "fingerprint": fingerprint, "num_classes": len(spec.names), "channels": channels, "problems": dict(report.problems), "examples": report.examples,
            "records": [{"image": r.image, "height": r.height, "width": r.width, "labels": r.labels.tolist()} for r in records],
        }
        try:
            atomic_write_text(cache_file, json.dumps(payload))
        except (OSError, UserError):
            report.add("label cache not writable (not cached)", cache_file)
    report.count = len(records)
    if not records:
        raise UserError(f"the {split} split at {source} has no usable images ({report.summary()}); check the paths in data.yaml")
    return records, report


def yolo_to_xyxy(labels: np.ndarray, width: float, height: float) -> np.ndarray:
    cx, cy, w, h = labels[:, 1] * width, labels[:, 2] * height, labels[:, 3] * width, labels[:, 4] * height
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


class DetectionDataset(Dataset):
    """Training samples (augmented) or validation samples (letterboxed, with original-pixel ground truth)."""

    def __init__(self, records: list[Record], img_size: int, train: bool, mosaic: float = 1.0, channels: int = 3) -> None:
        self.records = records
        self.img_size = img_size
        self.train = train
        self.mosaic = mosaic
        self.channels = channels
        self.transform = train_transform(img_size, mosaic, channels) if train else None

    def set_mosaic(self, probability: float) -> None:
        """Change the mosaic probability (e.g. 0 for the last epochs)."""
        if probability != self.mosaic and self.train:
            self.mosaic = probability
            self.transform = train_transform(self.img_size, probability, self.channels)

    def __len__(self) -> int:
        return len(self.records)

    def _sample(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        labels = record.labels
        return {"image": read_image(record.image, self.channels), "bboxes": labels[:, 1:5].clip(0, 1), "class_labels": labels[:, 0].astype(int).tolist()}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not self.train:
            record = self.records[index]
            image, info = letterbox(read_image(record.image, self.channels), self.img_size)
            boxes = yolo_to_xyxy(record.labels, record.width, record.height)
            return {"image": _to_tensor(image), "info": info, "gt_boxes": boxes, "gt_classes": record.labels[:, 0].astype(int), "index": index}
        self.transform.set_random_seed(int(torch.randint(2**31 - 1, (1,))))
        sample = self._sample(index)
        extra = [self._sample(int(i)) for i in torch.randint(0, len(self.records), (3,))] if self.mosaic > 0 else []
        out = self.transform(**sample, mosaic_metadata=extra)
        size = out["image"].shape[:2]
        boxes = np.array(out["bboxes"], dtype=np.float32).reshape(-1, 4)
        xyxy = yolo_to_xyxy(np.concatenate([np.zeros((len(boxes), 1), np.float32), boxes], 1), size[1], size[0])
        classes = np.array(out["class_labels"], dtype=np.float32).reshape(-1, 1)
        return {"image": _to_tensor(out["image"]), "targets": np.concatenate([classes, xyxy], 1)}


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images (uint8); training targets become (N, 6) ``[image, class, x1, y1, x2, y2]``."""
    batch: dict[str, Any] = {"image": torch.stack([s["image"] for s in samples])}
    if "targets" in samples[0]:
        rows = [np.concatenate([np.full((len(s["targets"]), 1), i, np.float32), s["targets"]], 1) for i, s in enumerate(samples)]
        batch["targets"] = torch.from_numpy(np.concatenate(rows, 0)).float() if rows else torch.zeros(0, 6)
    else:
        for key in ("info", "gt_boxes", "gt_classes", "index"):
            batch[key] = [s[key] for s in samples]
    return batch
