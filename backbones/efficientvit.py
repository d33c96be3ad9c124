"""EfficientViT (MIT, multi-scale linear attention), from timm; it starts at stride 4."""
from ._timm import register_timm_models

register_timm_models(
    ["efficientvit_b0", "efficientvit_b1"],
    family="EfficientViT",
    paper="Cai et al., EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction, ICCV 2023",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
