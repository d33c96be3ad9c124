"""Local weights, in_chans adaptation, frozen_stages and norm_eval."""
import pickle

import pytest
import timm
import torch
from safetensors.torch import save_file

from backbones import get_backbone


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth"])
@pytest.mark.parametrize("name", ["mobilenetv3_small_100", "ghostnet_050", "shufflenet_v1_g3_x0_5", "squeezenet1_1"])
def test_litebone_state_dict_round_trip(tmp_path, name, suffix):
    source = get_backbone(name).eval()
    path = tmp_path / f"weights{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    loaded = get_backbone(name, pretrained=str(path)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(source(x), loaded(x)):
            assert torch.equal(a, b)
    fresh = get_backbone(name).eval()
    with torch.no_grad():
        assert not torch.equal(fresh(x)[-1], source(x)[-1])


def test_full_timm_classifier_checkpoint_loads_and_matches(tmp_path):
    classifier = timm.create_model("efficientnet_lite0").eval()
    torch.save({"state_dict": classifier.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    backbone = get_backbone("efficientnet_lite0", out_indices=(4,), pretrained=str(tmp_path / "ckpt.pth")).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = classifier.blocks(classifier.bn1(classifier.conv_stem(x)))
        (p5,) = backbone(x)
    torch.testing.assert_close(p5, expected)


def test_three_channel_checkpoint_is_adapted_to_one_channel(tmp_path):
    source = get_backbone("mobilenetv2_050").eval()
    torch.save(source.state_dict(), tmp_path / "rgb.pt")
    gray = get_backbone("mobilenetv2_050", in_chans=1, pretrained=str(tmp_path / "rgb.pt")).eval()
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(gray(x)[0], source(x.expand(-1, 3, -1, -1))[0], atol=1e-4, rtol=1e-4)


def test_weights_of_another_network_name_the_keys(tmp_path):
    torch.save(get_backbone("resnet18").state_dict(), tmp_path / "resnet.pt")
    with pytest.raises(ValueError, match=r"missing keys \[.*conv_stem.*unexpected keys \[.*layer"):
        get_backbone("mobilenetv2_100", pretrained=str(tmp_path / "resnet.pt"))


def test_wrong_width_names_the_mis_shaped_keys(tmp_path):
    torch.save(get_backbone("mobilenetv2_050").state_dict(), tmp_path / "w050.pt")
    with pytest.raises(ValueError, match="with another shape"):
        get_backbone("mobilenetv2_100", pretrained=str(tmp_path / "w050.pt"))


def test_pickled_objects_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"state_dict": Payload()}, handle)
    with pytest.raises(ValueError, match="weights-only loader"):
        get_backbone("mobilenetv2_050", pretrained=str(tmp_path / "evil.pt"))


def test_missing_file_and_bad_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_backbone("mobilenetv2_050", pretrained=str(tmp_path / "nope.pt"))
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported weights format"):
        get_backbone("mobilenetv2_050", pretrained=str(tmp_path / "w.onnx"))


def test_upstream_weights_for_a_width_without_them_is_a_clear_error():
    with pytest.raises(ValueError, match="no upstream weights exist for mobilenetv1_025"):
        get_backbone("mobilenetv1_025", pretrained=True)
    with pytest.raises(ValueError, match="ShuffleNetV1 has no upstream weights"):
        get_backbone("shufflenet_v1_g3_x1_0", pretrained=True)


def _bn_layers(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2_050", "shufflenet_v2_x0_5", "shufflenet_v1_g3_x0_5", "ghostnet_050", "repvit_m0_9"])
def test_frozen_stages_freeze_stem_and_early_levels_only(name):
    backbone = get_backbone(name, out_indices=tuple(sorted(get_backbone(name).levels))[-3:], frozen_stages=1).train()
    frozen_ids = {id(m) for m in backbone._frozen}
    assert backbone._frozen, "something must be frozen"
    trainable_before = {n: p.detach().clone() for n, p in backbone.named_parameters()}
    optimizer = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.1)
    stats_before = [(m, m.running_mean.clone()) for m in _bn_layers(backbone) if id(m) in frozen_ids]
    sum(f.mean() for f in backbone(torch.randn(2, 3, 64, 64))).backward()
    optimizer.step()
    changed = {n for n, p in backbone.named_parameters() if not torch.equal(p, trainable_before[n])}
    frozen_names = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen_names and not (changed & frozen_names)
    assert changed, "later stages must still train"
    assert all(torch.equal(m.running_mean, before) for m, before in stats_before)
    assert all(not m.training for m in backbone._frozen)


def test_frozen_stages_zero_freezes_the_stem_of_a_stride4_network():
    backbone = get_backbone("repvit_m0_9", out_indices=(1, 2, 3, 4), frozen_stages=0)
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen and all(".stem" in n or n.startswith("body.stem") for n in frozen)


def test_norm_eval_keeps_every_batchnorm_in_eval():
    backbone = get_backbone("mobilenetv3_small_100", norm_eval=True).train()
    assert all(not m.training for m in _bn_layers(backbone))
    assert get_backbone("mobilenetv3_small_100").train().body.training
    assert any(m.training for m in _bn_layers(get_backbone("mobilenetv3_small_100").train()))
