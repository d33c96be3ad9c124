"""YAML recipes -> typed dataclass configs, with ``extends:``, dotted overrides and helpful errors."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from backbones import closest_names

from .errors import UserError

T = TypeVar("T")


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = closest_names(key, valid, limit=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"{hint} Valid keys: {', '.join(sorted(valid))}."


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a field annotation, converting where YAML/CLI strings allow it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except UserError as error:
                errors.append(str(error))
        raise UserError(f"{where}: {value!r} is not a valid {_type_name(annotation)}")
    if origin is typing.Literal:
        value = next((option for option in args if isinstance(option, str) and yaml.safe_load(option) == value and not isinstance(value, str)), value)
        if value not in args:
            raise UserError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.strip("[]()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v.strip() if isinstance(v, str) else v, item, where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping of {annotation.__name__} keys, got {value!r}")
        return from_dict(annotation, value, where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off", "y", "n"):
            return value.lower() in ("true", "1", "yes", "on", "y")
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()):
            return int(value)
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise UserError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{where}: expected a string, got {value!r}")
    return value


def ranged(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None) -> Any:
    """A dataclass field whose value ``from_dict`` checks against the bounds (``ge`` means >=, ``gt`` >, ...)."""
    return dataclasses.field(default=default, metadata={"bounds": {"ge": ge, "gt": gt, "le": le, "lt": lt}})


_BOUND_CHECKS = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"), "le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<")}


def _check_bounds(value: Any, bounds: dict[str, float | None], where: str) -> None:
    if value is None or not bounds:
        return
    wanted = " and ".join(f"{_BOUND_CHECKS[k][1]} {b}" for k, b in bounds.items() if b is not None)
    if not math.isfinite(value) or not all(_BOUND_CHECKS[k][0](value, b) for k, b in bounds.items() if b is not None):
        raise UserError(f"{where} must be {wanted}, got {value!r}")


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def from_dict(cls: type[T], data: dict[str, Any], where: str = "", base: T | None = None) -> T:
    """``base`` (default: ``cls()``) with the keys in ``data`` replaced, nested sections merged.

    Unknown keys and wrong types raise ``UserError`` naming the key.
    """
    base = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise UserError(f"unknown config key '{path}'.{_suggest(key, names)}")
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            kwargs[key] = from_dict(hints[key], value, path, base=getattr(base, key))
        else:
            kwargs[key] = _coerce(value, hints[key], path)
            _check_bounds(kwargs[key], fields[key].metadata.get("bounds", {}), path)
    return dataclasses.replace(base, **kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A plain dict (tuples as lists) suitable for YAML."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping in YAML file ``path`` (``what`` names it in errors: 'config file', 'data file')."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist" + ("" if not path.exists() else " as a file (it is a folder)"))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise UserError(f"{what} {path} is not valid YAML: {' '.join(str(error).split())}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must hold a mapping of keys (key: value lines), not a {type(data).__name__}")
    return data


def read_recipe(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML recipe, resolving ``extends:`` (relative to the file) recursively."""
    path = Path(path)
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise UserError(f"config file {path} extends itself through a cycle ({chain}); remove one 'extends:'")
    data = read_yaml_mapping(path, "config file")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise UserError(f"{path}: extends must be one file name, e.g. extends: detect.yaml, got {parent!r}")
    base = read_recipe((path.parent / parent) if not Path(parent).is_absolute() else Path(parent), (*seen, path.resolve()))
    return merge(base, data)


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["train.epochs=5", "model.backbone=ghostnet_100"]`` -> nested dict (values parsed as YAML)."""
    nested: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"override {item!r} must look like section.key=value, e.g. train.epochs=5")
        dotted, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw else ""
        if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
            value = raw

        node = nested
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Defaults of ``cls``, then the recipe at ``path``, then dotted ``overrides``."""
    data = read_recipe(path) if path else {}
    return from_dict(cls, merge(data, parse_overrides(overrides)))
