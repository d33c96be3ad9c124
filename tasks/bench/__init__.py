"""Side-by-side measurement of backbones on the user's own hardware (`litebone backbones bench`)."""
from .report import console_table, write_outputs
from .runner import BenchOptions, BenchResult, run_bench

__all__ = ["BenchOptions", "BenchResult", "console_table", "run_bench", "write_outputs"]
