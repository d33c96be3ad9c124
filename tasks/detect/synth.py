"""`litebone synth shapes`: a YOLO-format dataset of drawn shapes on textured, noisy backgrounds.

Boxes are exact: they come from the geometry that was drawn, clipped to the image. Deterministic
by seed (one generator per image), and fast (pure numpy + OpenCV drawing).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from ..files import atomic_write_text

CLASSES = ("circle", "rectangle", "triangle", "cross")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A colour gradient plus blurred noise texture and a few random lines."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    image = c0 * (1 - t[..., None]) + c1 * t[..., None]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), rng.uniform(1, 4))
    image += noise[..., None] * rng.uniform(10, 30)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(0, 4)):
        p1, p2 = tuple(int(v) for v in rng.integers(0, size, 2)), tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(image, p1, p2, tuple(int(v) for v in rng.integers(0, 255, 3)), int(rng.integers(1, 3)), cv2.LINE_AA)
    return image


def _shape_points(kind: str, rng: np.random.Generator, cx: float, cy: float, r: float) -> np.ndarray:
    """Polygon vertices of a shape around (cx, cy) with radius ``r`` (circles are sampled densely)."""
    rotation = rng.uniform(0, 2 * np.pi)
    if kind == "circle":
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)
    if kind == "rectangle":
        aspect = rng.uniform(0.5, 1.0)
        corners = np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]]) * r
    elif kind == "triangle":
        angles = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        corners = np.stack([np.cos(angles), np.sin(angles)], 1) * r
    else:
        w = 0.35
        corners = np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w]]) * r
    rot = np.array([[np.cos(rotation), -np.sin(rotation)], [np.sin(rotation), np.cos(rotation)]])
    return corners @ rot.T + [cx, cy]


def render_shapes(seed: int, size: int, max_objects: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """One image (H, W, 3 RGB uint8) and its labels (N, 5): class, cx, cy, w, h normalised."""
    rng = np.random.default_rng(seed)
    image = _background(rng, size)
    labels, boxes = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(10):
            r = rng.uniform(0.07, 0.2) * size
            cx, cy = rng.uniform(r * 0.6, size - r * 0.6, 2)
            kind = int(rng.integers(len(CLASSES)))
            points = _shape_points(CLASSES[kind], rng, cx, cy, r)
            x1, y1 = np.clip(points.min(0), 0, size)
            x2, y2 = np.clip(points.max(0), 0, size)
            if x2 - x1 < 4 or y2 - y1 < 4 or any(_overlap((x1, y1, x2, y2), b) > 0.2 for b in boxes):
                continue
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            cv2.fillPoly(image, [np.round(points * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)
            boxes.append((x1, y1, x2, y2))
            labels.append((kind, (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size))
            break
    image = np.clip(image.astype(np.float32) + rng.normal(0, rng.uniform(2, 8), image.shape), 0, 255).astype(np.uint8)
    return image, np.array(labels, dtype=np.float32).reshape(-1, 5)


def _overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def write_shapes(out: str | Path, train: int = 1000, val: int = 200, size: int = 256, seed: int = 0, progress: bool = True) -> Path:
    """Write ``out/{images,labels}/{train,val}`` and ``out/data.yaml``; return the data.yaml path."""
    if train < 1 or val < 1 or size < 32:
        raise ValueError(f"need train >= 1, val >= 1 and size >= 32, got train={train}, val={val}, size={size}")
    out = Path(out)
    jobs = [("train", i, seed * 1_000_003 + i) for i in range(train)] + [("val", i, seed * 1_000_003 + 10_000_000 + i) for i in range(val)]
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for split, index, image_seed in tqdm(jobs, desc="synth shapes", disable=not progress, leave=False):
        image, labels = render_shapes(image_seed, size)
        stem = f"{index:06d}"
        cv2.imwrite(str(out / "images" / split / f"{stem}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        (out / "labels" / split / f"{stem}.txt").write_text("".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels))
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": list(CLASSES)}
    atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"
