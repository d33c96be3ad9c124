"""The engine's loader trims the heap before forking workers, so the main process does not copy freed pages, and its
workers yield the CPU to training there."""
import os
import platform
import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import tasks.engine.loader as loader_module
from tasks.config import load_config
from tasks.engine import Trainer
from tasks.engine.loader import WORKER_NICENESS, TrainingLoader

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
        assert [float(x) for (batch,) in TrainingLoader(data, batch_size=2, num_workers=1) for x in batch] == [0.0, 1.0, 2.0, 3.0]
    assert calls == [0, 0]
    list(TrainingLoader(data, batch_size=2, num_workers=0))
    assert calls == [0, 0]


def test_the_trainer_trims_before_every_training_epoch_and_validation_with_workers(tmp_path, monkeypatch):
    calls = _recording_trim(monkeypatch)
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=2", "train.device=cpu", "train.workers=1"])
    Trainer(ToyTask(), config).fit()
    assert len(calls) == 4  # two epochs, each a training pass and a validation pass


_INITIALISED_WORKERS: list[int] = []


def _user_worker_init(worker_id: int) -> None:
    _INITIALISED_WORKERS.append(worker_id)


class _WorkerState(torch.utils.data.Dataset):
    """Each sample is the worker's (niceness, how many times the user's init ran in it)."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([os.nice(0), len(_INITIALISED_WORKERS)])


def _worker_states(loader) -> set[tuple[int, int]]:
    return {tuple(int(x) for x in sample) for batch in loader for sample in batch}


def test_workers_yield_the_cpu_only_when_asked_and_still_run_the_users_init():
    parent, lowest = os.nice(0), min(os.nice(0) + WORKER_NICENESS, 19)
    assert _worker_states(TrainingLoader(_WorkerState(), batch_size=1, num_workers=1)) == {(parent, 0)}
    assert _worker_states(TrainingLoader(_WorkerState(), batch_size=1, num_workers=1, yield_cpu=True)) == {(lowest, 0)}
    yielding = TrainingLoader(_WorkerState(), batch_size=1, num_workers=1, worker_init_fn=_user_worker_init, yield_cpu=True)
    assert _worker_states(yielding) == {(lowest, 1)}
    assert _worker_states(TrainingLoader(_WorkerState(), batch_size=1, num_workers=0, yield_cpu=True)) == {(parent, 0)}


def test_the_trainer_lowers_its_workers_priority_on_cpu(tmp_path):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.device=cpu", "train.workers=1", "train.batch_size=1"])
    trainer = Trainer(ToyTask(), config)
    assert _worker_states(trainer._loader(_WorkerState(), train=False)) == {(min(os.nice(0) + WORKER_NICENESS, 19), 0)}
