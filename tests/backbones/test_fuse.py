"""Backbone.fuse(): outputs equal the unfused backbone in eval mode, for every curated backbone."""
import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from backbones import available_levels, get_backbone, list_backbones
from backbones._fuse import fuse_model


def _realistic_norms(model: nn.Module) -> None:
    """Non-trivial running statistics and affine terms, so that folding is actually exercised.

    Scales stay below one so that deep random networks do not amplify float32 rounding.
    """
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            nn.init.uniform_(module.running_var, 0.5, 2.0)
            nn.init.normal_(module.running_mean, 0.0, 0.1)
            if module.affine:
                nn.init.uniform_(module.weight, 0.2, 0.6)
                nn.init.normal_(module.bias, 0.0, 0.05)


@pytest.mark.parametrize("name", list_backbones())
def test_fused_equals_unfused_within_1e4(name):
    backbone = get_backbone(name, out_indices=tuple(available_levels(name)))
    _realistic_norms(backbone)
    backbone.eval()
    norms_before = sum(isinstance(m, _BatchNorm) for m in backbone.modules())
    fused = backbone.fuse()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, actual = backbone(x), fused(x)
    assert fused.channels == backbone.channels and fused.strides == backbone.strides
    for reference, output in zip(expected, actual):
        assert reference.abs().max() > 1e-2, "outputs too small for the comparison to mean anything"
        torch.testing.assert_close(output, reference, rtol=0, atol=1e-4)
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules()), "a BatchNorm was left unfolded"
    assert sum(isinstance(m, _BatchNorm) for m in backbone.modules()) == norms_before, "fuse() changed the original"


@pytest.mark.parametrize("name", ["mobilenetv3_small_075", "repvit_m0_9", "mixnet_s"])
def test_fused_channels_last_matches_and_stores_nhwc(name):
    backbone = get_backbone(name)
    _realistic_norms(backbone)
    backbone.eval()
    fused = backbone.fuse(channels_last=True)
    convs = [m for m in fused.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        for reference, output in zip(backbone(x), fused(x)):
            torch.testing.assert_close(output, reference, rtol=0, atol=1e-4)


def test_repvit_branches_are_merged():
    backbone = get_backbone("repvit_m0_9").eval()
    before = sum(1 for _ in backbone.modules())
    fused = backbone.fuse()
    assert sum(1 for _ in fused.modules()) < before
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())


def test_fused_backbone_refuses_training_and_has_no_gradients():
    fused = get_backbone("mobilenetv3_small_075").eval().fuse()
    assert not any(p.requires_grad for p in fused.parameters())
    with pytest.raises(RuntimeError, match="inference-only.*fuse\\(\\) afterwards"):
        fused.train()


class _PreNormResidual(nn.Module):
    """conv -> bn, but the conv output is also read by a residual add: folding would change the sum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.tail = nn.Conv2d(4, 4, 1, bias=False)
        self.tail_bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.tail_bn(self.tail(self.bn(y) + y))


def test_conv_output_read_elsewhere_is_not_folded():
    model = _PreNormResidual()
    _realistic_norms(model)
    model.eval()
    fused, folded = fuse_model(model, torch.zeros(1, 4, 8, 8))
    assert folded == 1
    assert isinstance(fused.bn, nn.BatchNorm2d) and isinstance(fused.tail_bn, nn.Identity)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=0, atol=1e-5)
