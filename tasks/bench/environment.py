"""What a benchmark ran on: library versions, CPU/GPU model, threads and date."""
from __future__ import annotations

import datetime
import platform
from pathlib import Path

import timm
import torch


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo where it exists."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(device: torch.device, threads: int) -> dict[str, str]:
    """A flat record of the software and hardware a measurement was taken on."""
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "device": device.type,
        "cpu": cpu_model(),
        "threads": str(threads),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
        record["cuda"] = str(torch.version.cuda)
        record["cudnn"] = str(torch.backends.cudnn.version())
    return record
