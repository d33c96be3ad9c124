"""The one builder every backbone goes through: name -> spec -> feature body -> ``Backbone``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import timm
import torch
import torch.nn as nn
from timm.models import FeatureListNet

from ._base import Backbone, Level, levels_from_feature_info, validate_out_indices
from ._registry import BackboneSpec, closest_names, curated_spec
from ._stats import count_macs, count_params
from ._weights import load_into


class UnknownBackboneError(ValueError):
    """Raised for a name that is neither curated nor a timm model."""


def resolve_spec(name: str) -> BackboneSpec:
    """The curated spec for ``name``, or an on-the-fly spec for a timm model name."""
    spec = curated_spec(name)
    if spec is not None:
        return spec
    if name in timm.list_models():
        module = timm.models.model_entrypoint(name).__module__.rsplit(".", 1)[-1]
        return BackboneSpec(
            name=name,
            family=f"timm/{module}",
            source="timm",
            paper=f"see timm's {module} model card",
            factory=lambda **kwargs: timm.create_model(name, **kwargs),
        )
    close = closest_names(name)
    hint = f"Closest names: {', '.join(close)}. " if close else ""
    raise UnknownBackboneError(
        f"unknown backbone {name!r}. {hint}See `litebone backbones list` for the curated names; any timm model name works too."
    )


def _feature_info(spec: BackboneSpec, in_chans: int, kwargs: dict[str, Any]) -> list[dict]:
    with torch.device("meta"):
        if spec.wrap == "timm":
            probe = spec.factory(pretrained=False, in_chans=in_chans, features_only=True, **kwargs)
            return list(probe.feature_info.info)
        return list(spec.factory(pretrained=False, in_chans=in_chans, **kwargs).feature_info)


def available_levels(name: str, **kwargs: Any) -> dict[int, Level]:
    """The levels ``name`` offers (index -> channels, stride, tapped module), without building weights."""
    spec = resolve_spec(name)
    in_chans = kwargs.pop("in_chans", 3)
    levels = levels_from_feature_info(_feature_info(spec, in_chans, {**spec.defaults, **kwargs}))
    if not levels:
        raise ValueError(f"{name} reports no feature levels at power-of-two strides; it cannot be a backbone")
    return levels


def _create_body(spec: BackboneSpec, feature_indices: list[int], pretrained: bool, in_chans: int, kwargs: dict) -> nn.Module:
    if spec.wrap == "timm":
        return spec.factory(
            pretrained=pretrained, in_chans=in_chans, features_only=True, out_indices=tuple(feature_indices), **kwargs
        )
    classifier = spec.factory(pretrained=pretrained, in_chans=in_chans, **kwargs)
    return FeatureListNet(classifier, out_indices=tuple(feature_indices), flatten_sequential=spec.flatten_sequential)


def get_backbone(
    name: str,
    out_indices: Sequence[int] = (2, 3, 4),
    pretrained: bool | str | Path = False,
    *,
    in_chans: int = 3,
    frozen_stages: int = -1,
    norm_eval: bool = False,
    **kwargs: Any,
) -> Backbone:
    """Build backbone ``name`` returning levels ``out_indices`` (level i has stride 2 ** (i + 1)).

    ``pretrained`` is False, True (upstream weights via timm or torchvision) or a local
    ``.safetensors``/``.pt``/``.pth`` path. Extra ``kwargs`` go to the family factory, e.g.
    ``width_mult`` for MobileNet, ShuffleNet and GhostNet.
    """
    spec = resolve_spec(name)
    if not isinstance(pretrained, (bool, str, Path)):
        raise TypeError(f"pretrained must be False, True or a file path, got {type(pretrained).__name__}")
    if in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")
    options = {**spec.defaults, **kwargs}
    levels = levels_from_feature_info(_feature_info(spec, in_chans, options))
    indices = validate_out_indices(name, out_indices, levels)
    use_upstream = pretrained is True
    try:
        body = _create_body(spec, [levels[i].feature_index for i in indices], use_upstream, in_chans, options)
    except ValueError:
        raise
    except Exception as error:
        if not use_upstream:
            raise
        raise RuntimeError(
            f"could not load upstream weights for {name} ({type(error).__name__}: {error}). Without internet, "
            f"download them elsewhere and pass pretrained='path/to/weights.safetensors'."
        ) from error
    if isinstance(pretrained, (str, Path)):
        load_into(body, pretrained, in_chans=in_chans, name=name, new_modules=spec.new_modules)
    return Backbone(body, levels, indices, name=name, in_chans=in_chans, frozen_stages=frozen_stages, norm_eval=norm_eval)


def build_classifier(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """The full ImageNet classifier behind backbone ``name`` (what REFERENCE.md's counts describe)."""
    spec = resolve_spec(name)
    factory = spec.classifier or spec.factory
    return factory(pretrained=pretrained, in_chans=kwargs.pop("in_chans", 3), **{**spec.defaults, **kwargs})


def backbone_info(name: str, size: int = 224, **kwargs: Any) -> dict[str, Any]:
    """Family, source, paper, tap rule, levels, and params/MACs of the backbone (all levels) at ``size``."""
    spec = resolve_spec(name)
    levels = available_levels(name, **kwargs)
    backbone = get_backbone(name, out_indices=tuple(levels), **kwargs)
    classifier = build_classifier(name, **kwargs)
    return {
        "name": name,
        "family": spec.family,
        "source": spec.source,
        "paper": spec.paper,
        "taps": spec.taps,
        "levels": [{"index": lv.index, "stride": lv.stride, "channels": lv.channels, "module": lv.module} for lv in levels.values()],
        "params": count_params(backbone),
        "macs": count_macs(backbone, size, in_chans=backbone.in_chans),
        "size": size,
        "classifier_params": count_params(classifier),
    }
