"""COCO mAP through pycocotools, a per-class AP table, PR curves and a confusion matrix.

The confusion matrix is written here (Ultralytics' convention: IoU 0.45, confidence 0.25, a
background row and column); pycocotools has none.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402
from torchvision.ops import box_iou  # noqa: E402

from ..files import save_figure  # noqa: E402


def coco_evaluate(
    gt_boxes: list[np.ndarray], gt_classes: list[np.ndarray], detections: list[np.ndarray],
    sizes: list[tuple[int, int]], num_classes: int,
) -> tuple[dict[str, float], np.ndarray | None]:
    """mAP50-95 and mAP50 over all images, plus COCOeval's precision array (T, R, K, A, M).

    Boxes are xyxy in original pixels; ``detections`` rows are ``[x1, y1, x2, y2, score, class]``.
    """
    images = [{"id": i, "height": h, "width": w} for i, (h, w) in enumerate(sizes)]
    annotations = []
    for image_id, (boxes, classes) in enumerate(zip(gt_boxes, gt_classes)):
        for box, cls in zip(boxes, classes):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(cls),
                                "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0})
    rows = [np.column_stack([np.full(len(d), i), d[:, 0], d[:, 1], d[:, 2] - d[:, 0], d[:, 3] - d[:, 1], d[:, 4], d[:, 5]])
            for i, d in enumerate(detections) if len(d)]
    if not annotations or not rows:
        return {"mAP50-95": 0.0, "mAP50": 0.0}, None
    ground_truth = COCO()
    ground_truth.dataset = {"images": images, "annotations": annotations, "categories": [{"id": k} for k in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        predicted = ground_truth.loadRes(np.concatenate(rows).astype(np.float64))
        evaluator = COCOeval(ground_truth, predicted, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {"mAP50-95": float(max(evaluator.stats[0], 0)), "mAP50": float(max(evaluator.stats[1], 0))}, evaluator.eval["precision"]


def per_class_ap(precision: np.ndarray | None, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """AP50-95 and AP50 per class (NaN for classes without ground truth)."""
    if precision is None:
        return np.full(num_classes, np.nan), np.full(num_classes, np.nan)
    all_area_100 = precision[:, :, :, 0, -1]
    ap = np.array([np.mean(p[p > -1]) if (p > -1).any() else np.nan for p in all_area_100.transpose(2, 0, 1)])
    ap50 = np.array([np.mean(p[p > -1]) if (p > -1).any() else np.nan for p in all_area_100[0].T])
    return ap, ap50


def ap_table(names: list[str], ap: np.ndarray, ap50: np.ndarray, instances: np.ndarray) -> str:
    """Per-class AP as aligned text."""
    width = max(8, *(len(n) for n in names))
    lines = [f"{'class':<{width}}  {'instances':>9}  {'AP50':>6}  {'AP50-95':>7}"]
    for name, count, a50, a in zip(names, instances, ap50, ap):
        lines.append(f"{name:<{width}}  {int(count):>9}  {a50:>6.3f}  {a:>7.3f}")
    return "\n".join(lines)


def confusion_matrix(gt_boxes, gt_classes, detections, num_classes: int, conf: float = 0.25, iou: float = 0.45) -> np.ndarray:
    """(C + 1) x (C + 1) counts, rows predicted, columns true; index C is background."""
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for boxes, classes, dets in zip(gt_boxes, gt_classes, detections):
        dets = dets[dets[:, 4] > conf]
        matched_gt, matched_det = set(), set()
        if len(boxes) and len(dets):
            overlaps = box_iou(torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(dets[:, :4], dtype=torch.float32)).numpy()
            pairs = np.argwhere(overlaps > iou)
            pairs = pairs[np.argsort(-overlaps[pairs[:, 0], pairs[:, 1]])]
            for g, d in pairs:
                if g not in matched_gt and d not in matched_det:
                    matched_gt.add(g)
                    matched_det.add(d)
                    matrix[int(dets[d, 5]), int(classes[g])] += 1
        for g, cls in enumerate(classes):
            if g not in matched_gt:
                matrix[num_classes, int(cls)] += 1
        for d in range(len(dets)):
            if d not in matched_det:
                matrix[int(dets[d, 5]), num_classes] += 1
    return matrix


def plot_pr_curves(precision: np.ndarray | None, names: list[str], path: Path) -> None:
    """Precision-recall at IoU 0.5 per class, and their mean."""
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    if precision is not None:
        recall = np.linspace(0, 1, precision.shape[1])
        curves = precision[0, :, :, 0, -1]
        for k, name in enumerate(names):
            if (curves[:, k] > -1).any():
                axis.plot(recall, np.clip(curves[:, k], 0, 1), linewidth=1, label=name)
        valid = np.where(curves > -1, curves, np.nan)
        axis.plot(recall, np.nanmean(valid, 1), color="black", linewidth=2.5, label="all classes")
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="PR curve @ IoU 0.5")
    axis.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)


def plot_confusion(matrix: np.ndarray, names: list[str], path: Path) -> None:
    """Column-normalised confusion matrix with counts."""
    labels = list(names) + ["background"]
    normalised = matrix / np.maximum(matrix.sum(0, keepdims=True), 1)
    size = max(4.5, 0.5 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size * 0.85))
    image = axis.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set(xlabel="true", ylabel="predicted", title="confusion matrix (conf 0.25, IoU 0.45)")
    if len(labels) <= 20:
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                axis.text(col, row, str(count), ha="center", va="center", fontsize=7, color="white" if normalised[row, col] > 0.5 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)
    plt.close(figure)
