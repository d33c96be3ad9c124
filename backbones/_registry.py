"""Backbone registry: a decorator that records each network's factory and metadata, as in timm."""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class BackboneSpec:
    """What the builder needs to know about one curated backbone name.

    ``factory(pretrained=bool, in_chans=int, **kwargs)`` returns the full classifier. With
    ``wrap="timm"`` the factory also accepts timm's ``features_only``/``out_indices``; with
    ``wrap="list"`` it returns a module carrying ``feature_info`` that timm's ``FeatureListNet``
    wraps (``flatten_sequential`` as given). ``classifier``, when set, builds the full classifier
    where it differs from what ``factory`` returns. ``new_modules`` name modules litebone adds,
    which upstream checkpoints cannot hold.
    """

    name: str
    family: str
    source: str
    paper: str
    factory: Factory
    defaults: dict[str, Any] = field(default_factory=dict)
    wrap: str = "timm"
    flatten_sequential: bool = True
    taps: str = "the last block at each stride, as timm's features_only reports it"
    classifier: Factory | None = None
    new_modules: tuple[str, ...] = ()


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str,
    *,
    family: str,
    source: str,
    paper: str,
    defaults: dict[str, Any] | None = None,
    wrap: str = "timm",
    flatten_sequential: bool = True,
    taps: str | None = None,
    classifier: Factory | None = None,
    new_modules: tuple[str, ...] = (),
) -> Callable[[Factory], Factory]:
    """Register ``factory`` under ``name``; use as a decorator or call it on an existing factory."""
    if wrap not in ("timm", "list"):
        raise ValueError(f"wrap must be 'timm' or 'list', got {wrap!r}")

    def decorator(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is already registered ({_REGISTRY[name].family})")
        _REGISTRY[name] = BackboneSpec(
            name=name,
            family=family,
            source=source,
            paper=paper,
            factory=factory,
            defaults=dict(defaults or {}),
            wrap=wrap,
            flatten_sequential=flatten_sequential,
            taps=taps or BackboneSpec.taps,
            classifier=classifier,
            new_modules=new_modules,
        )
        return factory

    return decorator


def list_backbones(pattern: str = "*", include_timm: bool = False) -> list[str]:
    """Curated names matching a shell-style ``pattern``; ``include_timm`` adds every timm CNN name."""
    names = set(_REGISTRY)
    if include_timm:
        import timm

        names |= set(timm.list_models())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"))


def curated_spec(name: str) -> BackboneSpec | None:
    """The registered spec for ``name``, or None."""
    return _REGISTRY.get(name)


def closest_names(name: str, limit: int = 5) -> list[str]:
    """Registered or timm names that look like ``name``, best first."""
    import timm

    pool = list(_REGISTRY) + [n for n in timm.list_models() if n not in _REGISTRY]
    close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.5)
    return close or [n for n in pool if name.split("_")[0] in n][:limit]
