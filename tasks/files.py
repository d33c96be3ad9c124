"""Writing files without ever losing a user's: atomic replace, refusal to overwrite, folders checked first."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Write to a hidden temporary beside ``path``, fsync, then rename over it; a crash leaves ``path`` as it was."""
    path = Path(path)
    make_dirs(path.parent)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def save_figure(figure, path: str | Path, dpi: int) -> None:
    """Write a matplotlib ``figure`` to ``path`` as PNG atomically."""
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi)


def check_folders(path: str | Path) -> Path:
    """``path`` when it and every parent are folders or absent; else an error naming the file in the way."""
    path = Path(path)
    for folder in [*reversed(path.parents), path]:
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder} is a file, but litebone needs a folder there; move the file or choose another path")
    return path


def make_dirs(path: str | Path) -> Path:
    """``mkdir -p``, with an error naming the file that stands where a folder must be."""
    check_folders(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def check_output(output: str | Path, inputs: list[str | Path], overwrite: bool) -> Path:
    """``output`` if writing it loses nothing: it is none of ``inputs`` and does not exist unless ``overwrite``."""
    output = Path(output)
    for item in inputs:
        if Path(item).exists() and output.exists() and output.resolve() == Path(item).resolve():
            raise UserError(f"output {output} is also an input; choose another --output")
    if output.is_dir():
        raise UserError(f"output {output} is a folder; give a file name such as {output / 'model.onnx'}")
    if output.exists() and not overwrite:
        raise UserError(f"{output} exists; pass --overwrite to replace it, or choose another --output")
    return output
