"""Every recipe in configs/ loads and trains one step (on tiny synthetic data, upstream weights off: no internet here)."""
from pathlib import Path

import pytest
import torch

from tasks.config import load_config
from tasks.depth import DepthConfig, DepthTask
from tasks.depth.synth import write_scenes
from tasks.detect import DetectConfig, DetectTask
from tasks.detect.synth import write_shapes

RECIPES = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes")
    return {"detect": write_shapes(root / "shapes", train=4, val=2, size=64, progress=False),
            "depth": write_scenes(root / "scenes", train=4, val=2, size=64, progress=False)}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_every_recipe_trains_one_step(recipe, tiny_data):
    depth = recipe.name.startswith("depth")
    task_class, config_class = (DepthTask, DepthConfig) if depth else (DetectTask, DetectConfig)
    size = ["data.height=64", "data.width=64"] if depth else ["data.img_size=64"]
    config = load_config(config_class, recipe, [f"data.data={tiny_data['depth' if depth else 'detect']}", "model.pretrained=false", *size])
    task = task_class(config)
    model = task.build_model().train()
    dataset = task.train_dataset()
    batch = (task.collate_fn or torch.utils.data.default_collate)([dataset[0], dataset[1]])
    loss, items = task.training_step(model, batch, torch.device("cpu"), task.training_modules(model))
    loss.backward()
    assert torch.isfinite(loss) and items
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
