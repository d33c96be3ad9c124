"""FastViT (re-parameterisable hybrid), from timm; it starts at stride 4."""
from ._timm import register_timm_models

register_timm_models(
    ["fastvit_t8", "fastvit_s12"],
    family="FastViT",
    paper="Vasu et al., FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization, ICCV 2023",
    taps="timm stages; the network starts at stride 4, so level 0 does not exist",
)
