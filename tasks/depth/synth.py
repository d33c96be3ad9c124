"""`litebone synth scenes`: procedural 3D rooms with exact per-pixel depth, in litebone's depth layout.

A pinhole camera inside a room (floor, ceiling, four walls) looks at boxes, spheres and vertical
cylinders at random poses. Every pixel is ray-cast in numpy: depth is the exact z-distance of the
nearest hit. Surfaces get procedural textures (checkers, stripes, noise) and Lambertian shading
under a random directional light. Deterministic by seed.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from ..files import atomic_write_text

DEPTH_SCALE = 1000.0
MAX_DEPTH = 10.0


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    yaw_m = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    pitch_m = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return yaw_m @ pitch_m


def _hit_room(origin, dirs, room):
    """Exit distance of rays from inside the room box, with the normal of the wall hit."""
    low, high = -room / 2 * np.array([1, 0, 1]), room / 2 * np.array([1, 2, 1])
    with np.errstate(divide="ignore"):
        bounds = np.where(dirs > 0, high, low)
        ts = (bounds - origin) / dirs
    ts[~np.isfinite(ts)] = np.inf
    axis = ts.argmin(1)
    t = ts[np.arange(len(ts)), axis]
    normal = np.zeros_like(dirs)
    normal[np.arange(len(ts)), axis] = -np.sign(dirs[np.arange(len(ts)), axis])
    return t, normal, axis


def _hit_sphere(origin, dirs, centre, radius):
    oc = origin - centre
    b = dirs @ oc
    c = oc @ oc - radius**2
    disc = b * b - c
    t = np.where(disc > 0, -b - np.sqrt(np.maximum(disc, 0)), np.inf)
    t = np.where(t > 1e-4, t, np.inf)
    normal = (origin + t[:, None] * dirs - centre) / radius
    return t, normal


def _hit_cylinder(origin, dirs, centre, radius, height):
    """Vertical cylinder standing on the floor at ``centre`` (x, z), side and top cap."""
    ox, oz = origin[0] - centre[0], origin[2] - centre[1]
    a = dirs[:, 0] ** 2 + dirs[:, 2] ** 2
    b = ox * dirs[:, 0] + oz * dirs[:, 2]
    c = ox**2 + oz**2 - radius**2
    disc = b * b - a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
    y = origin[1] + t_side * dirs[:, 1]
    t_side = np.where((t_side > 1e-4) & (y >= 0) & (y <= height), t_side, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cap = (height - origin[1]) / dirs[:, 1]
    px, pz = ox + t_cap * dirs[:, 0], oz + t_cap * dirs[:, 2]
    t_cap = np.where((t_cap > 1e-4) & (px**2 + pz**2 <= radius**2), t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    hit = origin + np.nan_to_num(t[:, None] * dirs, nan=0.0, posinf=0.0, neginf=0.0)
    side_normal = np.stack([hit[:, 0] - centre[0], np.zeros(len(t)), hit[:, 2] - centre[1]], 1) / radius
    normal = np.where((t_cap < t_side)[:, None], np.array([0.0, 1.0, 0.0]), side_normal)
    return t, normal


def _hit_box(origin, dirs, centre, half, yaw):
    """Box rotated by ``yaw`` about the vertical axis (slab method in its own frame)."""
    rot = _rotation(yaw, 0.0)
    local_o, local_d = (origin - centre) @ rot, dirs @ rot
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - local_o) / local_d, (half - local_o) / local_d
    t_near, t_far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_near = np.nan_to_num(t_near, nan=-np.inf)
    t_far = np.nan_to_num(t_far, nan=np.inf)
    enter, leave = t_near.max(1), t_far.min(1)
    t = np.where((enter < leave) & (enter > 1e-4), enter, np.inf)
    axis = t_near.argmax(1)
    local_n = np.zeros_like(dirs)
    local_n[np.arange(len(t)), axis] = -np.sign(local_d[np.arange(len(t)), axis])
    return t, local_n @ rot.T


def _texture(rng_values, points, kind):
    """Procedural pattern in [0.55, 1] from world positions; ``kind`` picks checkers, stripes or waves."""
    scale, phase = rng_values
    if kind == 0:
        pattern = (np.floor(points[:, 0] / scale) + np.floor(points[:, 2] / scale) + np.floor(points[:, 1] / scale)) % 2
    elif kind == 1:
        pattern = (np.sin((points[:, 0] + points[:, 1] + points[:, 2]) * 6 / scale + phase) > 0).astype(float)
    else:
        pattern = 0.5 + 0.5 * np.sin(points[:, 0] * 9 / scale + phase) * np.cos(points[:, 2] * 7 / scale + points[:, 1] * 5)
    return 0.55 + 0.45 * pattern


def render_scene(seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """One RGB image (H, W, 3 uint8) and its z-depth in metres (H, W float32)."""
    rng = np.random.default_rng(seed)
    room = np.array([rng.uniform(4, 8), rng.uniform(2.5, 3.2), rng.uniform(5, 9)])
    camera = np.array([rng.uniform(-0.25, 0.25) * room[0], rng.uniform(1.0, 1.8), room[2] / 2 - rng.uniform(0.3, 1.0)])
    rotation = _rotation(rng.uniform(-0.5, 0.5) + np.pi, rng.uniform(-0.35, 0.1))
    focal = width / (2 * np.tan(np.radians(rng.uniform(55, 70)) / 2))
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([(u + 0.5 - width / 2) / focal, -(v + 0.5 - height / 2) / focal, np.ones_like(u)], -1).reshape(-1, 3)
    forward = rotation @ np.array([0.0, 0.0, 1.0])
    dirs = rays @ rotation.T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)

    t, normal, axis = _hit_room(camera, dirs, room)
    surface = np.where(axis == 1, np.where(dirs[:, 1] < 0, 0, 1), 2)
    colours = [rng.uniform(0.35, 0.95, 3) for _ in range(3)]
    textures = [(rng.uniform(0.3, 0.8), rng.uniform(0, 6), int(rng.integers(3))) for _ in range(3)]
    for _ in range(int(rng.integers(3, 9))):
        kind = rng.integers(3)
        spot = np.array([rng.uniform(-0.4, 0.4) * room[0], rng.uniform(-0.45, 0.3) * room[2]])
        size = rng.uniform(0.25, 0.7)
        if kind == 0:
            half = np.array([size, rng.uniform(0.2, 0.9), size * rng.uniform(0.5, 1.5)])
            hit_t, hit_n = _hit_box(camera, dirs, np.array([spot[0], half[1], spot[1]]), half, rng.uniform(0, np.pi))
        elif kind == 1:
            radius = size * 0.8
            hit_t, hit_n = _hit_sphere(camera, dirs, np.array([spot[0], radius + rng.uniform(0, 0.8), spot[1]]), radius)
        else:
            hit_t, hit_n = _hit_cylinder(camera, dirs, spot, size * 0.6, rng.uniform(0.4, 1.8))
        closer = hit_t < t
        t, normal = np.where(closer, hit_t, t), np.where(closer[:, None], hit_n, normal)
        surface = np.where(closer, len(colours), surface)
        colours.append(rng.uniform(0.15, 1.0, 3))
        textures.append((rng.uniform(0.1, 0.4), rng.uniform(0, 6), int(rng.integers(3))))

    points = camera + t[:, None] * dirs
    albedo = np.stack(colours)[surface]
    pattern = np.ones(len(t))
    for index, (scale, phase, kind) in enumerate(textures):
        mask = surface == index
        if mask.any():
            pattern[mask] = _texture((scale, phase), points[mask], kind)
    light = rng.normal(size=3)
    light[1] = abs(light[1]) + 0.5
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.25, 0.45)
    shade = ambient + (1 - ambient) * np.clip(normal @ light, 0, 1)
    image = albedo * pattern[:, None] * shade[:, None] * 255
    image = image.reshape(height, width, 3) + rng.normal(0, 2.0, (height, width, 3))
    depth = (t * (dirs @ forward)).reshape(height, width).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), depth


def write_scenes(out: str | Path, train: int = 1000, val: int = 200, size: int = 256, seed: int = 0, progress: bool = True) -> Path:
    """Write ``images/<split>/X.jpg`` and ``depth/<split>/X.png`` (uint16 mm) plus ``data.yaml``.

    ``size`` is the width; the height is 3/4 of it (rounded to a multiple of 32).
    """
    if train < 1 or val < 1 or size < 32:
        raise ValueError(f"need train >= 1, val >= 1 and size >= 32, got train={train}, val={val}, size={size}")
    out = Path(out)
    height = max(32, round(size * 0.75 / 32) * 32)
    jobs = [("train", i, seed * 1_000_003 + i) for i in range(train)] + [("val", i, seed * 1_000_003 + 10_000_000 + i) for i in range(val)]
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "depth" / split).mkdir(parents=True, exist_ok=True)
    for split, index, scene_seed in tqdm(jobs, desc="synth scenes", disable=not progress, leave=False):
        image, depth = render_scene(scene_seed, height, size)
        millimetres = np.where(depth < MAX_DEPTH, np.round(depth * DEPTH_SCALE), 0).astype(np.uint16)
        cv2.imwrite(str(out / "images" / split / f"{index:06d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(out / "depth" / split / f"{index:06d}.png"), millimetres)
    data = {"path": str(out.resolve()), "train": "train", "val": "val", "depth_scale": DEPTH_SCALE, "max_depth": MAX_DEPTH}
    atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"
