"""Ultralytics bridge: a litebone backbone as the backbone of an Ultralytics YOLO.

``import backbones.ultralytics`` registers ``LiteBackbone`` with Ultralytics, so a YOLO YAML can
name it as a row, and ``yolo_yaml`` writes such a YAML from any Ultralytics YOLOv8, YOLO11 or
YOLO26 detector with every channel count filled in:

    backbone:
      - [-1, 1, LiteBackbone, [mobilenetv3_large_100, [2, 3, 4], {pretrained: false}]]  # 0
      - [0, 1, Index, [40, 0]]     # 1-P3/8
      - [0, 1, Index, [112, 1]]    # 2-P4/16
      - [0, 1, Index, [960, 2]]    # 3-P5/32
      - [-1, 1, SPPF, [1024, 5]]   # 4: the family's own P5 context block(s) are kept

``LiteBackbone`` takes Ultralytics' [0, 1] RGB images, applies the backbone's own input
normalisation and returns its levels; Ultralytics' ``Index`` picks each one. Ultralytics is
AGPL-3.0 and an optional extra: only this module imports it.

Written here because Ultralytics has no plugin interface for YAML modules; the one place that
reaches into its internals is ``register``.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from ._builder import check_arguments, get_backbone
from ._input import ImageNormalize

try:
    import ultralytics
    from ultralytics.nn import tasks as ultralytics_tasks
except ImportError as missing:
    raise ImportError(
        "the Ultralytics bridge needs the ultralytics package, which litebone does not install by default (it is "
        "AGPL-3.0). Install it with: pip install 'litebone[ultralytics]'"
    ) from missing

FAMILIES = {"yolov8": "yolov8.yaml", "yolo11": "yolo11.yaml", "yolo26": "yolo26.yaml"}
P5_CONTEXT_MODULES = {"SPPF", "SPP", "SPPELAN", "C2PSA", "PSA"}


class LiteBackbone(nn.Module):
    """A litebone backbone as one Ultralytics row: [0, 1] images in, the list of its levels out."""

    def __init__(self, name: str, out_indices: Sequence[int] = (2, 3, 4), options: dict[str, Any] | None = None) -> None:
        super().__init__()
        options = dict(options or {})
        self.backbone = get_backbone(name, out_indices=tuple(out_indices), **options)
        self.normalize = ImageNormalize(self.backbone.input_spec, pixel_max=1.0)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone(self.normalize(images))

    def fuse(self) -> "LiteBackbone":
        """Swap in the backbone's fused inference copy (BatchNorm folded, re-parameterised blocks merged)."""
        if not self.backbone.fused:
            self.backbone = self.backbone.fuse()
        return self


def register() -> None:
    """Make Ultralytics build and fuse ``LiteBackbone`` rows. Idempotent.

    The reach into Ultralytics' internals, kept here alone (tested against the installed version):
    - ``parse_model`` looks a row's module name up in the globals of ``ultralytics.nn.tasks``, so
      ``LiteBackbone`` is added there;
    - ``BaseModel.fuse`` folds only Ultralytics' own layer types, so it is wrapped to fuse the
      litebone rows first.
    """
    base_model = getattr(ultralytics_tasks, "BaseModel", None)
    if not hasattr(ultralytics_tasks, "parse_model") or not hasattr(base_model, "fuse"):
        raise ImportError(
            f"Ultralytics {ultralytics.__version__} no longer has ultralytics.nn.tasks.parse_model and BaseModel.fuse, "
            f"which the litebone bridge registers with; install a supported release: pip install 'litebone[ultralytics]'"
        )
    ultralytics_tasks.LiteBackbone = LiteBackbone
    if getattr(base_model.fuse, "fuses_litebone", False):
        return
    ultralytics_fuse = base_model.fuse

    def fuse(model: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        for module in model.modules():
            if isinstance(module, LiteBackbone):
                module.fuse()
        return ultralytics_fuse(model, *args, **kwargs)

    fuse.fuses_litebone = True
    fuse.__doc__ = ultralytics_fuse.__doc__
    base_model.fuse = fuse


def available_heads() -> list[str]:
    """Ultralytics detector names the bridge can take the head of, e.g. ``yolov8n`` or ``yolo26s``."""
    return [family + scale for family in FAMILIES for scale in _family_yaml(family)["scales"]]


def _family_yaml(family: str) -> dict[str, Any]:
    from ultralytics.utils import YAML

    found = sorted(Path(ultralytics.__file__).parent.joinpath("cfg", "models").rglob(FAMILIES[family]))
    if not found:
        raise ValueError(f"Ultralytics {ultralytics.__version__} ships no {FAMILIES[family]}; upgrade: pip install 'litebone[ultralytics]'")
    return YAML.load(found[0])


def _parse_head(head: str) -> tuple[str, str]:
    match = re.fullmatch(r"(yolov8|yolo11|yolo26)([a-z])", str(head).lower())
    if match is None or match.group(2) not in _family_yaml(match.group(1))["scales"]:
        raise ValueError(f"unknown head {head!r}: the bridge takes the head of one of {', '.join(available_heads())}")
    return match.group(1), match.group(2)


def _remap(source: int | list[int], mapping: dict[int, int], layer: int) -> int | list[int]:
    if isinstance(source, list):
        return [_remap(s, mapping, layer) for s in source]
    if source < 0:
        return source
    if source not in mapping:
        raise ValueError(f"head row {layer} reads backbone row {source}, which is not a P3-P5 level of the replaced backbone")
    return mapping[source]


def yolo_yaml(
    backbone: str,
    head: str = "yolov8n",
    nc: int = 80,
    out_indices: Sequence[int] = (2, 3, 4),
    **options: Any,
) -> dict[str, Any]:
    """An Ultralytics model YAML (as a dict): ``head``'s neck and Detect on ``backbone``'s three levels.

    ``options`` go to ``get_backbone`` (``pretrained=True`` or a local file, ``width_mult``, ...).
    The chosen scale is listed first under ``scales``, so a file name that names no scale builds it.
    """
    out_indices = check_arguments(backbone, out_indices, options.get("in_chans", 3), options)
    if len(out_indices) != 3 or list(out_indices) != list(range(out_indices[0], out_indices[0] + 3)):
        raise ValueError(
            f"a YOLO head takes three consecutive levels (P3-P5 is out_indices 2, 3, 4), got out_indices={list(out_indices)}"
        )
    if not isinstance(nc, int) or isinstance(nc, bool) or nc < 1:
        raise ValueError(f"nc must be a whole number of classes >= 1, got {nc!r}")
    family, scale = _parse_head(head)
    probe = get_backbone(backbone, out_indices=out_indices, **{**options, "pretrained": False})
    reference = _family_yaml(family)
    rows = reference["backbone"]
    tail = len(rows)
    while tail > 0 and rows[tail - 1][2] in P5_CONTEXT_MODULES:
        tail -= 1
    taps = sorted({s for row in reference["head"] for s in (row[0] if isinstance(row[0], list) else [row[0]])
                   if 0 <= s < tail})
    if len(taps) != 2:
        raise ValueError(f"{head}'s head reads backbone rows {taps}; the bridge needs a head that reads P3 and P4")
    pretrained = options.pop("pretrained", False)
    lite_options = {**options, "pretrained": str(pretrained) if isinstance(pretrained, Path) else pretrained}
    new_rows: list[list[Any]] = [[-1, 1, "LiteBackbone", [backbone, list(out_indices), lite_options]]]
    new_rows += [[0, 1, "Index", [channels, position]] for position, channels in enumerate(probe.channels)]
    new_rows += copy.deepcopy(rows[tail:])
    mapping = {taps[0]: 1, taps[1]: 2, tail - 1: 3}
    mapping.update({old: 4 + k for k, old in enumerate(range(tail, len(rows)))})
    shift = len(new_rows) - len(rows)
    mapping.update({len(rows) + k: len(rows) + k + shift for k in range(len(reference["head"]))})
    head_rows = [[_remap(row[0], mapping, len(rows) + k), *copy.deepcopy(row[1:])] for k, row in enumerate(reference["head"])]
    scales = {scale: reference["scales"][scale], **{k: v for k, v in reference["scales"].items() if k != scale}}
    extra = {k: v for k, v in reference.items() if k not in {"nc", "scales", "backbone", "head"}}
    return {"nc": nc, **extra, "scales": scales, "backbone": new_rows, "head": head_rows}


def format_yaml(model: dict[str, Any], comment: str = "") -> str:
    """``model`` as YAML text in Ultralytics' layout: one flow-style row per line, layer index and stride comments."""
    import yaml

    def flow(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("...\n").strip()

    lines = [f"# {line}" for line in comment.splitlines()]
    for key, value in model.items():
        if key in {"backbone", "head", "scales"}:
            continue
        lines.append(f"{key}: {flow(value)}")
    lines.append("scales: # [depth, width, max_channels]; the first is used when the file name names no scale")
    lines += [f"  {scale}: {flow(values)}" for scale, values in model["scales"].items()]
    levels = next(row[3][1] for row in model["backbone"] if row[2] == "LiteBackbone")
    index = 0
    for section in ("backbone", "head"):
        lines.append(f"{section}:")
        for row in model[section]:
            level = levels[row[3][1]] if row[2] == "Index" else None
            note = f"{index}-P{level + 1}/{2 ** (level + 1)}" if level is not None else str(index)
            lines.append(f"  - {flow(row)} # {note}")
            index += 1
    return "\n".join(lines) + "\n"


def scale_in_file_name(path: str | Path) -> str:
    """The scale letter Ultralytics reads from a model file's name (``""`` when it names none)."""
    return ultralytics_tasks.guess_model_scale(path)


def run_ultralytics(args: Sequence[str]) -> None:
    """Ultralytics' own ``yolo`` command line (train, val, predict, export, ...) with the bridge registered."""
    from ultralytics.cfg import entrypoint

    caller_argv = sys.argv[:]
    sys.argv[:] = ["yolo", *args]  # Ultralytics reads the arguments from the sys.argv list it captured on import
    try:
        entrypoint()
    finally:
        sys.argv[:] = caller_argv


register()
