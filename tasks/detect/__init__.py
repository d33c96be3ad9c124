"""YOLO-style detection on any litebone backbone: train, validate, predict, export."""
from .config import DetectConfig
from .inference import export, load_detector, predict, validate
from .model import Detector, build_detector
from .task import DetectTask

CONFIG = DetectConfig
make_task = DetectTask

__all__ = ["CONFIG", "DetectConfig", "DetectTask", "Detector", "build_detector", "export", "load_detector", "make_task", "predict", "validate"]
