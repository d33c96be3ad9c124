"""Detection data: YOLO-format folders (or COCO JSON) -> validated, cached records -> augmented batches.

Bad data is counted and reported once per split, never silently used:
unreadable images are skipped; label lines with a wrong column count, a class out of range,
coordinates outside [0, 1] or zero size are dropped; images without a label file are backgrounds;
an empty split is an error.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import yaml
from PIL import Image
from torch.utils.data import Dataset

from ..errors import UserError
from ..images import IMAGE_SUFFIXES
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
class ScanReport:
    """What a split scan found; ``summary()`` is printed once per split."""

    split: str
    images: int = 0
    problems: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        found = ", ".join(f"{count} {what}" for what, count in sorted(self.problems.items())) or "no problems"
        return f"{self.split}: {self.images} images; {found}"


@dataclass
class DataSpec:
    """A parsed data.yaml: class names and, per split, where its images and annotations are."""

    root: Path
    names: list[str]
    splits: dict[str, Any]


def read_data_yaml(path: str | Path) -> DataSpec:
    """Parse a YOLO ``data.yaml`` (``path``, ``train``, ``val``, ``names``); COCO JSON splits are allowed."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file {path} does not exist; pass a YOLO data.yaml, or omit it to use synthetic shapes")
    data = yaml.safe_load(path.read_text()) or {}
    missing = [k for k in ("train", "val") if k not in data]
    if missing:
        raise UserError(f"{path} lacks {missing}; a data.yaml needs path, train, val and names")
    root = Path(data.get("path") or path.parent)
    root = root if root.is_absolute() else (path.parent / root).resolve()
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    splits = {split: data[split] for split in ("train", "val", "test") if split in data}
    if names is None:
        json_split = next((v for v in splits.values() if str(v).endswith(".json")), None)
        if json_split is None:
            raise UserError(f"{path} lacks names; list the class names, e.g. names: [cat, dog]")
        names = [c["name"] for c in sorted(json.loads((root / json_split).read_text())["categories"], key=lambda c: c["id"])]
    extra = {f"{s}_images": data[f"{s}_images"] for s in splits if f"{s}_images" in data}
    return DataSpec(root, list(names), {**splits, **extra})


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if index is None:
        return image.with_suffix(".txt")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def _parse_label_file(path: Path, num_classes: int, problems: Counter) -> np.ndarray:
    rows = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            problems["label lines with a wrong column count (dropped)"] += 1
            continue
        try:
            cls, cx, cy, w, h = (float(v) for v in fields)
        except ValueError:
            problems["label lines that are not numbers (dropped)"] += 1
            continue
        if cls != int(cls) or not 0 <= cls < num_classes:
            problems["label lines with a class out of range (dropped)"] += 1
        elif not all(0 <= v <= 1 for v in (cx, cy, w, h)):
            problems["label lines with coordinates outside [0, 1] (dropped)"] += 1
        elif w <= 0 or h <= 0:
            problems["label lines with zero size (dropped)"] += 1
        else:
            rows.append((cls, cx, cy, w, h))
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def _image_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
        return height, width
    except Exception:
        return None


def _yolo_records(image_dir: Path, num_classes: int, report: ScanReport) -> list[Record]:
    images = sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    records = []
    for image in images:
        size = _image_size(image)
        if size is None:
            report.problems["unreadable images (skipped)"] += 1
            continue
        label_file = _label_path(image)
        if label_file.is_file():
            labels = _parse_label_file(label_file, num_classes, report.problems)
        else:
            report.problems["images without a label file (used as background)"] += 1
            labels = np.zeros((0, 5), np.float32)
        records.append(Record(str(image), size[0], size[1], labels))
    return records


def _coco_records(json_path: Path, image_dir: Path, report: ScanReport) -> list[Record]:
    coco = json.loads(json_path.read_text())
    categories = sorted(c["id"] for c in coco["categories"])
    class_of = {cat: i for i, cat in enumerate(categories)}
    by_image: dict[int, list] = {}
    for annotation in coco.get("annotations", []):
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    records = []
    for info in coco["images"]:
        path = image_dir / info["file_name"]
        size = _image_size(path)
        if size is None:
            report.problems["unreadable images (skipped)"] += 1
            continue
        height, width = size
        rows = []
        for annotation in by_image.get(info["id"], []):
            if annotation.get("iscrowd", 0):
                continue
            x, y, w, h = annotation["bbox"]
            if annotation["category_id"] not in class_of:
                report.problems["annotations with an unknown category (dropped)"] += 1
            elif w <= 0 or h <= 0:
                report.problems["label lines with zero size (dropped)"] += 1
            elif x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
                report.problems["label lines with coordinates outside [0, 1] (dropped)"] += 1
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


def load_split(spec: DataSpec, split: str, verbose: bool = True) -> tuple[list[Record], ScanReport]:
    """Scan (or read from cache) one split; raise ``UserError`` if nothing usable is left."""
    if split not in spec.splits:
        raise UserError(f"the data has no '{split}' split; data.yaml lists {sorted(s for s in spec.splits if not s.endswith('_images'))}")
    source = spec.root / str(spec.splits[split])
    is_coco = source.suffix == ".json"
    image_dir = spec.root / str(spec.splits.get(f"{split}_images", f"images/{split}")) if is_coco else source
    if not source.exists():
        raise UserError(f"{split} split {source} does not exist; check 'path' and '{split}' in data.yaml")
    watched = [source]
    if not is_coco:
        watched += sorted(image_dir.rglob("*")) + sorted((spec.root / "labels").rglob("*.txt"))
    cache_file = (source.parent if is_coco else source).with_name(f"{source.stem if is_coco else source.name}.litebone.cache.json")
    fingerprint = _fingerprint([p for p in watched if p.is_file()])
    report = ScanReport(split)
    records = None
    if cache_file.is_file():
        cached = json.loads(cache_file.read_text())
        if cached.get("fingerprint") == fingerprint and cached.get("num_classes") == len(spec.names):
            records = [Record(r["image"], r["height"], r["width"], np.array(r["labels"], np.float32).reshape(-1, 5)) for r in cached["records"]]
            report.problems.update(cached["problems"])
    if records is None:
        records = _coco_records(source, image_dir, report) if is_coco else _yolo_records(source, len(spec.names), report)
        payload = {
            "fingerprint": fingerprint, "num_classes": len(spec.names), "problems": dict(report.problems),
            "records": [{"image": r.image, "height": r.height, "width": r.width, "labels": r.labels.tolist()} for r in records],
        }
        try:
            cache_file.write_text(json.dumps(payload))
        except OSError:
            report.problems["label cache not writable (not cached)"] += 1
    report.images = len(records)
    if verbose:
        print(f"litebone: {report.summary()}")
    if not records:
        raise UserError(f"the {split} split at {source} has no usable images ({report.summary()}); check the paths in data.yaml")
    return records, report


def read_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def yolo_to_xyxy(labels: np.ndarray, width: float, height: float) -> np.ndarray:
    cx, cy, w, h = labels[:, 1] * width, labels[:, 2] * height, labels[:, 3] * width, labels[:, 4] * height
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


class DetectionDataset(Dataset):
    """Training samples (augmented) or validation samples (letterboxed, with original-pixel ground truth)."""

    def __init__(self, records: list[Record], img_size: int, train: bool, mosaic: float = 1.0) -> None:
        self.records = records
        self.img_size = img_size
        self.train = train
        self.mosaic = mosaic
        self.transform = train_transform(img_size, mosaic) if train else None

    def set_mosaic(self, probability: float) -> None:
        """Change the mosaic probability (e.g. 0 for the last epochs)."""
        if probability != self.mosaic and self.train:
            self.mosaic = probability
            self.transform = train_transform(self.img_size, probability)

    def __len__(self) -> int:
        return len(self.records)

    def _sample(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        labels = record.labels
        return {"image": read_rgb(record.image), "bboxes": labels[:, 1:5].clip(0, 1), "class_labels": labels[:, 0].astype(int).tolist()}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not self.train:
            record = self.records[index]
            image, info = letterbox(read_rgb(record.image), self.img_size)
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
