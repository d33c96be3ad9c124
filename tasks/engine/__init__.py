"""The engine both tasks share: ``Trainer`` runs a ``Task``."""
from .checkpoint import atomic_save, export_safetensors, load_checkpoint
from .config import RunConfig, TrainConfig
from .task import Evaluation, Task
from .trainer import NonFiniteLossError, Trainer

__all__ = ["Evaluation", "NonFiniteLossError", "RunConfig", "Task", "TrainConfig", "Trainer", "atomic_save", "export_safetensors", "load_checkpoint"]
