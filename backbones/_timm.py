"""Helpers for families that timm implements: its factory functions, registered under curated names."""
from __future__ import annotations

from typing import Any, Callable

import timm
import torch.nn as nn

from ._registry import register_backbone


def timm_factory(model_name: str) -> Callable[..., nn.Module]:
    """A factory that builds ``model_name`` through ``timm.create_model``."""

    def factory(**kwargs: Any) -> nn.Module:
        return timm.create_model(model_name, **kwargs)

    factory.__name__ = model_name
    return factory


def register_timm_models(names: list[str], *, family: str, paper: str, taps: str | None = None) -> None:
    """Register timm model names unchanged as curated backbones of one family."""
    for model_name in names:
        register_backbone(model_name, family=family, source="timm", paper=paper, taps=taps)(timm_factory(model_name))


def width_tag(width_mult: float) -> str:
    """timm's variant suffix for a width multiplier: 0.75 -> '075'."""
    return f"{round(width_mult * 100):03d}"


def timm_variant(variant: str, pretrained: bool) -> str:
    """``variant`` when timm knows it; otherwise the family's base variant for its config.

    A width without a timm variant has no upstream weights, so asking for them is an error.
    """
    if variant in timm.list_models():
        return variant
    if pretrained:
        known = ", ".join(timm.list_models(variant.rsplit("_", 1)[0] + "_*", pretrained=True)) or "none"
        raise ValueError(
            f"no upstream weights exist for {variant}; widths with weights: {known}. "
            f"Use pretrained=False or a local weights file."
        )
    return variant.rsplit("_", 1)[0] + "_100"
