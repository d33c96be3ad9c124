"""Xception (the original, timm's ``legacy_xception``) and the aligned Xception-41/65/71, from timm."""
from ._timm import register_timm_models

register_timm_models(
    ["legacy_xception"],
    family="Xception",
    paper="Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR 2017 (arXiv:1610.02357)",
    taps="timm hooks: each level is the last activation at that stride, read just before the next strided block",
)
register_timm_models(
    ["xception41", "xception65", "xception71"],
    family="Xception",
    paper="Chen et al., Encoder-Decoder with Atrous Separable Convolution (aligned Xception), ECCV 2018 (arXiv:1802.02611)",
    taps="timm hooks: each level is the last activation at that stride, read just before the next strided block",
)
