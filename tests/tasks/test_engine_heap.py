"""Training on the CPU keeps freed memory in the process, so a step does not fault its activations in again."""
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import tasks.engine.trainer as trainer_module
from tasks.config import load_config
from tasks.engine import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_train import ToyConfig, ToyTask  # noqa: E402

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap settings are glibc's")

_FAULTS_PER_ALLOCATION = """
import resource, sys, torch
from tasks.engine.heap import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
for _ in range(3):
    torch.ones(16, 1024, 1024)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(16, 1024, 1024)  # 64 MiB, allocated and freed, as a step's activations are
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_allocation(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _FAULTS_PER_ALLOCATION, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default, kept = _faults_per_allocation("default"), _faults_per_allocation("keep")
    assert default > 10_000  # 64 MiB in 4 KiB pages: every allocation maps and faults its pages again
    assert kept < 500, (default, kept)


def test_the_trainer_keeps_freed_memory_on_cpu(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append(1) or True)
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=1", "train.device=cpu"])
    Trainer(ToyTask(), config).fit()
    assert calls == [1]
