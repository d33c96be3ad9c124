"""Finding image files, shared by the tasks' data loaders and predict commands."""
from __future__ import annotations

from pathlib import Path

from .errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def image_files(source: str | Path) -> list[Path]:
    """One image file, or every image below a folder, sorted; a clear error when there are none."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.is_file():
        files = [source]
    else:
        raise UserError(f"source {source} does not exist; pass an image file or a folder of images")
    if not files:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {source}")
    return files
