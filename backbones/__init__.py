"""litebone backbones: lightweight CNNs as multi-scale feature extractors.

``get_backbone(name, out_indices=(2, 3, 4))`` returns a ``Backbone`` whose forward gives one NCHW
tensor per level; level ``i`` has stride ``2 ** (i + 1)``.
"""
from . import efficientnet, efficientvit, fastvit, ghostnet, lcnet, mixnet, mobilenet_v1, mobilenet_v2, mobilenet_v3  # noqa: F401
from . import mobilenet_v4, repvit, resnet, shufflenet_v1, shufflenet_v2, squeezenet, xception  # noqa: F401
from ._base import Backbone, Level, align_to_strides
from ._input import ImageNormalize, InputSpec
from ._builder import (
    WIDTH_MULT_RANGE,
    UnknownBackboneError,
    WeightsUnavailableError,
    available_levels,
    backbone_info,
    build_classifier,
    get_backbone,
    resolve_spec,
)
from ._registry import BACKBONES, BackboneSpec, Registry, closest_names, list_backbones, register_backbone
from ._stats import count_macs, count_params
from ._weights import content_problem, describe_unreadable, read_safetensors

__all__ = [
    "BACKBONES",
    "Backbone",
    "ImageNormalize",
    "InputSpec",
    "BackboneSpec",
    "Level",
    "Registry",
    "UnknownBackboneError",
    "WIDTH_MULT_RANGE",
    "WeightsUnavailableError",
    "align_to_strides",
    "available_levels",
    "backbone_info",
    "build_classifier",
    "closest_names",
    "content_problem",
    "count_macs",
    "count_params",
    "describe_unreadable",
    "get_backbone",
    "list_backbones",
    "read_safetensors",
    "register_backbone",
    "resolve_spec",
]
