"""RepViT (re-parameterisable mobile CNN), from timm; it starts at stride 4."""
from ._timm import register_timm_models

register_timm_models(
    ["repvit_m0_9", "repvit_m1"],
    family="RepViT",
    paper="Wang et al., RepViT: Revisiting Mobile CNN From ViT Perspective, CVPR 2024 (arXiv:2307.09283)",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
