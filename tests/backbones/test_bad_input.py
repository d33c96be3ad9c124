"""Bad input gets an error that names the problem and the fix."""
import pytest
import torch

from backbones import UnknownBackboneError, get_backbone


def test_unknown_name_lists_closest_names():
    with pytest.raises(UnknownBackboneError, match="Closest names: .*mobilenetv2_100"):
        get_backbone("mobilenet_v2_100")


@pytest.mark.parametrize("out_indices, problem", [((), "empty"), ((2, 5), "does not have"), ((3, 3), "duplicates"), ((4, 2), "increasing")])
def test_bad_out_indices_list_the_valid_levels(out_indices, problem):
    with pytest.raises(ValueError, match=rf"{problem}.*Valid levels of efficientnet_b0: 0 \(stride 2, 16 ch\).*4 \(stride 32, 320 ch\)"):
        get_backbone("efficientnet_b0", out_indices=out_indices)


def test_level_zero_of_a_stride4_network_is_refused():
    with pytest.raises(ValueError, match=r"levels \[0\].*1 \(stride 4, 48 ch\)"):
        get_backbone("repvit_m1", out_indices=(0, 1))


def test_wrong_input_channels_say_what_was_expected():
    backbone = get_backbone("mobilenetv2_050")
    with pytest.raises(ValueError, match="expects NCHW input with 3 channels, got shape \\(1, 1, 64, 64\\).*in_chans=1"):
        backbone(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="NCHW"):
        backbone(torch.randn(3, 64, 64))


def test_bad_pretrained_type_and_in_chans():
    with pytest.raises(TypeError, match="pretrained must be"):
        get_backbone("mobilenetv2_050", pretrained=1.0)
    with pytest.raises(ValueError, match="in_chans must be >= 1"):
        get_backbone("mobilenetv2_050", in_chans=0)


def test_bad_family_options():
    with pytest.raises(ValueError, match="width_mult must be one of"):
        get_backbone("shufflenet_v2_x1_0", width_mult=0.75)
    with pytest.raises(ValueError, match="groups must be one of"):
        get_backbone("shufflenet_v1_g3_x1_0", groups=5)
