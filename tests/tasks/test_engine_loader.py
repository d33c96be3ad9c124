"""The engine's loader trims the heap before forking workers, so the main process does not copy freed pages."""
import platform
import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import tasks.engine.loader as loader_module
from tasks.config import load_config
from tasks.engine import Trainer
from tasks.engine.loader import TrimmingLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_train import ToyConfig, ToyTask  # noqa: E402


def _recording_trim(monkeypatch) -> list[int]:
    calls = []
    monkeypatch.setattr(loader_module, "malloc_trim", lambda pad: calls.append(pad) or 1)
    return calls


def test_malloc_trim_is_found_on_glibc():
    if platform.libc_ver()[0] == "glibc":
        assert loader_module.malloc_trim is not None


def test_the_heap_is_trimmed_before_each_pass_that_forks_workers_and_only_then(monkeypatch):
    calls = _recording_trim(monkeypatch)
    data = TensorDataset(torch.arange(4.0))
    for _ in range(2):
        assert [float(x) for (batch,) in TrimmingLoader(data, batch_size=2, num_workers=1) for x in batch] == [0.0, 1.0, 2.0, 3.0]
    assert calls == [0, 0]
    list(TrimmingLoader(data, batch_size=2, num_workers=0))
    assert calls == [0, 0]


def test_the_trainer_trims_before_every_training_epoch_and_validation_with_workers(tmp_path, monkeypatch):
    calls = _recording_trim(monkeypatch)
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=2", "train.device=cpu", "train.workers=1"])
    Trainer(ToyTask(), config).fit()
    assert len(calls) == 4  # two epochs, each a training pass and a validation pass
