"""The engine survives kills, torn checkpoint writes, NaN losses, Ctrl-C, and runs under DDP."""
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tasks.config import load_config
from tasks.engine import NonFiniteLossError, Trainer, atomic_save, load_checkpoint
from tasks.errors import UserError

HERE = Path(__file__).resolve().parent
TOY = str(HERE / "toy_train.py")
ENV = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}

sys.path.insert(0, str(HERE))
from toy_train import ToyConfig, ToyTask  # noqa: E402


def _run(run_dir, *args, **kwargs):
    return subprocess.run([sys.executable, TOY, str(run_dir), *args], env=ENV, capture_output=True, text=True, timeout=300, **kwargs)


def _wait_for_epochs(path: Path, epochs: int, process, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        if path.is_file() and len(path.read_text().strip().splitlines()) - 1 >= epochs:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("training did not reach the expected epoch")


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_kill_9_then_resume_is_bit_exact(tmp_path):
    straight = tmp_path / "straight"
    assert _run(straight, "train.epochs=5").returncode == 0
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, TOY, str(killed), "train.epochs=5", "--sleep", "0.03"], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_epochs(killed / "toy/exp/results.csv", 2, process)
    time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    epoch_at_kill = load_checkpoint(killed / "toy/exp/weights/last.pt")["epoch"]
    assert epoch_at_kill < 4, "the kill must land before the end"
    resumed = _run(killed, "train.epochs=5", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(straight / "toy/exp/weights/last.pt")
    b = load_checkpoint(killed / "toy/exp/weights/last.pt")
    assert a["epoch"] == b["epoch"] == 4
    assert _states_equal(a["model"], b["model"]) and _states_equal(a["ema"], b["ema"])
    rows = (killed / "toy/exp/results.csv").read_text().strip().splitlines()
    assert len(rows) == 6, "one header and one row per epoch, no duplicates after resume"


KILL_DURING_WRITE = r"""
import os, signal, sys, torch
from tasks.engine import checkpoint
path = sys.argv[1]
checkpoint.atomic_save({"model": {"w": torch.ones(3)}, "epoch": 1}, path)
def torn_save(obj, handle):
    handle.write(b"PK\x03\x04 partial bytes of a zip archive")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
checkpoint.torch.save = torn_save
checkpoint.atomic_save({"model": {"w": torch.zeros(3)}, "epoch": 2}, path)
"""


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    path = tmp_path / "weights" / "last.pt"
    result = subprocess.run([sys.executable, "-c", KILL_DURING_WRITE, str(path)], env=ENV, capture_output=True)
    assert result.returncode == -signal.SIGKILL
    assert (tmp_path / "weights" / ".last.pt.tmp").is_file(), "the torn write must exist beside the good file"
    checkpoint = load_checkpoint(path)
    assert checkpoint["epoch"] == 1 and torch.equal(checkpoint["model"]["w"], torch.ones(3))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=3"])
    trainer = Trainer(ToyTask(nan_at_step=13), config)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 13"):
        trainer.fit()
    kept = load_checkpoint(tmp_path / "toy/exp/weights/last.pt")
    assert kept["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in kept["model"].values())


def _default_sigint() -> None:
    """A shell that starts jobs in the background hands them SIGINT ignored; Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_mid_epoch_then_resume_is_bit_exact(tmp_path):
    straight = tmp_path / "straight"
    assert _run(straight, "train.epochs=4").returncode == 0
    stopped = tmp_path / "stopped"
    process = subprocess.Popen([sys.executable, TOY, str(stopped), "train.epochs=4", "--sleep", "0.03"], env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    _wait_for_epochs(stopped / "toy/exp/results.csv", 1, process)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    kept = load_checkpoint(stopped / "toy/exp/weights/last.pt")
    assert f"partial epoch is discarded and {stopped / 'toy/exp/weights/last.pt'} holds epoch {kept['epoch'] + 1}" in out
    assert kept["epoch"] < 3, "the interrupt must land before the end"
    assert kept["step"] == 8 * (kept["epoch"] + 1), "last.pt holds an epoch-end state, not the partial epoch"
    resumed = _run(stopped, "train.epochs=4", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(straight / "toy/exp/weights/last.pt")
    b = load_checkpoint(stopped / "toy/exp/weights/last.pt")
    assert a["step"] == b["step"] == 32
    assert _states_equal(a["model"], b["model"]) and _states_equal(a["ema"], b["ema"])


def test_resume_from_a_copied_checkpoint_starts_a_new_run_dir_and_keeps_the_users_files(tmp_path, capsys):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path / 'runs'}", "train.epochs=2"])
    Trainer(ToyTask(), config).fit()
    elsewhere = tmp_path / "mine" / "ckpt"
    elsewhere.mkdir(parents=True)
    copied = elsewhere / "last.pt"
    copied.write_bytes((tmp_path / "runs/toy/exp/weights/last.pt").read_bytes())
    users = {"config.yaml": "my: settings\n", "results.csv": "my,numbers\n"}
    for name, text in users.items():
        (tmp_path / "mine" / name).write_text(text)
    config = load_config(ToyConfig, None, [f"run.project={tmp_path / 'runs'}", "train.epochs=3"])
    trainer = Trainer(ToyTask(), config, resume=copied)
    trainer.fit()
    assert trainer.run_dir == tmp_path / "runs/toy/exp2"
    assert "continuing its training in a new run dir" in capsys.readouterr().out
    assert load_checkpoint(trainer.run_dir / "weights/last.pt")["epoch"] == 2
    for name, text in users.items():
        assert (tmp_path / "mine" / name).read_text() == text


def test_resume_from_an_unfused_optimizer_state_trains_with_the_fused_step(tmp_path):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=2"])
    Trainer(ToyTask(), config).fit()
    last = tmp_path / "toy/exp/weights/last.pt"
    checkpoint = load_checkpoint(last)
    for group in checkpoint["optimizer"]["param_groups"]:
        group["fused"] = None  # as litebone before the fused step wrote it
    torch.save(checkpoint, last)
    trainer = Trainer(ToyTask(), load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=3"]), resume=last)
    trainer.fit()
    assert all(group["fused"] is True for group in trainer.optimizer.param_groups)
    assert load_checkpoint(last)["epoch"] == 2


def test_resume_inside_its_own_run_dir_continues_there_even_with_more_epochs(tmp_path):
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=2"])
    Trainer(ToyTask(), config).fit()
    longer = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=3"])
    trainer = Trainer(ToyTask(), longer, resume=tmp_path / "toy/exp")
    assert trainer.run_dir == tmp_path / "toy/exp"
    trainer.fit()
    assert len((tmp_path / "toy/exp/results.csv").read_text().strip().splitlines()) == 4


@pytest.mark.parametrize("in_the_way, overrides", [
    ("toy", []),
    ("toy/exp", ["run.exist_ok=true"]),
    ("toy/exp/weights", ["run.exist_ok=true"]),
    ("", []),
])
def test_a_file_where_a_run_folder_belongs_is_a_clear_error(tmp_path, in_the_way, overrides):
    project = tmp_path / "project"
    target = project / in_the_way if in_the_way else project
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("a user's file")
    config = load_config(ToyConfig, None, [f"run.project={project}", "train.epochs=1", *overrides])
    with pytest.raises(UserError, match=f"{target} is a file, but litebone needs a folder there"):
        Trainer(ToyTask(), config).fit()
    assert target.read_text() == "a user's file"


def test_untrusted_pickle_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"model": Payload()}, handle)
    with pytest.raises(UserError, match="weights-only loader refuses"):
        load_checkpoint(path)


def test_truncated_and_foreign_checkpoints_are_clear_errors(tmp_path):
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    atomic_save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a litebone checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_ddp_two_gloo_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", TOY,
         str(tmp_path / "ddp"), "train.epochs=2", "train.batch_size=4", "train.ema=false"],
        env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = _run(tmp_path / "single", "train.epochs=2", "train.batch_size=8", "train.ema=false")
    assert single.returncode == 0, single.stderr[-3000:]
    rank0 = torch.load(tmp_path / "ddp/final_rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp/final_rank1.pt", weights_only=True)
    alone = torch.load(tmp_path / "single/final_rank0.pt", weights_only=True)
    assert _states_equal(rank0, rank1)
    initial = ToyTask().build_model()
    for key in alone:
        torch.testing.assert_close(rank0[key], alone[key], atol=1e-5, rtol=1e-4)
    assert any(not torch.equal(alone[k], v) for k, v in initial.state_dict().items()), "weights must have moved"


def test_a_results_plot_that_fails_midway_keeps_the_earlier_plot(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from tasks.engine.results import plot_rows

    path = tmp_path / "results.png"
    path.write_bytes(b"the plot of the epochs before")

    def torn_savefig(figure, target, **kwargs):
        (open(target, "wb") if isinstance(target, (str, Path)) else target).write(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", torn_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_rows([{"epoch": 1, "train/loss": 2.0}], path)
    assert path.read_bytes() == b"the plot of the epochs before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.png"]


def test_the_results_plot_is_redrawn_after_validated_epochs_and_the_last(tmp_path, monkeypatch):
    """A plot costs 0.7 s; an epoch that is not validated adds no metric to look at (the last epoch is always drawn)."""
    import tasks.engine.trainer as trainer_module

    class HalfValidated(ToyTask):
        def validates(self, epoch, epochs):
            return epoch in (1, 2)

    drawn = []
    monkeypatch.setattr(trainer_module, "plot_rows", lambda rows, path: drawn.append(len(rows)))
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=4", "train.device=cpu"])
    Trainer(HalfValidated(), config).fit()
    assert drawn == [2, 3, 4]


def test_a_progress_bar_written_to_a_log_file_is_not_redrawn_every_step(tmp_path, capsys):
    """Off a terminal the bar redraws every 10 s; redrawing at every step filled logs with one line per step."""
    config = load_config(ToyConfig, None, [f"run.project={tmp_path}", "train.epochs=1", "train.device=cpu", "train.batch_size=2"])
    Trainer(ToyTask(), config).fit()
    redraws = capsys.readouterr().err.count("epoch 1/1:")
    assert 1 <= redraws <= 2  # the bar's start (and a due redraw at most), not one per each of the 32 steps
