"""MobileNetV4 (conv small and medium), from timm."""
from ._timm import register_timm_models

register_timm_models(
    ["mobilenetv4_conv_small", "mobilenetv4_conv_medium"],
    family="MobileNetV4",
    paper="Qin et al., MobileNetV4: Universal Models for the Mobile Ecosystem, 2024 (arXiv:2404.10518)",
)
