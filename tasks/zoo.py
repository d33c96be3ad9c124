"""`litebone backbones list|info`: the backbone zoo from the shell, and its Markdown table."""
from __future__ import annotations

import warnings
from typing import Iterable

from backbones import available_levels, backbone_info, build_classifier, count_macs, count_params, list_backbones, resolve_spec


def level_channels(name: str) -> str:
    """Channels per level as 'c0/c1/c2/c3/c4', '-' where a level does not exist."""
    levels = available_levels(name)
    return "/".join(str(levels[i].channels) if i in levels else "-" for i in range(5))


def list_rows(pattern: str = "*") -> list[tuple[str, str, str, str]]:
    """(name, family, source, channels) for curated names matching ``pattern``."""
    rows = []
    for name in list_backbones(pattern):
        spec = resolve_spec(name)
        rows.append((name, spec.family, spec.source, level_channels(name)))
    return rows


def format_table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A plain aligned text table."""
    rows = [[str(c) for c in row] for row in rows]
    header = list(header)
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _numbers(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


def info_text(name: str, size: int = 224) -> str:
    """A human-readable description of one backbone."""
    info = backbone_info(name, size=size)
    lines = [
        f"{info['name']}",
        f"  family      {info['family']}",
        f"  source      {info['source']}",
        f"  paper       {info['paper']}",
        f"  taps        {info['taps']}",
        f"  params      {info['params'] / 1e6:.3f}M backbone (all levels), {info['classifier_params'] / 1e6:.3f}M ImageNet classifier",
        f"  MACs        {info['macs'] / 1e6:.1f}M at {size}x{size} (backbone, all levels)",
        f"  input       {info['input']['channels']} channels in [{info['input']['range'][0]:g}, {info['input']['range'][1]:g}], "
        f"mean {_numbers(info['input']['mean'])}, std {_numbers(info['input']['std'])} ({info['input']['source']})",
        "  levels",
    ]
    lines += [f"    {lv['index']}: stride {lv['stride']:>2}, {lv['channels']:>4} ch  ({lv['module']})" for lv in info["levels"]]
    return "\n".join(lines)


def zoo_markdown() -> str:
    """The README zoo table: name, family, classifier params, classifier MACs@224, channels per level."""
    lines = [
        "| name | family | source | params (classifier) | MACs@224 (classifier) | channels at strides 2/4/8/16/32 |",
        "|---|---|---|---|---|---|",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, family, source, channels in list_rows():
            model = build_classifier(name)
            lines.append(
                f"| `{name}` | {family} | {source} | {count_params(model) / 1e6:.3f}M | "
                f"{count_macs(model, 224) / 1e6:.1f}M | {channels} |"
            )
    return "\n".join(lines)
