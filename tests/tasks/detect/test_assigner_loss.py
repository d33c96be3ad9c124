"""Task-aligned assignment and the detection loss on hand-built cases."""
import torch

from heads.detect import make_anchors
from heads.detect.yolo import YOLOHead
from tasks.detect.assigner import TaskAlignedAssigner
from tasks.detect.loss import DetectionLoss, distribution_focal_loss, pad_targets


def _grid(size=8, stride=8):
    anchors, strides = make_anchors([(size, size)], [stride])
    return anchors * strides, strides


def test_pad_targets_groups_rows_by_image_without_loops():
    targets = torch.tensor([[1, 0, 1, 1, 2, 2], [0, 2, 3, 3, 4, 4], [1, 1, 5, 5, 6, 6], [3, 0, 7, 7, 8, 8]], dtype=torch.float32)
    labels, boxes, mask = pad_targets(targets, batch_size=4)
    assert labels.shape == (4, 2) and mask.tolist() == [[True, False], [True, True], [False, False], [True, False]]
    assert labels[1].tolist() == [0, 1] and boxes[1, 1].tolist() == [5, 5, 6, 6]
    assert boxes[3, 0].tolist() == [7, 7, 8, 8]


def test_assigner_picks_topk_anchors_inside_the_box():
    anchors, _ = _grid()
    scores = torch.full((1, 64, 2), 0.5)
    gt = torch.tensor([[[8.0, 8.0, 40.0, 40.0]]])
    pred = gt.expand(1, 64, 4).clone()
    labels, boxes, target_scores, foreground = TaskAlignedAssigner(topk=10)(scores, pred, anchors, torch.tensor([[1]]), gt, torch.tensor([[True]]))
    inside = ((anchors > 8) & (anchors < 40)).all(1)
    assert foreground.sum() == 10
    assert inside[foreground[0]].all()
    assert (labels[0][foreground[0]] == 1).all()
    assert torch.allclose(boxes[0][foreground[0]], gt[0].expand(10, 4))
    assert (target_scores[0][foreground[0]][:, 1] > 0).all() and (target_scores[0][:, 0] == 0).all()
    assert target_scores[0][foreground[0]][:, 1].max() == torch.tensor(1.0)


def test_anchor_claimed_by_two_boxes_goes_to_the_better_overlap():
    anchors, _ = _grid()
    scores = torch.full((1, 64, 1), 0.5)
    gts = torch.tensor([[[0.0, 0.0, 64.0, 64.0], [16.0, 16.0, 32.0, 32.0]]])
    pred = torch.tensor([16.0, 16.0, 32.0, 32.0]).expand(1, 64, 4).clone()
    labels, boxes, _, foreground = TaskAlignedAssigner(topk=64)(scores, pred, anchors, torch.tensor([[0, 0]]), gts, torch.tensor([[True, True]]))
    inner = ((anchors > 16) & (anchors < 32)).all(1)
    assert foreground[0][inner].all()
    assert torch.allclose(boxes[0][inner], gts[0, 1].expand(int(inner.sum()), 4))


def test_no_ground_truth_means_no_foreground():
    anchors, _ = _grid()
    out = TaskAlignedAssigner()(torch.rand(2, 64, 3), torch.rand(2, 64, 4), anchors, torch.zeros(2, 0, dtype=torch.long),
                                torch.zeros(2, 0, 4), torch.zeros(2, 0, dtype=torch.bool))
    assert not out[3].any() and out[2].sum() == 0


def test_padded_boxes_are_never_assigned():
    anchors, _ = _grid()
    labels, boxes, mask = pad_targets(torch.tensor([[0, 0, 8.0, 8.0, 40.0, 40.0], [1, 0, 8.0, 8.0, 40.0, 40.0], [1, 0, 40.0, 40.0, 60.0, 60.0]]), 2)
    _, target_boxes, _, foreground = TaskAlignedAssigner()(torch.full((2, 64, 1), 0.5), boxes[:, :1].expand(2, 64, 4).clone(), anchors, labels, boxes, mask)
    assert foreground[0].any() and foreground[1].any()
    assert (target_boxes[0][foreground[0]] == torch.tensor([8.0, 8.0, 40.0, 40.0])).all()


def test_dfl_is_minimal_for_the_right_bins():
    target = torch.tensor([[2.25, 0.0, 5.5, 14.99]])
    right = torch.full((1, 4, 16), -20.0)
    for i, t in enumerate(target[0]):
        low = int(t)
        right[0, i, low] = torch.log(torch.tensor(low + 1 - float(t)) + 1e-9) + 20
        right[0, i, min(low + 1, 15)] = torch.log(torch.tensor(float(t) - low) + 1e-9) + 20
    wrong = torch.zeros(1, 4, 16)
    assert distribution_focal_loss(right, target).mean() < distribution_focal_loss(wrong, target).mean()
    assert distribution_focal_loss(right, target).mean() < 0.7


def _loss_setup():
    torch.manual_seed(0)
    head = YOLOHead([16, 16], [8, 16], num_classes=3)
    loss = DetectionLoss()
    return head, lambda raw, targets: loss(head, raw, targets)


def test_loss_is_finite_with_and_without_targets_and_backpropagates():
    head, loss_fn = _loss_setup()
    features = [torch.randn(2, 16, 8, 8, requires_grad=True), torch.randn(2, 16, 4, 4, requires_grad=True)]
    total, items = loss_fn(head(features), torch.tensor([[0, 1, 10.0, 10.0, 30.0, 40.0]]))
    total.backward()
    assert torch.isfinite(total) and items["box"] > 0 and items["dfl"] > 0
    assert features[0].grad.abs().sum() > 0
    empty, items = loss_fn(head(features), torch.zeros(0, 6))
    assert torch.isfinite(empty) and items["box"] == 0 and items["dfl"] == 0 and items["cls"] > 0


def test_loss_falls_when_the_head_fits_the_targets():
    head, loss_fn = _loss_setup()
    features = [torch.randn(1, 16, 8, 8), torch.randn(1, 16, 4, 4)]
    targets = torch.tensor([[0, 2, 12.0, 12.0, 44.0, 36.0]])
    optimizer = torch.optim.Adam(head.parameters(), lr=0.01)
    first = None
    for _ in range(60):
        total, _ = loss_fn(head(features), targets)
        first = first if first is not None else total.item()
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert total.item() < 0.3 * first
    boxes, scores = head.decode(head(features))
    best = scores[0, :, 2].argmax()
    assert torch.allclose(boxes[0, best], targets[0, 2:], atol=4.0)
