"""How much surface texture a depth model copies into depth, and how well it keeps real depth edges.

    python -m benchmarks.depth_edges --data scenes/data.yaml runs/depth/a/weights/last.pt runs/depth/b/weights/last.pt

For each checkpoint, on the val split at the checkpoint's input size: the mean absolute difference
between the horizontal log-depth steps of prediction and ground truth, split by the ground truth's
step. Where it is flat (|d log gt| < ``--flat``, 0.01 by default) every predicted step is an edge
that is not there, such as texture; where it is not, the error measures blurred or misplaced edges.
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from tasks.depth.inference import load_depth_model
from tasks.depth.metrics import valid_mask
from tasks.depth.task import DepthTask


@torch.no_grad()
def edge_errors(weights: Path, data: Path, flat: float, batch_size: int = 16) -> tuple[float, float, int, int]:
    """(flat-region error, edge-region error, flat pairs, edge pairs) of one checkpoint on ``data``'s val split."""
    model, config, _ = load_depth_model(weights)
    model.eval()
    config.data.data = str(data)
    sums, counts = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.int64)
    task = DepthTask(config, splits=("val",))
    for batch in DataLoader(task.val_dataset(), batch_size=batch_size):
        images, depth = batch["image"], batch["depth"]
        log_pred, log_gt = model(images).clamp(min=1e-3).log(), depth.clamp(min=1e-3).log()
        pixel_valid = valid_mask(depth, task.max_depth, config.eval.min_depth)
        valid = pixel_valid[..., 1:] & pixel_valid[..., :-1]
        step_pred, step_gt = log_pred.diff(dim=-1), log_gt.diff(dim=-1)
        error = (step_pred - step_gt).abs()
        for index, region in enumerate((valid & (step_gt.abs() < flat), valid & (step_gt.abs() >= flat))):
            sums[index] += error[region].double().sum()
            counts[index] += region.sum()
    means = sums / counts.clamp(min=1)
    return means[0].item(), means[1].item(), int(counts[0]), int(counts[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="+", type=Path, help="depth checkpoints (.pt)")
    parser.add_argument("--data", type=Path, required=True, help="the depth data.yaml whose val split is scored")
    parser.add_argument("--flat", type=float, default=0.01, help="largest |d log gt| that counts as flat")
    args = parser.parse_args()
    print("| checkpoint | flat-region gradient error | edge-region gradient error | flat / edge pixel pairs |")
    print("|---|---|---|---|")
    for weights in args.weights:
        flat_error, edge_error, flat_pairs, edge_pairs = edge_errors(weights, args.data, args.flat)
        print(f"| {weights} | {flat_error:.5f} | {edge_error:.5f} | {flat_pairs:,} / {edge_pairs:,} |")


if __name__ == "__main__":
    main()
