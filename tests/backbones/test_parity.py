"""Same weights, same outputs: litebone against timm features_only and torchvision."""
import pytest
import timm
import torch
import torchvision

from backbones import available_levels, get_backbone, list_backbones, resolve_spec

TIMM_NAMED = [n for n in list_backbones() if resolve_spec(n).wrap == "timm" and n in timm.list_models()]
SMALL_TIMM = [n for n in TIMM_NAMED if not n.startswith(("efficientnet_b", "xception", "tf_efficientnetv2_s", "resnet50", "efficientnet_lite4"))]


@pytest.mark.parametrize("name", SMALL_TIMM)
def test_identical_to_timm_features_only(name):
    levels = available_levels(name)
    ours = get_backbone(name, out_indices=tuple(levels), exact_sizes=False).eval()
    theirs = timm.create_model(name, features_only=True, out_indices=tuple(lv.feature_index for lv in levels.values())).eval()
    theirs.load_state_dict(ours.body.state_dict())
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x)):
            assert torch.equal(a, b)


def test_ghostnet_taps_last_block_where_timm_taps_first(tmp_path):
    reference = timm.create_model("ghostnet_100").eval()
    torch.save(reference.state_dict(), tmp_path / "ghostnet.pth")
    ours = get_backbone("ghostnet_100", out_indices=(3, 4), pretrained=str(tmp_path / "ghostnet.pth"), exact_sizes=False).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        h = reference.act1(reference.bn1(reference.conv_stem(x)))
        outputs = []
        for block in reference.blocks:
            h = block(h)
            outputs.append(h)
        p4, p5 = ours(x)
    assert p4.shape[1] == 112 and torch.equal(p4, outputs[6])
    assert torch.equal(p5, outputs[8])
    assert timm.create_model("ghostnet_100", features_only=True).feature_info.channels()[3] == 80


@pytest.mark.parametrize("width", ["0_5", "1_0"])
def test_shufflenet_v2_matches_torchvision_on_its_weights(tmp_path, width):
    reference = getattr(torchvision.models, f"shufflenet_v2_x{width}")().eval()
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    ours = get_backbone(f"shufflenet_v2_x{width}", out_indices=(0, 1, 2, 3, 4), pretrained=str(path), exact_sizes=False).eval()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        c1 = reference.conv1(x)
        pool = reference.maxpool(c1)
        s2 = reference.stage2(pool)
        s3 = reference.stage3(s2)
        c5 = reference.conv5(reference.stage4(s3))
        for a, b in zip(ours(x), [c1, pool, s2, s3, c5]):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        logits = reference.fc(c5.mean([2, 3]))
        torch.testing.assert_close(logits, reference(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("version, taps", [("1_0", [1, 5, 10, 12]), ("1_1", [1, 4, 7, 12])])
def test_squeezenet_matches_torchvision_on_its_weights(tmp_path, version, taps):
    reference = getattr(torchvision.models, f"squeezenet{version}")().eval()
    path = tmp_path / "tv.safetensors"
    from safetensors.torch import save_file

    save_file(reference.state_dict(), str(path))
    ours = get_backbone(f"squeezenet{version}", out_indices=(0, 1, 2, 3, 4), pretrained=str(path), exact_sizes=False).eval()
    x = torch.randn(1, 3, 128, 128)
    expected, h = [], x
    with torch.no_grad():
        for index, layer in enumerate(reference.features):
            h = layer(h)
            if index in taps:
                expected.append(h.clone())
        features = ours(x)
    for a, b in zip(features[:4], expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert features[4].shape[1] == 512 and features[4].shape[-1] == 3  # ceil-mode 3x3/2 pool of the 7x7 level
