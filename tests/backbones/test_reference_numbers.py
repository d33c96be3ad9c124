"""Params and MACs of the full ImageNet classifiers against REFERENCE.md (within 1%)."""
import pytest

from backbones import build_classifier, count_macs, count_params

# name, input size, params (M), MACs (M) -- the "impl." column of REFERENCE.md
REFERENCE = [
    ("mobilenetv1_100", 224, 4.232, 568.7),
    ("mobilenetv1_100", 192, 4.232, 418.1),
    ("mobilenetv1_100", 160, 4.232, 290.7),
    ("mobilenetv1_100", 128, 4.232, 186.4),
    ("mobilenetv1_075", 224, 2.586, 325.4),
    ("mobilenetv1_050", 224, 1.332, 149.5),
    ("mobilenetv1_025", 224, 0.470, 41.0),
    ("mobilenetv2_100", 224, 3.505, 300.8),
    ("mobilenetv2_140", 224, 6.109, 582.2),
    ("mobilenetv3_large_100", 224, 5.483, 216.6),
    ("mobilenetv3_small_100", 224, 2.543, 56.5),
    ("shufflenet_v1_g3_x1_0", 224, 1.865, 137.5),
    ("shufflenet_v1_g8_x1_0", 224, 2.434, 138.4),
    ("shufflenet_v1_g3_x0_5", 224, 0.717, 37.6),
    ("shufflenet_v1_g8_x0_5", 224, 1.010, 40.5),
    ("shufflenet_v1_g3_x1_5", 224, 3.441, 292.4),
    ("shufflenet_v1_g8_x1_5", 224, 4.269, 290.2),
    ("shufflenet_v1_g3_x2_0", 224, 5.450, 524.0),
    ("shufflenet_v1_g8_x2_0", 224, 6.521, 521.9),
    ("shufflenet_v2_x0_5", 224, 1.367, 40.5),
    ("shufflenet_v2_x1_0", 224, 2.279, 144.9),
    ("shufflenet_v2_x1_5", 224, 3.504, 295.8),
    ("shufflenet_v2_x2_0", 224, 7.394, 583.3),
    ("squeezenet1_0", 224, 1.248, 818.9),
    ("squeezenet1_1", 224, 1.236, 349.2),
    ("mixnet_s", 224, 4.135, 239.2),
    ("mixnet_m", 224, 5.014, 339.2),
    ("mixnet_l", 224, 7.329, 555.3),
    ("efficientnet_b0", 224, 5.289, 385.8),
    ("efficientnet_b1", 240, 7.794, 686.8),
    ("efficientnet_b2", 260, 9.110, 993.6),
    ("efficientnet_b3", 300, 12.233, 1827.1),
    ("tf_efficientnetv2_s", 384, 21.458, 8366.0),
    ("ghostnet_100", 224, 5.183, 141.2),
    ("legacy_xception", 299, 22.856, 8357.0),
    ("resnet18", 224, 11.690, 1814.0),
    ("resnet50", 224, 25.557, 4089.0),
    ("mobilenetv4_conv_small", 224, 3.774, 186.0),
]


@pytest.mark.parametrize("name, size, params_m, macs_m", REFERENCE)
def test_classifier_matches_reference(name, size, params_m, macs_m):
    model = build_classifier(name)
    assert count_params(model) / 1e6 == pytest.approx(params_m, rel=0.01)
    assert count_macs(model, size) / 1e6 == pytest.approx(macs_m, rel=0.01)


def test_squeezenet_1_0_exact_published_params():
    assert count_params(build_classifier("squeezenet1_0")) == 1_248_424
