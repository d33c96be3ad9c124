"""results.csv and results.png: one row and one point per epoch for every loss and metric."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..files import atomic_open, save_figure  # noqa: E402


def read_rows(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def write_rows(path: Path, rows: list[dict[str, float]]) -> None:
    """Rewrite the CSV with the union of columns, ``epoch`` first."""
    columns = ["epoch"] + sorted({k for row in rows for k in row} - {"epoch"})
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def plot_rows(rows: list[dict[str, float]], path: Path) -> None:
    """One small panel per column against epoch, written atomically; a row without a column (an epoch not validated)
    leaves a gap."""
    columns = [c for c in dict.fromkeys(k for row in rows for k in row) if c != "epoch"]
    if not columns:
        return
    cols = min(4, len(columns))
    lines = math.ceil(len(columns) / cols)
    figure, axes = plt.subplots(lines, cols, figsize=(3.2 * cols, 2.5 * lines), squeeze=False)
    epochs = [row["epoch"] for row in rows]
    for axis, column in zip(axes.flat, columns):
        axis.plot(epochs, [row.get(column, float("nan")) for row in rows], marker=".", linewidth=1.2)
        axis.set_title(column, fontsize=9)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(columns):]:
        axis.axis("off")
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)
