"""Reading and finding images, shared by both tasks' scans, data loaders and predict commands.

One reader serves the scan, training, validation and prediction, so an image that passes the
scan is exactly what training sees. It applies EXIF orientation (phone photos store rotated
pixels plus a tag; labels describe the upright picture) and refuses truncated files and pixel
formats it cannot turn into 8-bit RGB.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserError
from .files import atomic_open

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
_EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


class ImageReadError(UserError):
    """An image file that cannot be used; ``reason`` is the plural phrase a scan report counts it under."""

    def __init__(self, path: str | Path, reason: str, detail: str) -> None:
        super().__init__(f"cannot use image {path}: {detail}")
        self.reason = reason


CHANNEL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def read_image(path: str | Path, channels: int = 3) -> np.ndarray:
    """uint8 (H, W, channels), upright by its EXIF orientation; ``ImageReadError`` when unusable.

    ``channels`` 3 reads any 8-bit image as RGB and 1 as grey; 4 (RGB-D, RGB-IR) needs a file that
    holds four channels (PNG, TIFF or WebP with a fourth, alpha, channel).
    """
    if channels not in CHANNEL_MODES:
        raise UserError(f"litebone reads images with 1, 3 or 4 channels, not {channels}; set model.in_chans to 1, 3 or 4")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in _EIGHT_BIT_MODES:
                raise ImageReadError(path, "images in a pixel format other than 8-bit", f"mode {image.mode}; save it as 8-bit")
            if channels == 4 and image.mode not in ("RGBA", "RGBX", "PA", "LA"):
                raise ImageReadError(path, "images without the 4 channels the model takes",
                                     f"mode {image.mode} has {len(image.getbands())} channels; save 4-channel images as PNG or TIFF")
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert(CHANNEL_MODES[channels])).reshape(upright.height, upright.width, channels)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "missing images", "the file does not exist") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "unreadable images", "not an image file") from None
    except ImportError as error:  # a plugin loader patched into PIL.Image.open (Ultralytics' HEIF one) failed on it
        raise ImageReadError(path, "unreadable images", f"not an image file PIL knows ({error})") from None
    except OSError as error:
        reason = "truncated images" if "truncated" in str(error).lower() else "unreadable images"
        raise ImageReadError(path, reason, str(error)) from None
    except (ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageReadError(path, "unreadable images", str(error)) from None


def to_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) uint8 image as RGB for drawing and previews: grey repeated, a fourth channel dropped."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else np.ascontiguousarray(image[..., :3])


def find_images(folder: Path) -> list[Path]:
    """Every image file below ``folder`` (by suffix, any case), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def image_files(source: str | Path) -> list[Path]:
    """One image file, or every image below a folder, sorted; a clear error when there are none."""
    source = Path(source)
    if source.is_dir():
        files = find_images(source)
    elif source.is_file():
        files = [source]
    else:
        raise UserError(f"source {source} does not exist; pass an image file or a folder of images")
    if not files:
        raise UserError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {source}")
    return files


def output_stems(files: list[Path], source: str | Path) -> list[Path]:
    """A distinct output name per input: its path below ``source`` without suffix, plus the suffix on a clash.

    ``a/img.jpg``, ``b/img.jpg`` and ``img.png`` give ``a/img``, ``b/img`` and ``img``; ``x.jpg``
    beside ``x.png`` gives ``x_jpg`` and ``x_png``.
    """
    root = Path(source) if Path(source).is_dir() else Path(source).parent
    stems = [path.relative_to(root).with_suffix("") for path in files]
    counts = Counter(stems)
    return [stem.with_name(f"{stem.name}_{path.suffix.lstrip('.').lower()}") if counts[stem] > 1 else stem
            for stem, path in zip(stems, files)]


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB (H, W, 3) or single-channel image atomically, in the format its suffix names."""
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, encoded = cv2.imencode(Path(path).suffix, pixels)
    if not ok:
        raise UserError(f"cannot encode an image as {Path(path).suffix}: {path}")
    with atomic_open(path, "wb") as handle:
        handle.write(encoded.tobytes())


@dataclass
class ScanReport:
    """What one split's scan found: usable items, and each problem counted with the first file it hit."""

    split: str
    unit: str = "images"
    count: int = 0
    problems: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, problem: str, path: str | Path, count: int = 1) -> None:
        """Count ``problem`` (e.g. 'truncated images (skipped)'), remembering the first file it names."""
        self.problems[problem] += count
        self.examples.setdefault(problem, str(path))

    def summary(self) -> str:
        found = ", ".join(f"{n} {what}" + (f" (e.g. {self.examples[what]})" if what in self.examples else "")
                          for what, n in sorted(self.problems.items())) or "no problems"
        return f"{self.split}: {self.count} {self.unit}; {found}"
