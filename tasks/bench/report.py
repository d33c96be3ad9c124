"""The bench's outputs: a console table, CSV, Markdown with the environment, JSON, and a latency-vs-MACs plot."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from ..files import save_figure
from ..zoo import format_table
from .runner import BenchResult

PER_BATCH = (
    ("median_ms", "median ms"),
    ("p90_ms", "p90 ms"),
    ("img_s", "img/s"),
    ("peak_MB", "peak MB"),
    ("GFLOP_s", "GFLOP/s"),
    ("fused_speedup", "fused speed-up"),
)


def columns(result: BenchResult) -> list[tuple[str, str]]:
    """(row key, display header) of the table, in order."""
    keys = [("name", "backbone"), ("family", "family"), ("params_M", "params M"), ("GMACs", f"GMACs@{result.options.size}")]
    for batch in result.options.batches:
        keys += [(f"b{batch}_{key}", f"b{batch} {header}") for key, header in PER_BATCH if f"b{batch}_{key}" in result.rows[0]]
    return keys + [("channels", "channels (levels 2/3/4)"), ("strides", "strides")]


def console_table(result: BenchResult) -> str:
    """An aligned text table of the rows."""
    keys = columns(result)
    return format_table([header for _, header in keys], [[row[key] for key, _ in keys] for row in result.rows])


def setup_line(result: BenchResult) -> str:
    """One line naming what was measured on what."""
    env, options = result.environment, result.options
    hardware = env.get("gpu", env["cpu"])
    layout = ", channels_last" if options.channels_last else ""
    variant = "fused" if options.fused else "unfused"
    return (
        f"{hardware} ({env['device']}, {env['threads']} threads), torch {env['torch']}, timm {env['timm']}, {env['date']}; "
        f"{options.size}x{options.size}, {variant}{layout}, {options.warmup} warm-up calls and {options.rounds} interleaved rounds"
    )


def markdown(result: BenchResult) -> str:
    """The table as Markdown, preceded by the environment."""
    keys = columns(result)
    lines = [f"<!-- {setup_line(result)} -->", "", "| " + " | ".join(header for _, header in keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[key]) for key, _ in keys) + " |" for row in result.rows]
    if result.skipped:
        lines += ["", f"Skipped {len(result.skipped)}: " + "; ".join(f"`{n}` ({why})" for n, why in result.skipped.items())]
    return "\n".join(lines) + "\n"


def plot(result: BenchResult, path: Path) -> None:
    """Scatter of latency (first batch size) against MACs, one labelled point per backbone, families coloured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    batch = result.options.batches[0]
    families = sorted({row["family"] for row in result.rows})
    colours = plt.get_cmap("tab20")
    figure, axes = plt.subplots(figsize=(11, 7.5))
    for index, family in enumerate(families):
        members = [row for row in result.rows if row["family"] == family]
        axes.scatter([r["GMACs"] for r in members], [r[f"b{batch}_median_ms"] for r in members],
                     color=colours((2 * index) % 20 + (2 * index) // 20 % 2), label=family, s=28, zorder=3)
        for row in members:
            axes.annotate(row["name"], (row["GMACs"], row[f"b{batch}_median_ms"]), fontsize=6,
                          xytext=(3, 2), textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.margins(0.12)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(FormatStrFormatter("%g"))
    axes.set_xlabel(f"GMACs at {result.options.size}x{result.options.size} (levels 2/3/4)")
    axes.set_ylabel(f"median latency, batch {batch} (ms)")
    axes.set_title(setup_line(result), fontsize=7)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2, loc="upper left")
    figure.tight_layout()
    save_figure(figure, path, dpi=150)
    plt.close(figure)


def write_outputs(result: BenchResult, out_dir: Path) -> dict[str, Path]:
    """Write bench.csv, bench.md, bench.json and bench.png into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"bench.{kind}" for kind in ("csv", "md", "json", "png")}
    fieldnames = list(result.rows[0])
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(result.rows)
    paths["md"].write_text(markdown(result))
    paths["json"].write_text(json.dumps(
        {"environment": result.environment, "options": asdict(result.options), "rows": result.rows, "skipped": result.skipped},
        indent=2,
    ))
    plot(result, paths["png"])
    return paths
