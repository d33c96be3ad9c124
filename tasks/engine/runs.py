"""Run directories: ``<project>/<task>/<name>``, numbered so an earlier run is never overwritten."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..files import check_folders


def new_run_dir(project: str | Path, task: str, name: str, exist_ok: bool) -> Path:
    """``<project>/<task>/<name>``, numbered (name2, name3, ...) when it exists and ``exist_ok`` is off.

    Nothing is created; a file standing where a folder must be is a ``UserError``.
    """
    base = Path(project) / task
    candidate = base / name
    number = 2
    while candidate.exists() and not exist_ok:
        candidate = base / f"{name}{number}"
        number += 1
    check_folders(candidate)
    return candidate


def run_dir_of(checkpoint: Path, config: dict[str, Any]) -> Path | None:
    """The run dir ``checkpoint`` was written in (``RUN/weights/last.pt`` whose ``RUN/config.yaml`` holds
    ``config``, the checkpoint's own), or None when it lies anywhere else."""
    if checkpoint.parent.name != "weights":
        return None
    run_dir = checkpoint.parent.parent
    try:
        saved = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return run_dir if saved == config else None
