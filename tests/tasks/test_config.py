"""YAML recipes into typed configs: defaults, extends, dotted overrides, and errors with suggestions."""
from dataclasses import dataclass, field

import pytest

from tasks.config import load_config, parse_overrides
from tasks.engine import RunConfig, TrainConfig
from tasks.errors import UserError


@dataclass
class Model:
    backbone: str = "mobilenetv3_small_100"
    out_indices: tuple[int, ...] = (2, 3, 4)
    pretrained: bool | str = False


@dataclass
class Recipe:
    model: Model = field(default_factory=Model)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=7))
    run: RunConfig = field(default_factory=RunConfig)


def test_defaults_recipe_and_overrides_layer_in_order(tmp_path):
    (tmp_path / "base.yaml").write_text("model:\n  backbone: ghostnet_100\ntrain:\n  lr: 0.01\n  batch_size: 4\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ntrain:\n  batch_size: 32\n")
    config = load_config(Recipe, tmp_path / "child.yaml", ["train.epochs=5", "model.out_indices=[3,4]", "model.pretrained=w.pt"])
    assert config.model.backbone == "ghostnet_100"
    assert config.train.lr == 0.01 and config.train.batch_size == 32 and config.train.epochs == 5
    assert config.model.out_indices == (3, 4)
    assert config.model.pretrained == "w.pt"
    assert config.train.optimizer == "adamw"


def test_yaml_booleans_map_back_to_literal_options(tmp_path):
    config = load_config(Recipe, None, ["train.amp=off", "run.name=off", "train.ema=off", "model.backbone=yes"])
    assert (config.train.amp, config.run.name, config.train.ema, config.model.backbone) == ("off", "off", False, "yes")
    (tmp_path / "r.yaml").write_text("train:\n  amp: off\n")
    assert load_config(Recipe, tmp_path / "r.yaml").train.amp == "off"


def test_an_override_keeps_the_sections_recipe_defaults():
    assert load_config(Recipe, None, ["train.lr=0.1"]).train.epochs == 7


def test_unknown_key_names_it_and_suggests():
    with pytest.raises(UserError, match=r"unknown config key 'train.epoch'. Did you mean 'epochs'\?"):
        load_config(Recipe, None, ["train.epoch=5"])
    with pytest.raises(UserError, match=r"unknown config key 'modle'. Did you mean 'model'\?"):
        load_config(Recipe, None, ["modle.backbone=x"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochs=five", "train.epochs: expected an integer"),
        ("train.lr=fast", "train.lr: expected a number"),
        ("train.ema=maybe", "train.ema: expected true or false"),
        ("train.optimizer=lion", r"train.optimizer: 'lion' is not one of \['adamw', 'sgd'\]"),
        ("model.out_indices=[a]", "model.out_indices: expected an integer"),
    ],
)
def test_wrong_types_name_the_key(override, message):
    with pytest.raises(UserError, match=message):
        load_config(Recipe, None, [override])


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="section.key=value"):
        parse_overrides(["train.epochs"])
    with pytest.raises(UserError, match="does not exist"):
        load_config(Recipe, tmp_path / "nope.yaml")


@pytest.mark.parametrize("recipe", sorted(p.name for p in __import__("pathlib").Path(__file__).resolve().parents[2].joinpath("configs").glob("*.yaml")))
def test_every_shipped_recipe_loads(recipe):
    from pathlib import Path

    from tasks.depth import DepthConfig
    from tasks.detect import DetectConfig

    path = Path(__file__).resolve().parents[2] / "configs" / recipe
    config = load_config(DepthConfig if recipe.startswith("depth") else DetectConfig, path)
    assert config.train.epochs > 0 and config.model.backbone


@pytest.mark.parametrize("recipe", ["detect", "depth"])
def test_the_default_recipes_are_the_dataclass_defaults_written_out(recipe):
    """configs/detect.yaml and configs/depth.yaml restate the defaults; a default changed in one place fails here."""
    from pathlib import Path

    import yaml

    from tasks.depth import DepthConfig
    from tasks.detect import DetectConfig

    cls = {"detect": DetectConfig, "depth": DepthConfig}[recipe]
    path = Path(__file__).resolve().parents[2] / "configs" / f"{recipe}.yaml"
    assert load_config(cls, path) == cls()
    written = yaml.safe_load(path.read_text())
    assert set(written) == {"model", "data", "loss", "eval", "train", "run"} - ({"eval"} if recipe == "detect" else set())


def test_an_extends_cycle_is_a_clear_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(UserError, match="extends itself through a cycle"):
        load_config(Recipe, tmp_path / "a.yaml")
    (tmp_path / "self.yaml").write_text("extends: self.yaml\n")
    with pytest.raises(UserError, match="cycle"):
        load_config(Recipe, tmp_path / "self.yaml")


@pytest.mark.parametrize("text, message", [
    ("train:\n  epochs: [5\n", "is not valid YAML"),
    ("- train\n", "must hold a mapping of keys"),
    ("extends: [base.yaml]\n", "extends must be one file name"),
])
def test_malformed_recipes_name_the_file(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(UserError, match=f"{tmp_path / 'r.yaml'}.*{message}|{message}"):
        load_config(Recipe, tmp_path / "r.yaml")


@pytest.mark.parametrize("override, message", [
    ("train.epochs=0", "train.epochs must be >= 1, got 0"),
    ("train.epochs=-1", "train.epochs must be >= 1, got -1"),
    ("train.accumulate=0", "train.accumulate must be >= 1"),
    ("train.batch_size=0", "train.batch_size must be >= 1"),
    ("train.lr=0", "train.lr must be > 0"),
    ("train.lr=nan", "train.lr must be > 0"),
    ("train.ema_decay=1.5", "train.ema_decay must be > 0 and < 1"),
    ("train.workers=-2", "train.workers must be >= 0"),
])
def test_out_of_range_values_name_the_key(override, message):
    with pytest.raises(UserError, match=message):
        load_config(Recipe, None, [override])


@pytest.mark.parametrize("override, message", [
    ("data.img_size=0", "data.img_size must be >= 32, got 0"),
    ("data.img_size=-64", "data.img_size must be >= 32, got -64"),
    ("data.mosaic=2", "data.mosaic must be >= 0 and <= 1"),
    ("eval.iou=0", "eval.iou must be > 0 and <= 1"),
])
def test_task_values_out_of_range_name_the_key(override, message):
    from tasks.detect import DetectConfig

    with pytest.raises(UserError, match=message):
        load_config(DetectConfig, None, [override])


@pytest.mark.parametrize("device, message", [
    ("banana", "train.device=banana is not a device litebone runs on"),
    ("cuda", "no CUDA GPU is visible.*use train.device=cpu"),
    ("cuda:3", "no CUDA GPU is visible"),
    ("mps", "not a device litebone runs on"),
])
def test_unknown_or_absent_devices_are_refused(device, message, monkeypatch):
    import torch

    from tasks.engine.distributed import parse_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match=message):
        parse_device(device)
    assert parse_device("auto").type == "cpu" and parse_device("CPU").type == "cpu"
