"""Newer efficient CNNs timm offers, curated so they are tested: MobileNetV4, RepViT, FastViT, EfficientViT, LCNet."""
from ._timm import register_timm_models

register_timm_models(
    ["mobilenetv4_conv_small", "mobilenetv4_conv_medium"],
    family="MobileNetV4",
    paper="Qin et al., MobileNetV4: Universal Models for the Mobile Ecosystem, 2024 (arXiv:2404.10518)",
)
register_timm_models(
    ["repvit_m0_9", "repvit_m1"],
    family="RepViT",
    paper="Wang et al., RepViT: Revisiting Mobile CNN From ViT Perspective, CVPR 2024 (arXiv:2307.09283)",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
register_timm_models(
    ["fastvit_t8", "fastvit_s12"],
    family="FastViT",
    paper="Vasu et al., FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization, ICCV 2023",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
register_timm_models(
    ["efficientvit_b0", "efficientvit_b1"],
    family="EfficientViT",
    paper="Cai et al., EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction, ICCV 2023",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
register_timm_models(
    ["lcnet_050", "lcnet_075", "lcnet_100"],
    family="LCNet",
    paper="Cui et al., PP-LCNet: A Lightweight CPU Convolutional Neural Network, 2021 (arXiv:2109.15099)",
)
