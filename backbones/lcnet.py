"""PP-LCNet 0.5x-1.0x, from timm."""
from ._timm import register_timm_models

register_timm_models(
    ["lcnet_050", "lcnet_075", "lcnet_100"],
    family="LCNet",
    paper="Cui et al., PP-LCNet: A Lightweight CPU Convolutional Neural Network, 2021 (arXiv:2109.15099)",
)
