"""Training runs that benchmarks share: train once through the CLI, reuse a finished run, refuse a partial one."""
from __future__ import annotations

from pathlib import Path

from tasks.cli import main as litebone
from tasks.engine.results import read_rows


def finished(run: Path, epochs: int) -> bool:
    """Whether the run folder ``run`` (litebone's or Ultralytics') holds best.pt and one results row per epoch."""
    results = run / "results.csv"
    return (run / "weights" / "best.pt").is_file() and results.is_file() and len(results.read_text().strip().splitlines()) == epochs + 1


def train(task: str, out: Path, name: str, epochs: int, args: list[str]) -> Path:
    """``litebone train task *args`` as run ``out/task/name`` for ``epochs``; returns its best.pt.

    A run that already finished its epochs is reused; a partial one (a killed benchmark) is an
    error naming the folder to delete.
    """
    run = out / task / name
    if run.exists() and not finished(run, epochs):
        rows = read_rows(run / "results.csv")
        raise SystemExit(f"{run} holds an unfinished run ({int(rows[-1]['epoch']) if rows else 0} of {epochs} epochs); "
                         f"delete it to train it again")
    if not run.exists():
        code = litebone(["train", task, *args, f"train.epochs={epochs}", "eval.samples=0", f"run.project={out}",
                         f"run.name={name}", "run.exist_ok=true"])
        if code != 0:
            raise SystemExit(f"{task} run {name} failed with exit status {code}")
    return run / "weights" / "best.pt"
