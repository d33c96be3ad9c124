"""Load local weight files into a backbone body.

Accepts ``.safetensors``, ``.pt`` and ``.pth``: a full classifier checkpoint of the same network
(its head keys are ignored) or a state dict saved from a litebone backbone. Checkpoints are read
with ``torch.load(weights_only=True)``. Written here because neither timm nor torchvision loads a
classifier checkpoint into a feature-only body with flattened module names.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn
from timm.models import adapt_input_conv

_WRAPPER_KEYS = ("state_dict", "model", "model_ema", "state_dict_ema", "ema", "module")
_PREFIXES = ("module.", "backbone.", "body.", "model.", "encoder.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from a safetensors or torch file, unwrapping common checkpoint layouts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass pretrained=False, True, or an existing file")
    if path.suffix == ".safetensors":
        return read_safetensors(path)[0]
    if path.suffix not in (".pt", ".pth", ".bin", ".ckpt"):
        raise ValueError(f"unsupported weights format {path.suffix!r}; use .safetensors, .pt or .pth")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle.UnpicklingError, a torn zip, a text file: the unpickler raises many kinds
        raise ValueError(
            f"{path} is not a plain tensor checkpoint and was refused by the weights-only loader "
            f"({describe_unreadable(path, error)}). Re-save it as a state dict or convert it to .safetensors."
        ) from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return obj


def content_problem(path: str | Path) -> str | None:
    """What is plainly wrong with a weights file's content (empty, a Git LFS pointer, text), or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as error:
        return str(error)
    if not head:
        return "the file is empty"
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the weights; fetch them with `git lfs pull`"
    if b"\0" not in head and all(byte >= 9 for byte in head):
        return "it is a text file, not weights"
    return None


def describe_unreadable(path: str | Path, error: BaseException) -> str:
    """Why a weights file could not be read: its content problem, else the reader's error in one line."""
    first_line = (str(error).strip().splitlines() or [""])[0][:160]
    return content_problem(path) or f"{type(error).__name__}: {first_line}"


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; ``ValueError`` naming the file when it cannot be read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own SafetensorError, OSError or ValueError
        raise ValueError(f"{path} is not a readable safetensors file ({describe_unreadable(path, error)})") from None
    return tensors, metadata


def _translate(key: str, targets: set[str]) -> str | None:
    """Map a file key onto a body key: strip wrapper prefixes, undo timm's sequential flattening."""
    candidates = [key]
    stripped = key
    for prefix in _PREFIXES:
        if stripped.startswith(prefix):
            stripped = stripped[len(prefix):]
            candidates.append(stripped)
    for candidate in list(candidates):
        first, _, rest = candidate.partition(".")
        if rest:
            candidates.append(f"{first}_{rest}")
    return next((c for c in candidates if c in targets), None)


def load_into(
    body: nn.Module, path: str | Path, in_chans: int = 3, name: str = "backbone", new_modules: tuple[str, ...] = ()
) -> int:
    """Load ``path`` into ``body``; return how many file tensors were ignored as classifier-head keys.

    Keys under ``new_modules`` (layers litebone adds to a network) may be absent from the file;
    they keep their initialisation and a warning says so.

    Raises ``ValueError`` naming the missing, unexpected and mis-shaped keys when the file
    belongs to another network.
    """
    source = read_state_dict(path)
    target = body.state_dict()
    matched: dict[str, torch.Tensor] = {}
    unmatched: list[str] = []
    for key, tensor in source.items():
        body_key = _translate(key, set(target))
        if body_key is None:
            unmatched.append(key)
        else:
            matched[body_key] = tensor
    missing = [k for k in target if k not in matched and not k.endswith("num_batches_tracked")]
    fresh = [k for k in missing if k.replace("_", ".").startswith(tuple(m + "." for m in new_modules))]
    missing = [k for k in missing if k not in fresh]
    if fresh:
        warnings.warn(f"{path} has no weights for {name}'s added modules {list(new_modules)}; they stay randomly initialised")
    mis_shaped = []
    for key, tensor in matched.items():
        want = target[key].shape
        if tensor.shape == want:
            continue
        if tensor.ndim == 4 and tensor.shape[0] == want[0] and tensor.shape[2:] == want[2:] and want[1] == in_chans:
            matched[key] = adapt_input_conv(in_chans, tensor.float()).to(tensor.dtype)
        else:
            mis_shaped.append(f"{key}: file {tuple(tensor.shape)} vs model {tuple(want)}")
    if missing or mis_shaped:
        raise ValueError(
            f"{path} does not match {name}: {len(missing)} missing keys {_sample(missing)}, "
            f"{len(unmatched)} unexpected keys {_sample(unmatched)}, {len(mis_shaped)} with another shape "
            f"{_sample(mis_shaped)}. Check that the file was saved from {name} (same width and variant)."
        )
    body.load_state_dict(matched, strict=False)
    return len(unmatched)


def _sample(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}]"


def with_in_chans(conv: nn.Conv2d, in_chans: int) -> nn.Conv2d:
    """A copy of the first conv taking ``in_chans`` inputs, its weights adapted as timm does."""
    if conv.in_channels == in_chans:
        return conv
    new = nn.Conv2d(
        in_chans, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, conv.groups, conv.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(adapt_input_conv(in_chans, conv.weight.detach().float()))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new
