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
