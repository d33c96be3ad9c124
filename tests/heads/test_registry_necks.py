"""Registries and wiring by channels and strides alone."""
import pytest
import torch

from backbones import Registry
from heads import build_decoder, build_head, build_neck


def test_registry_rejects_duplicates_and_suggests_names():
    registry = Registry("thing")
    registry.register("alpha")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("alpha")(lambda: 2)
    with pytest.raises(ValueError, match="unknown thing 'alpah'. Did you mean alpha"):
        registry.build("alpah")


def test_registry_names_a_keyword_argument_the_builder_does_not_take():
    registry = Registry("thing")
    registry.register("plain")(lambda size=1: size)
    registry.register("forwarding")(lambda **kwargs: torch.nn.Conv2d(1, 1, 1, **kwargs))
    registry.register("broken")(lambda size=1: dict(a=1).get(b=2))
    assert registry.build("plain", size=3) == 3
    with pytest.raises(ValueError, match="thing 'plain' takes no argument 'sise'; check the spelling"):
        registry.build("plain", sise=3)
    with pytest.raises(ValueError, match="thing 'forwarding' takes no argument 'bais'"):
        registry.build("forwarding", bais=False)
    with pytest.raises(TypeError):
        registry.build("broken", size=2)


@pytest.mark.parametrize("name, kwargs", [("pan", {"width": 0.5, "depth": 0.67}), ("ghostpan", {"channels": 48, "blocks": 2})])
def test_necks_keep_strides_and_report_channels(name, kwargs):
    neck = build_neck(name, in_channels=[24, 48, 96], strides=[8, 16, 32], **kwargs)
    outputs = neck([torch.randn(1, 24, 16, 16), torch.randn(1, 48, 8, 8), torch.randn(1, 96, 4, 4)])
    assert [o.shape[1] for o in outputs] == neck.out_channels and [o.shape[-1] for o in outputs] == [16, 8, 4]
    if name == "pan":
        assert neck.out_channels == [128, 256, 512]


def test_neck_refuses_mismatched_levels():
    with pytest.raises(ValueError, match="matching strides"):
        build_neck("pan", in_channels=[24, 48], strides=[8])


def test_head_outputs_and_decode_geometry():
    head = build_head("yolo", in_channels=[32, 32], strides=[8, 16], num_classes=5, reg_max=8)
    raw = head([torch.randn(2, 32, 8, 8), torch.randn(2, 32, 4, 4)])
    assert [r.shape[1] for r in raw] == [4 * 8 + 5] * 2
    boxes, scores = head.decode(raw)
    assert boxes.shape == (2, 80, 4) and scores.shape == (2, 80, 5)
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()
    with pytest.raises(ValueError, match="at least two bins"):
        build_head("yolo", in_channels=[32], strides=[8], num_classes=1, reg_max=1)


def test_fastdepth_skips_add_without_projection():
    decoder = build_decoder("fastdepth", in_channels=[64, 128, 256, 512, 1024], strides=[2, 4, 8, 16, 32])
    first_pointwise = [stage[3] for stage in decoder.stages]
    assert [conv.out_channels for conv in first_pointwise] == [512, 256, 128, 64, 32]


def test_smp_decoders_need_stride_4_to_32():
    with pytest.raises(ValueError, match="missing \\[4\\]"):
        build_decoder("unet", in_channels=[40, 112, 320], strides=[8, 16, 32])


@pytest.mark.parametrize("decoder_channels, stride", [((32, 16, 16, 8, 8), 1), ((32, 16, 16, 8), 2)])
def test_smp_unet_ends_one_block_per_decoder_width_and_matches_smp(decoder_channels, stride):
    from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

    channels, strides = [16, 24, 32, 96, 320], [2, 4, 8, 16, 32]
    torch.manual_seed(0)
    decoder = build_decoder("unet", in_channels=channels, strides=strides, decoder_channels=decoder_channels).eval()
    torch.manual_seed(0)
    reference = UnetDecoder(encoder_channels=[0, *channels], decoder_channels=list(decoder_channels), n_blocks=len(decoder_channels)).eval()
    features = [torch.randn(1, c, 64 // s, 96 // s) for c, s in zip(channels, strides)]
    with torch.no_grad():
        out = decoder(features)
        expected = reference([torch.zeros(1, 0, 64, 96), *features])
    assert out.shape == (1, decoder_channels[-1], 64 // stride, 96 // stride)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("decoder_channels", [[], [8] * 6])
def test_smp_unet_refuses_a_block_count_it_cannot_build(decoder_channels):
    with pytest.raises(ValueError, match="1 to 5 widths"):
        build_decoder("unet", in_channels=[16, 24, 32, 96, 320], strides=[2, 4, 8, 16, 32], decoder_channels=decoder_channels)


def test_no_module_in_heads_imports_a_module_that_imports_it_back():
    import ast
    from pathlib import Path

    root = Path(__import__("heads").__file__).parent
    modules = {".".join(("heads", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p for p in root.rglob("*.py")}

    def imports(name, path):
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base) if node.level else node.module
                found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        return {m for m in found if m in modules and m != name}

    graph = {name: imports(name, path) for name, path in modules.items()}
    for name, targets in graph.items():
        for target in targets:
            assert name not in graph[target], f"{name} and {target} import each other"


def test_fastdepth_leaves_the_last_upsampling_to_the_depth_head():
    """The last stage meets no skip, so it stays at stride 2: the head upsamples one channel, not 32."""
    strides = [2, 4, 8, 16, 32]
    decoder = build_decoder("fastdepth", in_channels=[16, 24, 32, 96, 320], strides=strides)
    features = [torch.randn(1, c, 64 // s, 96 // s) for c, s in zip([16, 24, 32, 96, 320], strides)]
    assert decoder(features).shape == (1, 32, 32, 48)
