"""litebone backbones as segmentation-models-pytorch encoders."""
import pytest
import segmentation_models_pytorch as smp
import torch

from backbones import get_backbone
from backbones.smp_encoder import register_smp_encoder


@pytest.mark.parametrize("arch", [smp.Unet, smp.FPN])
@pytest.mark.parametrize("name", ["mobilenetv3_small_100", "shufflenet_v2_x0_5", "squeezenet1_1", "repvit_m0_9"])
def test_unet_and_fpn_run_and_train(arch, name):
    model = arch(register_smp_encoder(name), encoder_weights=None, classes=1)
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, 1, 64, 64)
    out.mean().backward()
    assert model.encoder.backbone.body.parameters().__next__().grad is not None


def test_encoder_uses_the_same_features_as_the_backbone():
    model = smp.Unet(register_smp_encoder("mobilenetv2_050"), encoder_weights=None, classes=1).eval()
    backbone = get_backbone("mobilenetv2_050", out_indices=(0, 1, 2, 3, 4)).eval()
    backbone.load_state_dict(model.encoder.backbone.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model.encoder(x)[1:], backbone(x)):
            assert torch.equal(a, b)
    assert model.encoder.out_channels == [3, 8, 16, 16, 48, 160]


def test_non_rgb_encoder():
    model = smp.Unet(register_smp_encoder("mobilenetv2_050"), encoder_weights=None, in_channels=1, classes=1)
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 1, 64, 64)


def test_unknown_backbone_is_refused_at_registration():
    with pytest.raises(ValueError, match="unknown backbone"):
        register_smp_encoder("not_a_network")
