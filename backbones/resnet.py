"""ResNet-18/34/50 (ResNet-50 is v1.5: stride on the 3x3 conv), from timm."""
from ._timm import register_timm_models

register_timm_models(
    ["resnet18", "resnet34", "resnet50"],
    family="ResNet",
    paper="He et al., Deep Residual Learning for Image Recognition, CVPR 2016 (arXiv:1512.03385)",
    taps="stride 2 is the stem activation, then the output of layer1..layer4",
)
