"""Every curated backbone honours the contract: declared channels and strides, one tensor per level."""
import pytest
import torch

from backbones import available_levels, get_backbone, list_backbones

CURATED = list_backbones()


def test_coverage_of_the_issue_table():
    expected = (
        [f"mobilenetv1_{w}" for w in ("025", "050", "075", "100")]
        + [f"mobilenetv2_{w}" for w in ("050", "075", "100", "140")]
        + ["mobilenetv3_large_075", "mobilenetv3_large_100", "mobilenetv3_small_075", "mobilenetv3_small_100"]
        + [f"shufflenet_v1_g{g}_x{s}" for g in (1, 2, 3, 4, 8) for s in ("0_5", "1_0", "1_5", "2_0")]
        + [f"shufflenet_v2_x{s}" for s in ("0_5", "1_0", "1_5", "2_0")]
        + ["squeezenet1_0", "squeezenet1_1", "mixnet_s", "mixnet_m", "mixnet_l", "mixnet_xl"]
        + [f"efficientnet_b{i}" for i in range(8)] + [f"efficientnet_lite{i}" for i in range(5)]
        + ["tf_efficientnetv2_s"] + [f"tf_efficientnetv2_b{i}" for i in range(4)]
        + ["ghostnet_050", "ghostnet_100", "ghostnet_130", "ghostnetv2_100"]
        + ["legacy_xception", "xception41", "xception65", "xception71", "resnet18", "resnet34", "resnet50"]
        + ["mobilenetv4_conv_small", "repvit_m1", "fastvit_t8", "efficientvit_b0", "lcnet_100"]
    )
    assert not set(expected) - set(CURATED)


@pytest.mark.parametrize("name", CURATED)
def test_every_curated_backbone_returns_declared_levels(name):
    levels = available_levels(name)
    indices = tuple(levels)
    backbone = get_backbone(name, out_indices=indices).eval()
    assert backbone.strides == [2 ** (i + 1) for i in indices]
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 128, 128))
    assert [f.shape[1] for f in features] == backbone.channels
    heights = [f.shape[-2] for f in features]
    assert heights == [128 // s for s in backbone.strides], "the backbone owns exact level sizes"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mobilenetv1_100", [64, 128, 256, 512, 1024]),
        ("mobilenetv2_100", [16, 24, 32, 96, 320]),
        ("mobilenetv3_large_100", [16, 24, 40, 112, 960]),
        ("mobilenetv3_small_100", [16, 16, 24, 48, 576]),
        ("efficientnet_b0", [16, 24, 40, 112, 320]),
        ("mixnet_s", [16, 24, 40, 120, 200]),
        ("ghostnet_100", [16, 24, 40, 112, 160]),
        ("shufflenet_v2_x1_0", [24, 24, 116, 232, 1024]),
        ("shufflenet_v1_g3_x1_0", [24, 24, 240, 480, 960]),
    ],
)
def test_natural_taps_match_reference(name, expected):
    assert [lv.channels for lv in available_levels(name).values()] == expected


def test_shufflenet_v2_can_tap_stage4_instead_of_conv5():
    assert get_backbone("shufflenet_v2_x1_0", conv5=False).channels == [116, 232, 464]


def test_default_is_p3_to_p5():
    backbone = get_backbone("efficientnet_b0")
    assert backbone.channels == [40, 112, 320]
    assert backbone.strides == [8, 16, 32]
    assert len(backbone(torch.randn(2, 3, 320, 320))) == 3


def test_any_timm_cnn_beyond_the_curated_list():
    backbone = get_backbone("convnext_atto", out_indices=(1, 2, 3, 4))
    assert backbone.strides == [4, 8, 16, 32]
    assert [f.shape[1] for f in backbone(torch.randn(1, 3, 64, 64))] == backbone.channels


@pytest.mark.parametrize("in_chans", [1, 4])
def test_in_chans(in_chans):
    for name in ("mobilenetv3_small_100", "shufflenet_v2_x0_5", "shufflenet_v1_g3_x0_5", "squeezenet1_1", "ghostnet_050"):
        backbone = get_backbone(name, in_chans=in_chans).eval()
        assert [f.shape[1] for f in backbone(torch.randn(1, in_chans, 64, 64))] == backbone.channels


def test_width_multiplier_argument():
    assert get_backbone("mobilenetv2_100", width_mult=0.5).channels == get_backbone("mobilenetv2_050").channels
    assert get_backbone("ghostnet_100", width_mult=0.5).channels == get_backbone("ghostnet_050").channels
    assert get_backbone("shufflenet_v1_g3_x1_0", width_mult=2.0).channels == [480, 960, 1920]


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1", "legacy_xception", "mobilenetv2_100", "shufflenet_v2_x0_5"])
def test_every_level_is_ceil_sized_and_the_switch_gives_native_sizes(name):
    x = torch.randn(1, 3, 100, 130)
    exact = get_backbone(name, out_indices=(2, 3, 4)).eval()
    native = get_backbone(name, out_indices=(2, 3, 4), exact_sizes=False).eval()
    native.load_state_dict(exact.state_dict())
    with torch.no_grad():
        exact_levels, native_levels = exact(x), native(x)
    assert [tuple(f.shape[-2:]) for f in exact_levels] == [(13, 17), (7, 9), (4, 5)]
    for a, b in zip(exact_levels, native_levels):
        if a.shape == b.shape:
            assert torch.equal(a, b), "levels already at the exact size pass through untouched"
    if name.startswith("squeezenet1_0"):
        assert [tuple(f.shape[-2:]) for f in native_levels] == [(11, 15), (5, 7), (2, 3)]


def test_odd_input_sizes_give_ceil_sized_levels():
    backbone = get_backbone("mobilenetv2_100").eval()
    features = backbone(torch.randn(1, 3, 100, 130))
    assert [tuple(f.shape[-2:]) for f in features] == [(13, 17), (7, 9), (4, 5)]


def test_register_backbone_adds_a_user_network():
    import torch.nn as nn

    from backbones import register_backbone

    class Tiny(nn.Module):
        def __init__(self, in_chans=3):
            super().__init__()
            self.stem = nn.Conv2d(in_chans, 8, 3, 2, 1)
            self.down = nn.Conv2d(8, 16, 3, 2, 1)
            self.feature_info = [
                {"num_chs": 8, "reduction": 2, "module": "stem"},
                {"num_chs": 16, "reduction": 4, "module": "down"},
            ]

        def forward(self, x):
            return self.down(self.stem(x))

    @register_backbone("user_tiny_test", family="User", source="native", paper="-", wrap="list", flatten_sequential=False)
    def user_tiny(pretrained=False, in_chans=3):
        return Tiny(in_chans)

    from backbones import BACKBONES

    try:
        backbone = get_backbone("user_tiny_test", out_indices=(0, 1))
        assert backbone.channels == [8, 16]
        assert [f.shape[-1] for f in backbone(torch.randn(1, 3, 32, 32))] == [16, 8]
        assert "user_tiny_test" in list_backbones("user_*")
    finally:
        BACKBONES.remove("user_tiny_test")
