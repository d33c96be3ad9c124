"""Depth data: ``images/<split>/X.jpg`` with ``depth/<split>/X.png`` (uint16 / depth_scale) or ``X.npy``
(metres), plus presets for NYU Depth v2 (BTS list files, mm) and KITTI (PNG / 256, 0 = invalid).

Bad pairs are counted and reported once per split, never silently used: a missing partner file,
an image and depth of different sizes, a depth file of the wrong dtype, an all-invalid depth map.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import yaml
from torch.utils.data import Dataset

from ..errors import UserError
from ..images import IMAGE_SUFFIXES
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


@dataclass
class DepthReport:
    split: str
    pairs: int = 0
    problems: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        found = ", ".join(f"{n} {what}" for what, n in sorted(self.problems.items())) or "no problems"
        return f"{self.split}: {self.pairs} image/depth pairs; {found}"


def read_depth_yaml(path: str | Path) -> DepthSpec:
    """``path``, ``train``, ``val``, ``depth_scale``, ``max_depth``; ``preset: nyu|kitti`` fills the last two."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file {path} does not exist; pass a depth data.yaml, or omit it to use synthetic scenes")
    data = yaml.safe_load(path.read_text()) or {}
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        raise UserError(f"unknown depth preset {preset!r}; use one of {sorted(PRESETS)}")
    defaults = PRESETS.get(preset, {})
    missing = [k for k in ("train", "val") if k not in data] + [k for k in ("depth_scale", "max_depth") if k not in data and k not in defaults]
    if missing:
        raise UserError(f"{path} lacks {missing}; a depth data.yaml needs path, train, val, depth_scale and max_depth (or a preset)")
    root = Path(data.get("path") or path.parent)
    root = root if root.is_absolute() else (path.parent / root).resolve()
    return DepthSpec(root, {s: str(data[s]) for s in ("train", "val") if s in data},
                     float(data.get("depth_scale", defaults.get("depth_scale"))), float(data.get("max_depth", defaults.get("max_depth"))), preset)


def _pairs_from_layout(root: Path, split: str, report: DepthReport) -> list[DepthPair]:
    image_dir, depth_dir = root / "images" / split, root / "depth" / split
    if not image_dir.is_dir():
        raise UserError(f"{image_dir} does not exist; the layout is images/<split>/X.jpg with depth/<split>/X.png or X.npy")
    pairs = []
    for image in sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        relative = image.relative_to(image_dir).with_suffix("")
        partner = next((depth_dir / relative.with_suffix(s) for s in (".png", ".npy") if (depth_dir / relative.with_suffix(s)).is_file()), None)
        if partner is None:
            report.problems["images without a depth file (skipped)"] += 1
            continue
        pairs.append(DepthPair(str(image), str(partner)))
    return pairs


def _pairs_from_list(root: Path, list_file: Path, report: DepthReport) -> list[DepthPair]:
    """BTS-style list file: ``rgb_path depth_path [focal]`` per line, relative to ``root``."""
    pairs = []
    for line in list_file.read_text().splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        image, depth = root / fields[0].lstrip("/"), root / fields[1].lstrip("/")
        if not image.is_file() or not depth.is_file():
            report.problems["images without a depth file (skipped)"] += 1
            continue
        pairs.append(DepthPair(str(image), str(depth)))
    return pairs


def read_depth(path: str, depth_scale: float) -> np.ndarray:
    """Depth in metres as float32; PNGs must be 16-bit (or 8-bit), .npy files float."""
    if path.endswith(".npy"):
        depth = np.load(path)
        if not np.issubdtype(depth.dtype, np.floating):
            raise TypeError(f"{path} holds {depth.dtype}; .npy depth must be float metres")
        return depth.astype(np.float32)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise TypeError(f"{path} is not a readable PNG")
    if raw.ndim != 2 or raw.dtype not in (np.uint16, np.uint8):
        raise TypeError(f"{path} is {raw.dtype} with shape {raw.shape}; depth PNGs must be single-channel uint16")
    return raw.astype(np.float32) / depth_scale


def valid_mask(depth: np.ndarray | torch.Tensor, max_depth: float, min_depth: float = 1e-3):
    """Valid ground truth: finite, above ``min_depth`` and below ``max_depth``."""
    if isinstance(depth, torch.Tensor):
        return torch.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
    return np.isfinite(depth) & (depth > min_depth) & (depth < max_depth)


def load_depth_split(spec: DepthSpec, split: str, verbose: bool = True) -> tuple[list[DepthPair], DepthReport]:
    """Pairs of one split, each checked once (sizes, dtype, validity); bad ones counted and dropped."""
    if split not in spec.splits:
        raise UserError(f"the depth data has no '{split}' split")
    report = DepthReport(split)
    source = spec.root / spec.splits[split]
    candidates = _pairs_from_list(spec.root, source, report) if source.is_file() else _pairs_from_layout(spec.root, spec.splits[split], report)
    pairs = []
    for pair in candidates:
        image = cv2.imread(pair.image, cv2.IMREAD_COLOR)
        if image is None:
            report.problems["unreadable images (skipped)"] += 1
            continue
        try:
            depth = read_depth(pair.depth, spec.depth_scale)
        except TypeError:
            report.problems["depth files of the wrong dtype (skipped)"] += 1
            continue
        if depth.shape[:2] != image.shape[:2]:
            report.problems["image/depth size mismatches (skipped)"] += 1
        elif not valid_mask(depth, spec.max_depth).any():
            report.problems["all-invalid depth maps (skipped)"] += 1
        else:
            pairs.append(pair)
    report.pairs = len(pairs)
    if verbose:
        print(f"litebone: {report.summary()}")
    if not pairs:
        raise UserError(f"the {split} split at {source} has no usable image/depth pairs ({report.summary()})")
    return pairs, report


class DepthDataset(Dataset):
    """Samples as ``{"image": uint8 (3, H, W), "depth": float (1, H, W) metres, 0 where invalid}``."""

    def __init__(self, pairs: list[DepthPair], spec: DepthSpec, size: tuple[int, int], train: bool) -> None:
        self.pairs, self.spec, self.size, self.train = pairs, spec, size, train
        self.transform = train_transform(size) if train else val_transform(size)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        image = cv2.cvtColor(cv2.imread(pair.image, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        depth = read_depth(pair.depth, self.spec.depth_scale)
        depth = np.where(valid_mask(depth, self.spec.max_depth), depth, 0.0).astype(np.float32)
        self.transform.set_random_seed(int(torch.randint(2**31 - 1, (1,))))
        out = self.transform(image=image, mask=depth)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1))),
            "depth": torch.from_numpy(np.ascontiguousarray(out["mask"]))[None].float(),
        }
