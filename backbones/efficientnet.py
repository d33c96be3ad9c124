"""EfficientNet B0-B7, EfficientNet-Lite0-4 and EfficientNetV2 (S, B0-B3), all from timm."""
from ._timm import register_timm_models

register_timm_models(
    [f"efficientnet_b{i}" for i in range(8)],
    family="EfficientNet",
    paper="Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs, ICML 2019 (arXiv:1905.11946)",
)
register_timm_models(
    [f"efficientnet_lite{i}" for i in range(5)],
    family="EfficientNet-Lite",
    paper="Tan & Le 2019, Lite variants: no SE, ReLU6, fixed stem/head (TensorFlow TPU models repo)",
)
register_timm_models(
    ["tf_efficientnetv2_s"] + [f"tf_efficientnetv2_b{i}" for i in range(4)],
    family="EfficientNetV2",
    paper="Tan & Le, EfficientNetV2: Smaller Models and Faster Training, ICML 2021 (arXiv:2104.00298)",
)
