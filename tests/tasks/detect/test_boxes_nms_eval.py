"""Letterbox round trips, NMS, and mAP agreement with pycocotools."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torchvision.ops import batched_nms

from tasks.detect.evaluate import coco_evaluate, confusion_matrix, per_class_ap
from tasks.detect.letterbox import PAD_VALUE, from_letterbox, letterbox
from tasks.detect.postprocess import non_max_suppression


def to_letterbox(boxes, info):
    """The forward map, written out independently: original pixels -> letterboxed input pixels."""
    out = boxes * info.ratio
    out[..., [0, 2]] += info.pad_x
    out[..., [1, 3]] += info.pad_y
    return out


@pytest.mark.parametrize("height, width", [(480, 640), (640, 480), (100, 100), (37, 211)])
def test_letterbox_then_unletterbox_is_identity(height, width):
    image = np.zeros((height, width, 3), np.uint8)
    boxed, info = letterbox(image, 320)
    assert boxed.shape == (320, 320, 3)
    boxes = np.array([[0, 0, width, height], [width * 0.25, height * 0.5, width * 0.75, height * 0.9]], np.float32)
    np.testing.assert_allclose(from_letterbox(to_letterbox(boxes.copy(), info), info), boxes, atol=1e-3)


def test_letterbox_puts_content_where_the_boxes_say():
    image = np.zeros((200, 400, 3), np.uint8)
    image[50:150, 100:200] = 255
    boxed, info = letterbox(image, 320)
    x1, y1, x2, y2 = to_letterbox(np.array([100.0, 50.0, 200.0, 150.0]), info)
    assert boxed[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2].min() == 255
    assert boxed[int(y2) + 2, int(x1) + 2, 0] == 0 and boxed[5, 5, 0] == PAD_VALUE


def test_nms_suppresses_same_class_overlaps_only():
    boxes = torch.tensor([[[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [50, 50, 60, 60]]], dtype=torch.float32)
    scores = torch.tensor([[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.6, 0.0]]])
    (out,) = non_max_suppression(boxes, scores, conf=0.25, iou=0.5)
    assert out[:, 4].tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert out[:, 5].tolist() == [0, 1, 0]
    (few,) = non_max_suppression(boxes, scores, conf=0.65, iou=0.5, max_det=1)
    assert len(few) == 1 and few[0, 4] == pytest.approx(0.9)


def test_batched_nms_matches_per_image_torchvision():
    torch.manual_seed(0)
    xy = torch.rand(3, 200, 2) * 100
    boxes = torch.cat([xy, xy + torch.rand(3, 200, 2) * 30 + 5], -1)
    scores = torch.rand(3, 200, 4)
    results = non_max_suppression(boxes, scores, conf=0.3, iou=0.5, max_det=40)
    for b in range(3):
        best, labels = scores[b].max(-1)
        keep = best > 0.3
        expected = batched_nms(boxes[b][keep], best[keep], labels[keep], 0.5)[:40]
        torch.testing.assert_close(results[b][:, :4], boxes[b][keep][expected])


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="thresholds"):
        non_max_suppression(torch.zeros(1, 1, 4), torch.zeros(1, 1, 1), conf=1.5)


def _scene(seed=0, images=6, classes=3):
    rng = np.random.default_rng(seed)
    gt_boxes, gt_classes = [], []
    for _ in range(images):
        n = rng.integers(1, 5)
        xy = rng.uniform(0, 200, (n, 2))
        gt_boxes.append(np.concatenate([xy, xy + rng.uniform(10, 80, (n, 2))], 1).astype(np.float32))
        gt_classes.append(rng.integers(0, classes, n))
    return gt_boxes, gt_classes, [(300, 300)] * images


def test_perfect_predictions_give_exactly_one():
    gt_boxes, gt_classes, sizes = _scene()
    detections = [np.column_stack([b, np.ones(len(b)), c]) for b, c in zip(gt_boxes, gt_classes)]
    metrics, precision = coco_evaluate(gt_boxes, gt_classes, detections, sizes, 3)
    assert metrics == {"mAP50-95": 1.0, "mAP50": 1.0}
    ap, ap50 = per_class_ap(precision, 3)
    assert np.allclose(ap, 1.0) and np.allclose(ap50, 1.0)


def test_perturbed_predictions_agree_with_pycocotools(tmp_path):
    gt_boxes, gt_classes, sizes = _scene(seed=1)
    rng = np.random.default_rng(2)
    detections = []
    for boxes, classes in zip(gt_boxes, gt_classes):
        noisy = boxes + rng.normal(0, 6, boxes.shape)
        flipped = np.where(rng.random(len(classes)) < 0.2, (classes + 1) % 3, classes)
        extra = np.array([[10, 10, 60, 60, 0.3, 0]])
        detections.append(np.concatenate([np.column_stack([noisy, rng.uniform(0.3, 1, len(boxes)), flipped]), extra]))
    ours, _ = coco_evaluate(gt_boxes, gt_classes, detections, sizes, 3)
    gt_json = {"images": [{"id": i, "height": 300, "width": 300} for i in range(len(sizes))], "categories": [{"id": k} for k in range(3)], "annotations": []}
    for i, (boxes, classes) in enumerate(zip(gt_boxes, gt_classes)):
        for box, cls in zip(boxes, classes):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            gt_json["annotations"].append({"id": len(gt_json["annotations"]) + 1, "image_id": i, "category_id": int(cls), "bbox": [float(box[0]), float(box[1]), w, h], "area": w * h, "iscrowd": 0})
    dt_json = [{"image_id": i, "category_id": int(d[5]), "bbox": [float(d[0]), float(d[1]), float(d[2] - d[0]), float(d[3] - d[1])], "score": float(d[4])}
               for i, dets in enumerate(detections) for d in dets]
    (tmp_path / "gt.json").write_text(json.dumps(gt_json))
    (tmp_path / "dt.json").write_text(json.dumps(dt_json))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        evaluator = COCOeval(coco, coco.loadRes(str(tmp_path / "dt.json")), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert 0.2 < ours["mAP50-95"] < 0.95
    assert ours["mAP50-95"] == pytest.approx(evaluator.stats[0], abs=1e-9)
    assert ours["mAP50"] == pytest.approx(evaluator.stats[1], abs=1e-9)


def test_no_detections_scores_zero():
    gt_boxes, gt_classes, sizes = _scene()
    metrics, _ = coco_evaluate(gt_boxes, gt_classes, [np.zeros((0, 6))] * len(sizes), sizes, 3)
    assert metrics == {"mAP50-95": 0.0, "mAP50": 0.0}


def test_confusion_matrix_counts_hits_confusions_and_misses():
    gt_boxes = [np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)]
    gt_classes = [np.array([0, 1, 1])]
    detections = [np.array([[0, 0, 10, 10, 0.9, 0], [20, 20, 30, 30, 0.9, 0], [70, 70, 80, 80, 0.9, 1]])]
    matrix = confusion_matrix(gt_boxes, gt_classes, detections, 2)
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 1] == 1 and matrix[1, 2] == 1
    assert matrix.sum() == 4
