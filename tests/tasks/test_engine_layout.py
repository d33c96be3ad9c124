"""Training in NHWC (train.memory_format) changes the storage, not the result."""
import sys
from pathlib import Path

import pytest
import torch

from tasks.config import load_config
from tasks.detect.config import DetectModelConfig
from tasks.detect.model import build_detector
from tasks.engine import Trainer
from tasks.engine.layout import to_channels_last, trains_channels_last

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_train import ToyConfig, ToyTask  # noqa: E402


def _train(tmp_path: Path, memory_format: str) -> Trainer:
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", f"run.name={memory_format}", "train.epochs=2",
                                           f"train.memory_format={memory_format}", "train.device=cpu"])
    trainer = Trainer(ToyTask(), config)
    trainer.fit()
    return trainer


def test_channels_last_training_stores_nhwc_and_ends_where_nchw_training_ends(tmp_path):
    nhwc, nchw = _train(tmp_path, "channels_last"), _train(tmp_path, "contiguous")
    conv_nhwc, conv_nchw = nhwc.model[0].weight, nchw.model[0].weight
    assert conv_nhwc.is_contiguous(memory_format=torch.channels_last) and not conv_nhwc.is_contiguous()
    assert conv_nchw.is_contiguous()
    for key, value in nchw.model.state_dict().items():
        torch.testing.assert_close(nhwc.model.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    saved = torch.load(tmp_path / "toy" / "channels_last" / "weights" / "last.pt", weights_only=False)["ema"]
    fresh = ToyTask().build_model()
    fresh.load_state_dict(saved)
    torch.testing.assert_close(fresh.state_dict()["0.weight"], nhwc.eval_model.state_dict()["0.weight"])


@pytest.mark.parametrize("setting, device, expected", [
    ("auto", "cpu", True), ("auto", "cuda", False), ("channels_last", "cuda", True), ("contiguous", "cpu", False),
])
def test_auto_trains_nhwc_on_the_cpu_only(setting, device, expected):
    assert trains_channels_last(setting, torch.device(device)) is expected


def test_a_detector_in_nhwc_converts_its_input_and_gives_the_same_outputs():
    torch.manual_seed(0)
    model = build_detector(DetectModelConfig(backbone="mobilenetv3_small_100"), num_classes=3).eval()
    images = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        expected = model(images)
        nhwc = to_channels_last(model)
        assert nhwc.backbone.channels_last
        outputs = nhwc(images)
    for got, want in zip(outputs, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_an_unknown_memory_format_is_a_clear_config_error():
    with pytest.raises(Exception, match="memory_format"):
        load_config(ToyConfig, None, ["train.memory_format=nhwc"])


def test_results_plot_has_a_panel_for_a_metric_the_first_epochs_lack(tmp_path, monkeypatch):
    """Epochs that were not validated (depth's low-resolution ones) still leave the metric a panel, with a gap."""
    from matplotlib.axes import Axes

    from tasks.engine.results import plot_rows

    titles = []
    set_title = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda axis, label, **kwargs: titles.append(label) or set_title(axis, label, **kwargs))
    plot_rows([{"epoch": 1, "train/loss": 2.0}, {"epoch": 2, "train/loss": 1.0, "val/abs_rel": 0.3}], tmp_path / "results.png")
    assert titles == ["train/loss", "val/abs_rel"]
    assert (tmp_path / "results.png").is_file()
