"""Detector.fuse() and DepthModel.fuse(): the whole model folded for inference, equal to the eval-mode model."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tasks.depth.model import DepthModel
from tasks.detect.model import Detector


def _trained_statistics(model):
    """BatchNorm statistics that are not the identity, as a trained model has, so folding is really tested."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
    return model.eval()


@pytest.mark.parametrize("backbone, neck, kwargs", [
    ("mobilenetv3_small_075", "ghostpan", {"channels": 32}),
    ("mobilenetv3_small_075", "ghostpan", {"channels": 32, "extra_level": True}),
    ("shufflenet_v2_x0_5", "pan", {"width": 0.25, "depth": 0.33}),
    ("shufflenet_v2_x0_5", "pan", {"width": 0.25, "extra_level": True}),
    ("repvit_m0_9", "ghostpan", {"channels": 32}),
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_detector_equals_the_unfused_one(backbone, neck, kwargs, channels_last):
    model = _trained_statistics(Detector(backbone, num_classes=3, neck=neck, neck_kwargs=kwargs, head_kwargs={"depthwise": True}))
    fused = model.fuse(96, channels_last=channels_last)
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules()), "every BatchNorm of backbone, neck and head is folded"
    images = torch.randint(0, 256, (2, 3, 96, 96)).float()
    with torch.no_grad():
        for a, b in zip(model(images), fused(images)):
            torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
        for a, b in zip(model.detect(images, conf=0.0, max_det=20), fused.detect(images, conf=0.0, max_det=20)):
            torch.testing.assert_close(b[:, 4], a[:, 4], atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match="inference-only"):
        fused.train()


@pytest.mark.parametrize("decoder, decoder_kwargs", [("fastdepth", {}), ("unet", {}), ("unet", {"decoder_channels": [32, 16, 16, 8]}),
                                                     ("fpn", {}), ("fusion", {})])
def test_fused_depth_model_equals_the_unfused_one(decoder, decoder_kwargs):
    model = _trained_statistics(DepthModel("mobilenetv2_050", decoder=decoder, decoder_kwargs=decoder_kwargs))
    fused = model.fuse((64, 96))
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    images = torch.randint(0, 256, (2, 3, 64, 96)).float()
    with torch.no_grad():
        torch.testing.assert_close(fused(images), model(images), atol=1e-4, rtol=1e-4)


def test_fusing_leaves_the_trained_model_untouched():
    model = _trained_statistics(Detector("mobilenetv3_small_075", num_classes=2, neck_kwargs={"channels": 32}))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.fuse(64)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.train()
