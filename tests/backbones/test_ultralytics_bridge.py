"""The Ultralytics bridge: generated YAMLs build, train, fuse, export and reload inside Ultralytics itself."""
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

PIL_OPEN = Image.open
from ultralytics import YOLO  # noqa: E402
from ultralytics.nn import tasks as ultralytics_tasks  # noqa: E402

from backbones import get_backbone  # noqa: E402
from backbones.ultralytics import LiteBackbone, format_yaml, register, yolo_yaml  # noqa: E402
from tasks.cli import main  # noqa: E402
from tasks.detect.synth import write_shapes  # noqa: E402
from tasks.images import ImageReadError, read_image  # noqa: E402

# Importing Ultralytics replaces PIL.Image.open process-wide (HEIF support that pip-installs pi-heif on the first
# unidentified file). Only the test below runs under it; the rest of the suite tests litebone with PIL's own opener.
ULTRALYTICS_OPEN = Image.open
Image.open = PIL_OPEN


def write_model(tmp_path, backbone, head, nc=4, **options):
    path = tmp_path / f"{backbone}-{head}.yaml"
    path.write_text(format_yaml(yolo_yaml(backbone, head=head, nc=nc, **options)))
    return path


def shapes_of(output):
    if torch.is_tensor(output):
        return [tuple(output.shape)]
    if isinstance(output, dict):
        return [(key, *shapes_of(value)) for key, value in sorted(output.items())]
    return [shape for item in output for shape in shapes_of(item)]


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory):
    return write_shapes(tmp_path_factory.mktemp("shapes"), train=8, val=4, size=64, progress=False)


@pytest.mark.parametrize("backbone, head", [
    ("mobilenetv3_large_100", "yolov8n"),
    ("shufflenet_v2_x1_0", "yolo11n"),
    ("ghostnet_100", "yolo26n"),
    ("squeezenet1_1", "yolov8s"),
])
def test_generated_yaml_builds_with_ultralytics_output_shapes(tmp_path, backbone, head):
    model = YOLO(str(write_model(tmp_path, backbone, head)), verbose=False).model.eval()
    stock = ultralytics_tasks.DetectionModel(f"{head}.yaml", nc=4, verbose=False).eval()
    images = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        assert shapes_of(model(images)) == shapes_of(stock(images))
    assert model.stride.tolist() == [8.0, 16.0, 32.0]
    lite = model.model[0]
    assert isinstance(lite, LiteBackbone)
    index_channels = [row[3][0] for row in model.yaml["backbone"] if row[2] == "Index"]
    assert index_channels == get_backbone(backbone).channels
    with torch.no_grad():
        levels = lite(images)
    assert [level.shape[1] for level in levels] == index_channels
    assert [level.shape[-2:] for level in levels] == [(12, 20), (6, 10), (3, 5)]


def test_head_rows_are_the_reference_heads_rows_with_indices_shifted():
    reference = YOLO("yolov8n.yaml", verbose=False).model.yaml
    generated = yolo_yaml("mobilenetv3_small_100", head="yolov8n", nc=4)
    shift = len(generated["backbone"]) - len(reference["backbone"])
    for ours, theirs in zip(generated["head"], reference["head"]):
        assert ours[1:] == theirs[1:]
        sources = theirs[0] if isinstance(theirs[0], list) else [theirs[0]]
        if theirs[2] == "Detect":
            assert ours[0] == [s + shift for s in sources]
    assert generated["backbone"][-1] == reference["backbone"][-1]  # SPPF is kept on P5
    assert list(generated["scales"])[0] == "n"


def test_litebone_row_normalises_ultralytics_unit_range_images_as_the_backbone_expects():
    lite = LiteBackbone("resnet18").eval()
    images = torch.rand(1, 3, 64, 64)
    spec = lite.backbone.input_spec
    expected = (images - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        for ours, reference in zip(lite(images), lite.backbone(expected)):
            torch.testing.assert_close(ours, reference)


def test_register_is_idempotent_and_reaches_the_installed_ultralytics():
    register()
    wrapped = ultralytics_tasks.BaseModel.fuse
    register()
    assert ultralytics_tasks.LiteBackbone is LiteBackbone
    assert wrapped.fuses_litebone and ultralytics_tasks.BaseModel.fuse is wrapped


def test_ultralytics_fuse_folds_the_litebone_rows_and_keeps_outputs(tmp_path):
    model = YOLO(str(write_model(tmp_path, "mobilenetv3_large_100", "yolo11n")), verbose=False).model.eval()
    images = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        before = model(images)[0]
        model.fuse(verbose=False)
        after = model(images)[0]
    lite = model.model[0]
    assert lite.backbone.fused and lite.backbone.folded_norms > 0
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    torch.testing.assert_close(after, before, atol=1e-3, rtol=1e-3)


def test_pretrained_file_in_the_row_reaches_the_backbone(tmp_path):
    source = get_backbone("ghostnet_100")
    weights = tmp_path / "ghostnet.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    model = YOLO(str(write_model(tmp_path, "ghostnet_100", "yolov8n", pretrained=str(weights))), verbose=False).model
    loaded = model.model[0].backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    fresh = YOLO(str(write_model(tmp_path, "ghostnet_100", "yolo11n")), verbose=False).model.model[0].backbone.state_dict()
    assert not all(torch.equal(fresh[k], v) for k, v in source.state_dict().items() if v.is_floating_point())


def test_one_epoch_trains_exports_to_matching_onnx_and_reloads_in_a_fresh_process(tmp_path, shapes_data):
    model = YOLO(str(write_model(tmp_path, "mobilenetv3_small_100", "yolov8n")))
    model.train(data=str(shapes_data), imgsz=64, epochs=1, batch=4, device="cpu", workers=0, project=str(tmp_path / "runs"),
                name="bridge", exist_ok=True, plots=False, amp=False, verbose=False)
    run = tmp_path / "runs" / "bridge"
    rows = (run / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 2 and (run / "weights" / "best.pt").is_file()

    trained = YOLO(str(run / "weights" / "best.pt"))
    onnx_path = trained.export(format="onnx", imgsz=64, simplify=False, verbose=False)
    images = torch.rand(1, 3, 64, 64)
    network = YOLO(str(run / "weights" / "best.pt")).model.float().fuse(verbose=False).eval()
    assert network.model[0].backbone.fused
    with torch.no_grad():
        expected = network(images)[0].numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    np.testing.assert_allclose(actual, expected, atol=2e-3, rtol=1e-3)

    torch.save(images, tmp_path / "images.pt")
    script = textwrap.dedent(f"""
        import sys, torch
        from ultralytics import YOLO
        model = YOLO({str(run / 'weights' / 'best.pt')!r}).model.float().fuse(verbose=False).eval()
        assert "backbones.ultralytics" in sys.modules, "the checkpoint names the bridge, so loading it imports the bridge"
        with torch.no_grad():
            torch.save(model(torch.load({str(tmp_path / 'images.pt')!r}))[0], {str(tmp_path / 'fresh.pt')!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "YOLO_OFFLINE": "1"})
    torch.testing.assert_close(torch.load(tmp_path / "fresh.pt"), torch.from_numpy(expected))


def test_cli_writes_the_yaml_and_refuses_to_overwrite_it(tmp_path, capsys):
    output = tmp_path / "mnv3l-yolov8n.yaml"
    assert main(["ultralytics", "yaml", "mobilenetv3_large_100", "--head", "yolov8n", "--nc", "4", "-o", str(output)]) == 0
    written = yaml.safe_load(output.read_text())
    assert written["nc"] == 4 and written["backbone"][0][3][:2] == ["mobilenetv3_large_100", [2, 3, 4]]
    assert YOLO(str(output), verbose=False).model.model[0].backbone.channels == [40, 112, 960]
    before = output.read_bytes()
    assert main(["ultralytics", "yaml", "ghostnet_100", "-o", str(output)]) == 2
    assert "--overwrite" in capsys.readouterr().err and output.read_bytes() == before


def test_cli_passes_other_commands_to_ultralytics(tmp_path, shapes_data):
    output = tmp_path / "ghost-yolov8n.yaml"
    assert main(["ultralytics", "yaml", "ghostnet_050", "--nc", "4", "-o", str(output)]) == 0
    assert main(["ultralytics", "train", f"model={output}", f"data={shapes_data}", "imgsz=64", "epochs=1", "batch=4",
                 "workers=0", "device=cpu", f"project={tmp_path}", "name=cli", "plots=False", "val=False"]) == 0
    assert (tmp_path / "cli" / "weights" / "last.pt").is_file()


@pytest.mark.parametrize("arguments, message", [
    (["mobilenetv3_larg_100"], "Closest names: mobilenetv3_large_100"),
    (["ghostnet_100", "--head", "yolov9t"], "unknown head 'yolov9t'"),
    (["ghostnet_100", "--head", "yolov8q"], "unknown head 'yolov8q'"),
    (["ghostnet_100", "--out-indices", "3,4"], "three consecutive levels"),
    (["ghostnet_100", "--out-indices", "2,3,5"], "three consecutive levels"),
    (["ghostnet_100", "--out-indices", "3,4,5"], "Valid levels of ghostnet_100"),
    (["ghostnet_100", "--pretrained", "missing.safetensors"], "no such file"),
    (["ghostnet_100", "--option", "width_mult"], "KEY=VALUE"),
    (["ghostnet_100", "-o", "g-yolov8s.yaml"], "would build scale 's'"),
])
def test_cli_bad_input_is_a_clear_error(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert main(["ultralytics", "yaml", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.yaml"))


def test_missing_ultralytics_is_a_clear_error_and_the_core_never_imports_it():
    script = textwrap.dedent("""
        import sys
        import backbones, heads, tasks, tasks.cli, tasks.detect.task, tasks.depth.task, tasks.onnx_export, tasks.prune
        assert "ultralytics" not in sys.modules, "the core imported ultralytics"
        sys.modules["ultralytics"] = None
        try:
            import backbones.ultralytics
        except ImportError as error:
            assert "pip install 'litebone[ultralytics]'" in str(error), error
        else:
            raise AssertionError("imported without ultralytics")
        sys.exit(tasks.cli.main(["ultralytics", "yaml", "ghostnet_100"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "pip install 'litebone[ultralytics]'" in done.stderr and "Traceback" not in done.stderr


def test_litebone_reader_counts_a_corrupt_image_under_ultralytics_pil_patch(tmp_path, monkeypatch):
    assert ULTRALYTICS_OPEN is not PIL_OPEN, "Ultralytics no longer patches PIL.Image.open; drop this test and the note above"
    monkeypatch.setattr(Image, "open", ULTRALYTICS_OPEN)
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageReadError) as raised:
        read_image(corrupt)
    assert raised.value.reason == "unreadable images"


def test_cli_never_writes_the_yaml_over_its_pretrained_weights(tmp_path, capsys):
    weights = tmp_path / "ghostnet-yolov8n.yaml"
    save_file({k: v.contiguous() for k, v in get_backbone("ghostnet_050").state_dict().items()}, str(weights))
    before = weights.read_bytes()
    assert main(["ultralytics", "yaml", "ghostnet_050", "--pretrained", str(weights), "-o", str(weights), "--overwrite"]) == 2
    assert "is also an input" in capsys.readouterr().err and weights.read_bytes() == before
