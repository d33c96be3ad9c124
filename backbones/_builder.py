"""The one builder every backbone goes through: name -> spec -> feature body -> ``Backbone``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import timm
import torch
import torch.nn as nn
from timm.models import FeatureListNet

from ._base import Backbone, Level, levels_from_feature_info, validate_out_indices
from ._input import InputSpec, timm_input_spec
from ._registry import BACKBONES, BackboneSpec, closest_backbones, unknown_keyword_error
from ._stats import count_macs, count_params
from ._weights import load_into


WIDTH_MULT_RANGE = (0.1, 4.0)
WIDTH_ARGS = ("width_mult", "channel_multiplier")


class UnknownBackboneError(ValueError):
    """Raised for a name that is neither curated nor a timm model."""


class WeightsUnavailableError(RuntimeError):
    """Upstream pretrained weights could not be fetched (no internet, no cache); a local file is the fix."""


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_arguments(name: Any, out_indices: Any, in_chans: Any, kwargs: dict[str, Any]) -> tuple[int, ...]:
    """Type and range checks of ``get_backbone``'s arguments, each error naming the fix; returns ``out_indices``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"the backbone name must be a string such as 'mobilenetv3_large_100', got {name!r}")
    if not isinstance(out_indices, (tuple, list)) or not all(_is_int(i) for i in out_indices):
        hint = f" (one level is ({out_indices},))" if _is_int(out_indices) else ""
        raise TypeError(f"out_indices must be a tuple of level indices such as (2, 3, 4){hint}, got {out_indices!r}")
    if not _is_int(in_chans) or in_chans < 1:
        raise ValueError(f"in_chans must be an integer >= 1 (3 for RGB, 1 for grey, 4 for RGB-D), got {in_chans!r}")
    low, high = WIDTH_MULT_RANGE
    for key in WIDTH_ARGS:
        if key not in kwargs:
            continue
        value = kwargs[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{key} must be a number from {low} to {high} (1.0 is the paper's network), got {value!r}")
    return tuple(int(i) for i in out_indices)


def resolve_spec(name: str) -> BackboneSpec:
    """The curated spec for ``name``, or an on-the-fly spec for a timm model name."""
    spec = BACKBONES.find(name)
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
    close = closest_backbones(name)
    hint = f"Closest names: {', '.join(close)}. " if close else ""
    raise UnknownBackboneError(
        f"unknown backbone {name!r}. {hint}See `litebone backbones list` for the curated names; any timm model name works too."
    )


def _feature_info(spec: BackboneSpec, in_chans: int, kwargs: dict[str, Any]) -> list[dict]:
    """The family's feature_info, from a weightless probe; a keyword argument the family does not take is a ValueError."""
    try:
        with torch.device("meta"):
            if spec.wrap == "timm":
                probe = spec.factory(pretrained=False, in_chans=in_chans, features_only=True, **kwargs)
                return list(probe.feature_info.info)
            return list(spec.factory(pretrained=False, in_chans=in_chans, **kwargs).feature_info)
    except TypeError as error:
        raise unknown_keyword_error(error, kwargs, f"backbone {spec.name!r}") from None


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
    exact_sizes: bool = True,
    **kwargs: Any,
) -> Backbone:
    """Build backbone ``name`` returning levels ``out_indices`` (level i has stride 2 ** (i + 1)).

    ``pretrained`` is False, True (upstream weights via timm or torchvision) or a local
    ``.safetensors``/``.pt``/``.pth`` path. Extra ``kwargs`` go to the family factory, e.g.
    ``width_mult`` for MobileNet, ShuffleNet and GhostNet. Level ``i`` is exactly
    ``ceil(H / 2 ** (i + 1))`` high and wide; ``exact_sizes=False`` keeps the network's native sizes.
    """
    out_indices = check_arguments(name, out_indices, in_chans, kwargs)
    spec = resolve_spec(name)
    if not isinstance(pretrained, (bool, str, Path)):
        raise TypeError(f"pretrained must be False, True or a file path, got {type(pretrained).__name__}")
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
        raise WeightsUnavailableError(
            f"could not load upstream weights for {name} ({type(error).__name__}: {error}). Without internet, "
            f"download them elsewhere and pass pretrained='path/to/weights.safetensors'."
        ) from error
    if isinstance(pretrained, (str, Path)):
        load_into(body, pretrained, in_chans=in_chans, name=name, new_modules=spec.new_modules)
    return Backbone(body, levels, indices, name=name, in_chans=in_chans, frozen_stages=frozen_stages, norm_eval=norm_eval,
                    exact_sizes=exact_sizes, input_spec=input_spec_of(spec).with_channels(in_chans))


def input_spec_of(spec: BackboneSpec) -> InputSpec:
    """The input contract of ``spec``'s weights: declared by the family, else timm's ``pretrained_cfg`` of the name
    (or of the family's 1.0x variant for widths timm has no config for)."""
    return spec.input_spec or timm_input_spec(spec.name, spec.name.rsplit("_", 1)[0] + "_100")


def build_classifier(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """The full ImageNet classifier behind backbone ``name`` (what REFERENCE.md's counts describe)."""
    spec = resolve_spec(name)
    factory = spec.classifier or spec.factory
    return factory(pretrained=pretrained, in_chans=kwargs.pop("in_chans", 3), **{**spec.defaults, **kwargs})


def backbone_info(name: str, size: int = 224, **kwargs: Any) -> dict[str, Any]:
    """Family, source, paper, tap rule, levels, params/MACs of the backbone (all levels) at ``size``, and its input spec."""
    spec = resolve_spec(name)
    levels = available_levels(name, **kwargs)
    backbone = get_backbone(name, out_indices=tuple(levels), **kwargs)
    classifier = build_classifier(name, **kwargs)
    spec_in = backbone.input_spec
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
        "input": {"channels": backbone.in_chans, "mean": list(spec_in.mean), "std": list(spec_in.std),
                  "range": list(spec_in.input_range), "source": spec_in.source},
    }
