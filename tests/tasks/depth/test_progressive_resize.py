"""Progressive resizing: the first ``data.low_res_fraction`` of the epochs train at ``data.low_res_scale`` times the size,
the last ``data.ramp_fraction`` of those climbing towards full size; SILog's delta term only at full size."""
import pytest
import torch

from tasks.cli import main
from tasks.config import load_config
from tasks.depth import DepthConfig, DepthTask
from tasks.depth.losses import SILogLoss, below_full_size, build_loss
from tasks.depth.synth import write_scenes
from tasks.depth.task import epoch_size
from tasks.engine import Trainer
from tasks.engine.results import read_rows


def test_epoch_size_scales_the_first_fraction_to_multiples_of_32():
    assert [epoch_size((192, 256), e, 10, 0.6, 0.5, 0.0) for e in range(10)] == [(96, 128)] * 6 + [(192, 256)] * 4
    assert [epoch_size((192, 256), e, 10, 0.0, 0.5, 0.0) for e in range(10)] == [(192, 256)] * 10
    assert epoch_size((128, 160), 0, 10, 0.5, 0.5, 0.0) == (64, 96)
    assert epoch_size((224, 288), 0, 10, 0.5, 0.5, 0.0) == (128, 160)
    assert [epoch_size((64, 64), e, 3, 0.7, 0.5, 0.0) for e in range(3)] == [(32, 32)] * 2 + [(64, 64)]
    assert epoch_size((64, 64), 0, 1, 0.9, 0.5, 0.0) == (64, 64)
    assert epoch_size((64, 96), 0, 4, 0.5, 0.25, 0.0) == (32, 32)


def test_the_ramp_climbs_from_the_low_resolution_scale_towards_full_size_one_step_per_epoch():
    sizes = [epoch_size((192, 256), e, 20, 0.6, 0.5, 0.5) for e in range(20)]
    # 12 epochs below full size, the last 6 of them at 0.5 + 0.5 * k / 7 (k = 1..6), each side to a multiple of 32
    assert sizes == [(96, 128)] * 6 + [(96, 160), (128, 160), (128, 192), (160, 192), (160, 224), (192, 224)] + [(192, 256)] * 8
    assert [epoch_size((192, 256), e, 20, 0.6, 0.5, 0.0) for e in range(20)] == [(96, 128)] * 12 + [(192, 256)] * 8
    assert [epoch_size((192, 256), e, 20, 0.6, 0.5, 1.0) for e in range(3)] == [(96, 128), (96, 160), (128, 160)]
    assert [epoch_size((192, 256), e, 20, 0.0, 0.5, 0.5) for e in range(20)] == [(192, 256)] * 20


def test_training_shrinks_early_epochs_in_worker_processes_and_validates_only_at_full_size(tmp_path):
    data = write_scenes(tmp_path / "scenes", train=4, val=2, size=64, progress=False)
    config = load_config(DepthConfig, None, [
        f"data.data={data}", "data.height=64", "data.width=64", "data.low_res_fraction=0.5", "train.epochs=2",
        "train.batch_size=2", "train.workers=1", "model.backbone=mobilenetv3_small_075", f"run.project={tmp_path / 'runs'}",
    ])
    task = DepthTask(config)
    train_sizes, val_sizes = [], []
    step, evaluate = task.training_step, task.evaluate

    def recording_step(model, batch, device, modules):
        train_sizes.append(tuple(batch["image"].shape[-2:]))
        return step(model, batch, device, modules)

    def recording_evaluate(model, loader, device):
        val_sizes.extend(tuple(batch["image"].shape[-2:]) for batch in loader)
        return evaluate(model, loader, device)

    task.training_step, task.evaluate = recording_step, recording_evaluate
    Trainer(task, config).fit()
    assert train_sizes == [(32, 32)] * 2 + [(64, 64)] * 2
    assert val_sizes == [(64, 64)]  # one batch of the val split, after the full-size epoch only
    run = tmp_path / "runs" / "depth" / "exp"
    rows = read_rows(run / "results.csv")
    assert [("val/abs_rel" in row) for row in rows] == [False, True]
    assert torch.load(run / "weights" / "best.pt", weights_only=False)["epoch"] == 1
    assert (run / "results.png").is_file()


def test_a_fraction_of_one_is_a_config_error(capsys):
    assert main(["train", "depth", "data.low_res_fraction=1"]) == 2
    assert "data.low_res_fraction must be" in capsys.readouterr().err


def test_a_ramp_fraction_above_one_is_a_config_error(capsys):
    assert main(["train", "depth", "data.ramp_fraction=1.5"]) == 2
    assert "data.ramp_fraction must be" in capsys.readouterr().err


def test_early_stopping_with_low_resolution_epochs_is_a_clear_error(tmp_path, capsys):
    data = write_scenes(tmp_path / "scenes", train=2, val=1, size=64, progress=False)
    assert main(["train", "depth", f"data.data={data}", "train.patience=5", f"run.project={tmp_path / 'runs'}"]) == 2
    assert "set data.low_res_fraction=0 to use early stopping" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_fine_tuning_and_distillation_train_every_epoch_at_full_size(tmp_path, capsys):
    data = write_scenes(tmp_path / "scenes", train=4, val=2, size=64, progress=False)
    common = [f"data.data={data}", "data.height=64", "data.width=64", "train.epochs=2", "train.batch_size=2", "train.workers=0",
              "model.backbone=mobilenetv3_small_075", f"run.project={tmp_path / 'runs'}"]
    assert main(["train", "depth", *common]) == 0
    trained = tmp_path / "runs/depth/exp/weights/best.pt"
    for extra, reason in ((f"model.init={trained}", "model.init continues"), (f"train.distill.teacher={trained}", "teacher predicts")):
        task = DepthTask(load_config(DepthConfig, None, [*common, extra]))
        assert reason in capsys.readouterr().out
        dataset = task.train_dataset()
        task.on_epoch_start(0, 2)
        assert dataset.size == (64, 64)
    scratch = DepthTask(load_config(DepthConfig, None, common))
    dataset = scratch.train_dataset()
    scratch.on_epoch_start(0, 2)
    assert dataset.size == (32, 32)


def test_int8_export_of_a_run_trained_with_early_stopping_neither_refuses_nor_trains_at_low_res(tmp_path, capsys):
    data = write_scenes(tmp_path / "scenes", train=4, val=2, size=64, progress=False)
    assert main(["train", "depth", f"data.data={data}", "data.height=64", "data.width=64", "train.epochs=1", "train.batch_size=2",
                 "train.workers=0", "train.patience=3", "data.low_res_fraction=0", "model.backbone=mobilenetv3_small_075",
                 f"run.project={tmp_path / 'runs'}"]) == 0
    weights = tmp_path / "runs/depth/exp/weights/best.pt"
    checkpoint = torch.load(weights, weights_only=False)
    del checkpoint["config"]["data"]["low_res_fraction"]  # as litebone before progressive resizing wrote it
    torch.save(checkpoint, weights)
    capsys.readouterr()
    assert main(["export", "depth", "--weights", str(weights), "--int8", "--calib-images", "2", "--output", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").is_file()
    assert "low_res_fraction" not in capsys.readouterr().err


def test_the_delta_term_waits_for_full_size(tmp_path):
    data = write_scenes(tmp_path / "scenes", train=2, val=1, size=64, progress=False)
    config = load_config(DepthConfig, None, [f"data.data={data}", "data.height=64", "data.width=64",
                                             "model.backbone=mobilenetv3_small_075", f"run.project={tmp_path / 'runs'}"])
    task = DepthTask(config)
    model = task.build_model().train()
    torch.manual_seed(0)
    for size in (32, 64):
        batch = {"image": torch.randint(0, 255, (2, 3, size, size), dtype=torch.uint8), "depth": torch.rand(2, 1, size, size) * 5 + 1}
        with torch.no_grad():
            loss, _ = task.training_step(model, batch, torch.device("cpu"), torch.nn.ModuleDict())
            pred, mask = model(batch["image"]).float(), batch["depth"] > 0
            with_delta, without = SILogLoss()(pred, batch["depth"], mask), SILogLoss(delta_weight=0.0)(pred, batch["depth"], mask)
        assert with_delta > without + 0.1
        assert loss.item() == pytest.approx((with_delta if size == 64 else without).item(), rel=1e-5)


def test_below_full_size_drops_only_silogs_delta_term():
    loss = SILogLoss(variance_focus=0.5, gradient_weight=0.2, gradient_scales=2, delta_weight=2.0)
    low_res = below_full_size(loss)
    assert (low_res.delta_weight, low_res.variance_focus, low_res.gradient_weight, low_res.gradient_scales) == (0.0, 0.5, 0.2, 2)
    assert loss.delta_weight == 2.0
    for unchanged in (SILogLoss(delta_weight=0.0), build_loss("ssi"), build_loss("berhu")):
        assert below_full_size(unchanged) is unchanged
