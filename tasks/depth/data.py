"""Depth data: ``images/<split>/X.jpg`` with ``depth/<split>/X.png`` (uint16 / depth_scale) or ``X.npy``
(metres), plus presets for NYU Depth v2 (BTS list files, mm) and KITTI (PNG / 256, 0 = invalid).

Bad pairs are counted and reported once per split, never silently used: a missing or ambiguous
partner file, an unreadable image or depth file, an image and depth of different sizes, a depth
file of the wrong dtype (8-bit PNG, integer .npy) or shape, an all-invalid depth map.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import read_yaml_mapping
from ..errors import UserError
from ..images import ImageReadError, ScanReport, find_images, read_image
from .metrics import valid_mask
from .transforms import train_transform, val_transform

PRESETS = {"nyu": {"depth_scale": 1000.0, "max_depth": 10.0}, "kitti": {"depth_scale": 256.0, "max_depth": 80.0}}


@dataclass
class DepthPair:
    image: str
    depth: str


@dataclass
class DepthSpec:
    """A parsed depth data.yaml."""

    root: Path
    splits: dict[str, str]
    depth_scale: float
    max_depth: float
    preset: str | None = None


def read_depth_yaml(path: str | Path) -> DepthSpec:
    """``path``, ``train``, ``val``, ``depth_scale``, ``max_depth``; ``preset: nyu|kitti`` fills the last two."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file {path} does not exist; pass a depth data.yaml, or omit it to use synthetic scenes")
    data = read_yaml_mapping(path, "data file")
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        raise UserError(f"unknown depth preset {preset!r}; use one of {sorted(PRESETS)}")
    defaults = PRESETS.get(preset, {})
    missing = [k for k in ("train", "val") if k not in data] + [k for k in ("depth_scale", "max_depth") if k not in data and k not in defaults]
    if missing:
        raise UserError(f"{path} lacks {missing}; a depth data.yaml needs path, train, val, depth_scale and max_depth (or a preset)")
    numbers = {}
    for key in ("depth_scale", "max_depth"):
        value = data.get(key, defaults.get(key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise UserError(f"{path}: {key} must be a positive number, got {value!r}")
        numbers[key] = float(value)
    root = Path(str(data.get("path") or path.parent))
    root = root if root.is_absolute() else (path.parent / root).resolve()
    return DepthSpec(root, {s: str(data[s]) for s in ("train", "val") if s in data}, numbers["depth_scale"], numbers["max_depth"], preset)


def _pairs_from_layout(root: Path, split: str, report: ScanReport) -> list[DepthPair]:
    """``images/<split>`` beside ``depth/<split>``; ``split`` may also name the image folder (``images/train``)."""
    relative = Path(split)
    if relative.parts and relative.parts[0] == "images":
        relative = Path(*relative.parts[1:])
    image_dir, depth_dir = root / "images" / relative, root / "depth" / relative
    if not image_dir.is_dir():
        raise UserError(f"{image_dir} does not exist; the layout is images/<split>/X.jpg with depth/<split>/X.png or X.npy")
    images = find_images(image_dir)
    stems = Counter(image.relative_to(image_dir).with_suffix("") for image in images)
    pairs = []
    for image in images:
        stem = image.relative_to(image_dir).with_suffix("")
        if stems[stem] > 1:
            report.add("images sharing one depth file with another image of the same name (skipped)", image)
            continue
        partners = [depth_dir / stem.with_suffix(s) for s in (".png", ".npy") if (depth_dir / stem.with_suffix(s)).is_file()]
        if not partners:
            report.add("images without a depth file (skipped)", image)
        elif len(partners) > 1:
            report.add("images with both a .png and a .npy depth file (skipped)", image)
        else:
            pairs.append(DepthPair(str(image), str(partners[0])))
    return pairs


def _pairs_from_list(root: Path, list_file: Path, report: ScanReport) -> list[DepthPair]:
    """BTS-style list file: ``rgb_path depth_path [focal]`` per line, relative to ``root``."""
    pairs = []
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"list file {list_file} is not UTF-8 text; it should hold 'rgb_path depth_path' lines") from None
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        image, depth = root / fields[0].lstrip("/"), root / fields[1].lstrip("/")
        if not image.is_file() or not depth.is_file():
            report.add("images without a depth file (skipped)", image if not image.is_file() else depth)
            continue
        pairs.append(DepthPair(str(image), str(depth)))
    return pairs


class DepthReadError(ValueError):
    """A depth file that cannot be used; ``reason`` is the phrase a scan report counts."""

    def __init__(self, path: str, reason: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.reason = reason


def read_depth(path: str, depth_scale: float) -> np.ndarray:
    """Depth in metres as float32 (H, W): 16-bit PNGs divided by ``depth_scale``, float .npy files as they are."""
    if path.endswith(".npy"):
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise DepthReadError(path, "unreadable depth files", f"not a readable .npy array ({error})") from None
        if not np.issubdtype(depth.dtype, np.floating):
            raise DepthReadError(path, "depth files of the wrong dtype", f"holds {depth.dtype}; .npy depth must be float metres")
        if depth.ndim == 3 and depth.shape[-1] == 1:
            depth = depth[..., 0]
        if depth.ndim != 2:
            raise DepthReadError(path, "depth files of the wrong shape", f"has shape {depth.shape}; depth must be (H, W)")
        return depth.astype(np.float32)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DepthReadError(path, "unreadable depth files", "not a readable PNG")
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise DepthReadError(path, "depth files of the wrong dtype",
                             f"is {raw.dtype} with shape {raw.shape}; depth PNGs must be single-channel 16-bit (uint16)")
    return raw.astype(np.float32) / depth_scale


def load_depth_split(spec: DepthSpec, split: str, channels: int = 3) -> tuple[list[DepthPair], ScanReport]:
    """Pairs of one split, each read once as training will (sizes, dtype, validity); bad ones counted and dropped."""
    if split not in spec.splits:
        raise UserError(f"the depth data has no '{split}' split")
    report = ScanReport(split, unit="image/depth pairs")
    source = spec.root / spec.splits[split]
    candidates = _pairs_from_list(spec.root, source, report) if source.is_file() else _pairs_from_layout(spec.root, spec.splits[split], report)
    pairs = []
    for pair in candidates:
        try:
            image = read_image(pair.image, channels)
        except ImageReadError as error:
            report.add(f"{error.reason} (skipped)", pair.image)
            continue
        try:
            depth = read_depth(pair.depth, spec.depth_scale)
        except DepthReadError as error:
            report.add(f"{error.reason} (skipped)", pair.depth)
            continue
        if depth.shape[:2] != image.shape[:2]:
            report.add("image/depth size mismatches (skipped)", pair.depth)
        elif not valid_mask(depth, spec.max_depth).any():
            report.add("all-invalid depth maps (skipped)", pair.depth)
        else:
            pairs.append(pair)
    report.count = len(pairs)
    if not pairs:
        raise UserError(f"the {split} split at {source} has no usable image/depth pairs ({report.summary()})")
    return pairs, report


class DepthDataset(Dataset):
    """Samples as ``{"image": uint8 (channels, H, W), "depth": float (1, H, W) metres, 0 where invalid}``."""

    def __init__(self, pairs: list[DepthPair], spec: DepthSpec, size: tuple[int, int], train: bool, channels: int = 3,
                 metric_zoom: float = 0.5) -> None:
        self.pairs, self.spec, self.train, self.channels, self.metric_zoom = pairs, spec, train, channels, metric_zoom
        self.set_size(size)

    def set_size(self, size: tuple[int, int]) -> None:
        """Resize every sample to ``size`` (H, W) from now on; workers started later see it."""
        self.size = size
        self.transform = train_transform(size, self.channels, self.metric_zoom) if self.train else val_transform(size)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        image = read_image(pair.image, self.channels)
        depth = read_depth(pair.depth, self.spec.depth_scale)
        depth = np.where(valid_mask(depth, self.spec.max_depth), depth, 0.0).astype(np.float32)
        self.transform.set_random_seed(int(torch.randint(2**31 - 1, (1,))))
        out = self.transform(image=image, mask=depth)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(out["image"].reshape(*self.size, self.channels).transpose(2, 0, 1))),
            "depth": torch.from_numpy(np.ascontiguousarray(out["mask"]))[None].float(),
        }
