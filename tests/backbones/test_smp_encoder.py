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


def _tiny_encoder(name):
    return smp.encoders.get_encoder(register_smp_encoder(name), in_channels=3, encoder_weights=None).eval()


FLAG_NAMES = ["mobilenetv2_050", "squeezenet1_1", "repvit_m0_9"]


@pytest.mark.parametrize("name", FLAG_NAMES)
def test_compile_flag_is_true_to_torch_compile(name):
    """As smp's tests/encoders/base.py test_compile: fullgraph, dynamic shapes, eager backend."""
    encoder = _tiny_encoder(name)
    assert encoder._is_torch_compilable
    torch.compiler.reset()
    compiled = torch.compile(encoder, fullgraph=True, dynamic=True, backend="eager")
    sample = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(encoder(sample), compiled(sample)):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", FLAG_NAMES)
def test_export_flag_is_true_to_strict_torch_export(name):
    """As smp's test_torch_export: strict export, outputs equal to eager."""
    encoder = _tiny_encoder(name)
    assert encoder._is_torch_exportable
    sample = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(encoder, args=(sample,), strict=True)
    with torch.inference_mode():
        for a, b in zip(encoder(sample), exported.module()(sample)):
            torch.testing.assert_close(a, b)


def test_script_flag_is_true_to_torchscript():
    """As smp's test_torch_script: a non-scriptable encoder must raise RuntimeError when scripted."""
    encoder = _tiny_encoder("mobilenetv2_050")
    assert not encoder._is_torch_scriptable
    with pytest.raises(RuntimeError, match="use torch.export or torch.compile"):
        torch.jit.script(encoder)
