"""Bad input gets an error that names the problem and the fix."""
import pytest
import torch

from backbones import WIDTH_MULT_RANGE, UnknownBackboneError, WeightsUnavailableError, get_backbone


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
    with pytest.raises(ValueError, match="in_chans must be an integer >= 1"):
        get_backbone("mobilenetv2_050", in_chans=0)


def test_bad_family_options():
    with pytest.raises(ValueError, match="width_mult must be one of"):
        get_backbone("shufflenet_v2_x1_0", width_mult=0.75)
    with pytest.raises(ValueError, match="groups must be one of"):
        get_backbone("shufflenet_v1_g3_x1_0", groups=5)


@pytest.mark.parametrize("name", ["mobilenetv2_100", "shufflenet_v2_x1_0", "resnet18"])
def test_a_misspelt_family_option_is_named(name):
    with pytest.raises(ValueError, match=f"backbone '{name}' takes no argument 'widht_mult'; check the spelling"):
        get_backbone(name, widht_mult=0.5)


@pytest.mark.parametrize("width", [100, 4.01, 0.0, -1, 0.05, "abc", float("nan"), float("inf"), True])
def test_width_multipliers_outside_the_documented_range_are_refused(width):
    assert WIDTH_MULT_RANGE == (0.1, 4.0)
    with pytest.raises(ValueError, match=r"width_mult must be a number from 0.1 to 4.0"):
        get_backbone("mobilenetv2_100", width_mult=width)


@pytest.mark.parametrize("out_indices", [(2.7, 3, 4), (True, 3, 4), 3, None, "2,3,4", (2, "3")])
def test_out_indices_must_be_a_tuple_of_integers(out_indices):
    with pytest.raises(TypeError, match=r"out_indices must be a tuple of level indices such as \(2, 3, 4\)"):
        get_backbone("mobilenetv2_050", out_indices=out_indices)


@pytest.mark.parametrize("in_chans", ["3", 2.5, True, -3])
def test_in_chans_must_be_a_positive_integer(in_chans):
    with pytest.raises(ValueError, match="in_chans must be an integer >= 1"):
        get_backbone("mobilenetv2_050", in_chans=in_chans)


@pytest.mark.parametrize("name", [None, 3, ""])
def test_the_name_must_be_text(name):
    with pytest.raises(TypeError, match="backbone name must be a string"):
        get_backbone(name)


@pytest.mark.parametrize("dtype, problem", [
    (torch.uint8, "expects float images, got torch.uint8"),
    (torch.int64, "expects float images, got torch.int64"),
    (torch.float64, "has torch.float32 weights but got torch.float64"),
    (torch.float16, "has torch.float32 weights but got torch.float16"),
])
def test_input_dtype_must_match_the_weights(dtype, problem):
    backbone = get_backbone("mobilenetv2_050").eval()
    with pytest.raises(TypeError, match=problem):
        backbone(torch.zeros(1, 3, 64, 64, dtype=dtype))


def test_autocast_input_is_accepted():
    backbone = get_backbone("mobilenetv2_050").eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = backbone(torch.zeros(1, 3, 64, 64))
    assert features[0].dtype == torch.bfloat16


@pytest.mark.parametrize("name", ["squeezenet1_1", "legacy_xception"])
def test_a_too_small_input_names_the_minimum_size(name):
    backbone = get_backbone(name).eval()
    with pytest.raises(ValueError, match=f"{name} cannot process a 1x1 input.*at least 32x32"):
        backbone(torch.zeros(1, 3, 1, 1))


@pytest.mark.parametrize("content, cause", [
    (b"these are not weights\n", "text file"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12345\n", "Git LFS pointer"),
    (b"", "empty"),
])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_unreadable_weight_files_name_the_file_and_the_cause(tmp_path, content, cause, suffix):
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{path}.*{cause}"):
        get_backbone("mobilenetv2_050", pretrained=str(path))


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "cut.safetensors"
    save_file({"w": torch.ones(1000)}, str(path))
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(ValueError, match=f"{path} is not a readable safetensors file"):
        get_backbone("mobilenetv2_050", pretrained=str(path))


def test_unreachable_upstream_weights_raise_the_offline_error(offline_timm):
    with pytest.raises(WeightsUnavailableError, match="pass pretrained='path/to/weights.safetensors'"):
        get_backbone("resnet18", pretrained=True)
