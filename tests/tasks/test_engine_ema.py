"""The trainer's EMA averages exactly as timm's ModelEmaV3 does, without walking the state dicts on every update."""
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from timm.utils import ModelEmaV3

from tasks.config import load_config
from tasks.engine import Trainer
from tasks.engine.ema import ModelEma

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_train import ToyConfig, ToyTask  # noqa: E402


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))


def _train_step(model: nn.Module, seed: int) -> None:
    torch.manual_seed(seed)
    model.train()
    model(torch.rand(2, 3, 8, 8)).square().mean().backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= 0.1 * parameter.grad
            parameter.grad = None


def test_the_averages_equal_timms_to_the_bit_buffers_and_warmup_included():
    model = _net()
    ours, timms = ModelEma(model, decay=0.99, use_warmup=True), ModelEmaV3(model, decay=0.99, use_warmup=True)
    for step in range(1, 8):
        _train_step(model, step)
        ours.update(model, step=step)
        timms.update(model, step=step)
    expected = timms.module.state_dict()
    for name, value in ours.module.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert int(ours.module[1].num_batches_tracked) == 7
    assert not torch.equal(ours.module[0].weight, model[0].weight)  # an average, not a copy


def test_an_update_does_not_walk_the_state_dicts_again(monkeypatch):
    model = _net()
    ema = ModelEma(model, decay=0.9)
    ema.update(model, step=1)

    def refuse(*args, **kwargs):
        raise AssertionError("state_dict() walked on a later update")

    monkeypatch.setattr(model, "state_dict", refuse)
    monkeypatch.setattr(ema.module, "state_dict", refuse)
    _train_step(model, 1)
    before = ema.module[0].weight.clone()
    ema.update(model, step=50)
    assert not torch.equal(ema.module[0].weight, before)


def test_a_restored_ema_keeps_averaging_into_the_restored_tensors():
    model = _net()
    ema = ModelEma(model, decay=0.5)
    ema.update(model, step=50)
    saved = {k: v.clone() for k, v in ema.module.state_dict().items()}
    _train_step(model, 1)
    ema.update(model, step=50)
    ema.module.load_state_dict(saved)
    ema.update(model, step=50)
    expected = saved["0.weight"].lerp(model[0].weight, 0.5)
    assert torch.allclose(ema.module[0].weight, expected)


def test_another_model_is_gathered_afresh():
    first, second = _net(), _net()
    with torch.no_grad():
        for parameter in second.parameters():
            parameter.fill_(1.0)
    ema = ModelEma(first, decay=0.0, use_warmup=False)
    ema.update(first)
    ema.update(second)
    assert torch.equal(ema.module[0].weight, torch.ones_like(ema.module[0].weight))


@pytest.mark.parametrize("ema_on", [True, False])
def test_the_trainer_averages_with_it(tmp_path, ema_on):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=1", "train.device=cpu", "train.workers=0",
                                           f"train.ema={str(ema_on).lower()}"])
    trainer = Trainer(ToyTask(), config)
    trainer.fit()
    assert isinstance(trainer.ema, ModelEma) if ema_on else trainer.ema is None
