"""litebone prune: a smaller model that runs, reloads, fine-tunes through the engine, validates and exports."""
import pytest
import torch

from tasks.cli import main
from tasks.depth.synth import write_scenes
from tasks.detect.inference import load_detector
from tasks.detect.synth import write_shapes
from tasks.engine import load_checkpoint
from tasks.prune import IMPORTANCE, count_macs_params

TINY = ["train.epochs=1", "train.batch_size=8", "train.workers=0", "model.backbone=mobilenetv3_small_075", "eval.samples=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("prune")
    data = write_shapes(root / "shapes", train=16, val=4, size=64, progress=False)
    assert main(["train", "detect", f"data.data={data}", "data.img_size=64", *TINY, f"run.project={root / 'runs'}"]) == 0
    return root, data, root / "runs/detect/exp/weights/best.pt"


def test_pruned_detector_is_smaller_runs_and_reloads(trained, tmp_path):
    _, _, weights = trained
    out = tmp_path / "pruned.pt"
    assert main(["prune", "detect", "--weights", str(weights), "--ratio", "0.4", "--output", str(out)]) == 0
    original, _, _ = load_detector(weights)
    pruned, _, _ = load_detector(out)
    example = torch.zeros(1, 3, 64, 64)
    (macs, params), (pruned_macs, pruned_params) = count_macs_params(original, example), count_macs_params(pruned, example)
    assert pruned_params < 0.8 * params and pruned_macs < 0.8 * macs
    raw = pruned.train()(torch.randint(0, 255, (2, 3, 64, 64)).float())
    assert [r.shape[1] for r in raw] == [r.shape[1] for r in original.eval()(torch.zeros(2, 3, 64, 64))]
    sum(r.float().mean() for r in raw).backward()
    assert "pruned" in load_checkpoint(out)["meta"]


def test_pruned_detector_fine_tunes_validates_and_exports(trained, tmp_path, monkeypatch):
    _, data, weights = trained
    out = tmp_path / "pruned.pt"
    assert main(["prune", "detect", "--weights", str(weights), "--ratio", "0.3", "--output", str(out)]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["train", "detect", f"data.data={data}", "data.img_size=64", *TINY, f"model.init={out}", f"run.project={tmp_path}"]) == 0
    tuned = tmp_path / "detect/exp/weights/best.pt"
    assert load_checkpoint(tuned)["meta"]["pruned"] == load_checkpoint(out)["meta"]["pruned"]
    assert main(["val", "detect", "--weights", str(tuned)]) == 0
    assert main(["export", "detect", "--weights", str(tuned), "--output", str(tmp_path / "p.onnx")]) == 0
    assert main(["export", "detect", "--weights", str(tuned), "--int8", "--calib-images", "2", "--output", str(tmp_path / "q.onnx")]) == 0


def test_pruned_depth_model_validates(tmp_path, monkeypatch):
    scenes = write_scenes(tmp_path / "scenes", train=8, val=2, size=64, progress=False)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "depth", f"data.data={scenes}", "data.height=64", "data.width=64", *TINY, "train.batch_size=4",
                 f"run.project={tmp_path}"]) == 0
    weights = tmp_path / "depth/exp/weights/best.pt"
    assert main(["prune", "depth", "--weights", str(weights), "--ratio", "0.5", "--output", str(tmp_path / "d.pt")]) == 0
    assert main(["val", "depth", "--weights", str(tmp_path / "d.pt")]) == 0


@pytest.mark.parametrize("ratio", ["0", "1", "1.5", "-0.2"])
def test_a_ratio_outside_zero_one_is_refused(trained, tmp_path, capsys, ratio):
    _, _, weights = trained
    assert main(["prune", "detect", "--weights", str(weights), "--ratio", ratio, "--output", str(tmp_path / "p.pt")]) == 2
    assert "--ratio must lie strictly between 0 and 1" in capsys.readouterr().err


def test_each_importance_criterion_prunes_and_they_keep_different_channels(trained, tmp_path):
    _, _, weights = trained
    kept = {}
    for criterion in IMPORTANCE:
        out = tmp_path / f"{criterion}.pt"
        assert main(["prune", "detect", "--weights", str(weights), "--ratio", "0.3", "--importance", criterion,
                     "--output", str(out)]) == 0
        pruned, _, _ = load_detector(out)
        with torch.no_grad():
            assert pruned(torch.randint(0, 255, (1, 3, 64, 64)).float())[0].isfinite().all()
        kept[criterion] = load_checkpoint(out)["model"]
    reference = kept.pop("l2")
    for criterion, state in kept.items():
        shared = [k for k in reference if k in state and state[k].shape == reference[k].shape and state[k].is_floating_point()]
        assert any(not torch.equal(state[k], reference[k]) for k in shared), f"{criterion} kept exactly the channels l2 kept"


def test_an_unknown_importance_is_refused(trained, tmp_path, capsys):
    _, _, weights = trained
    assert main(["prune", "detect", "--weights", str(weights), "--ratio", "0.3", "--importance", "taylor",
                 "--output", str(tmp_path / "p.pt")]) == 2
    assert "unknown importance 'taylor'; choose one of bn, l2, l1" in capsys.readouterr().err
    assert not (tmp_path / "p.pt").exists()
