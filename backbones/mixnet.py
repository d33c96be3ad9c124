"""MixNet S/M/L/XL (mixed depthwise convolution, MDConv), from timm."""
from ._timm import register_timm_models

register_timm_models(
    ["mixnet_s", "mixnet_m", "mixnet_l", "mixnet_xl"],
    family="MixNet",
    paper="Tan & Le, MixConv: Mixed Depthwise Convolutional Kernels, BMVC 2019 (arXiv:1907.09595)",
)
