"""Monocular depth estimation on any litebone backbone: train, validate, predict, export."""
from .config import DepthConfig
from .inference import export, load_depth_model, predict, validate
from .model import DepthModel, build_depth_model
from .task import DepthTask

CONFIG = DepthConfig
make_task = DepthTask

__all__ = ["CONFIG", "DepthConfig", "DepthModel", "DepthTask", "build_depth_model", "export", "load_depth_model", "make_task", "predict", "validate"]
