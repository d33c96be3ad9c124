"""Knowledge distillation (train.distill.*) for both tasks: the losses, the teacher checks, and a run with a teacher."""
import csv

import pytest
import torch

from heads.detect.yolo import YOLOHead
from tasks.cli import main
from tasks.depth.losses import distillation_loss as depth_distillation
from tasks.distill import FeatureImitation
from tasks.depth.synth import write_scenes
from tasks.detect.loss import distillation_loss as detect_distillation
from tasks.detect.synth import write_shapes
from tasks.engine import load_checkpoint

TINY = ["train.epochs=1", "train.batch_size=8", "train.workers=0", "model.backbone=mobilenetv3_small_075", "eval.samples=0"]


def test_detection_distillation_is_zero_for_the_same_model_and_positive_otherwise():
    head = YOLOHead([16, 16], [8, 16], num_classes=3).eval()
    other = YOLOHead([16, 16], [8, 16], num_classes=3).eval()
    features = [torch.randn(2, 16, 8, 8), torch.randn(2, 16, 4, 4)]
    raw = head(features)
    assert detect_distillation(head, raw, head, [r.clone() for r in raw], 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert detect_distillation(head, raw, other, other(features), 2.0).item() > 1e-3


def test_depth_distillation_is_zero_for_the_same_prediction_and_positive_otherwise():
    pred = torch.rand(2, 1, 8, 8) + 0.5
    assert depth_distillation(pred, pred.clone()).item() == 0.0
    assert depth_distillation(pred, pred * 1.1).item() == pytest.approx(torch.log(torch.tensor(1.1)).item(), rel=1e-5)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    data = write_shapes(root / "shapes", train=16, val=4, size=64, progress=False)
    assert main(["train", "detect", f"data.data={data}", "data.img_size=64", *TINY, "model.neck_kwargs={channels: 32}",
                 f"run.project={root / 'runs'}"]) == 0
    return root, data, root / "runs/detect/exp/weights/best.pt"


def test_a_student_trains_with_a_teacher_and_the_checkpoint_carries_it(teacher, tmp_path):
    _, data, weights = teacher
    assert main(["train", "detect", f"data.data={data}", "data.img_size=64", *TINY, "model.neck_kwargs={channels: 16}",
                 f"train.distill.teacher={weights}", "train.distill.weight=0.5", f"run.project={tmp_path}"]) == 0
    with open(tmp_path / "detect/exp/results.csv") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["train/distill"]) > 0
    saved = load_checkpoint(tmp_path / "detect/exp/weights/last.pt")["config"]["train"]["distill"]
    assert saved == {"teacher": str(weights), "weight": 0.5, "temperature": 2.0, "features": 0.0}


def _refused(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err, err


def test_a_teacher_of_other_classes_or_input_size_is_refused(teacher, tmp_path, capsys):
    root, data, weights = teacher
    renamed = tmp_path / "data.yaml"
    renamed.write_text(data.read_text().replace("circle", "disc"))
    base = ["train", "detect", *TINY, f"train.distill.teacher={weights}", f"run.project={tmp_path}"]
    _refused(capsys, [*base, f"data.data={renamed}", "data.img_size=64"], "distil from a teacher of these classes")
    _refused(capsys, [*base, f"data.data={data}", "data.img_size=96"], "distillation needs the same input")
    _refused(capsys, [*base, f"data.data={data}", "data.img_size=64", "model.neck_kwargs={extra_level: true}"],
             "distillation compares them anchor by anchor")


def test_a_teacher_of_the_other_task_is_refused(teacher, tmp_path, capsys):
    _, _, weights = teacher
    scenes = write_scenes(tmp_path / "scenes", train=4, val=2, size=64, progress=False)
    _refused(capsys, ["train", "depth", f"data.data={scenes}", "data.height=64", "data.width=64", *TINY,
                      f"train.distill.teacher={weights}", f"run.project={tmp_path}"], "is a detect checkpoint, not depth")


def test_a_depth_student_trains_with_a_depth_teacher_and_exports_without_it(tmp_path):
    scenes = write_scenes(tmp_path / "scenes", train=8, val=2, size=64, progress=False)
    common = ["train", "depth", f"data.data={scenes}", "data.height=64", "data.width=64", *TINY, "train.batch_size=4"]
    assert main([*common, f"run.project={tmp_path / 'teacher'}"]) == 0
    teacher = tmp_path / "teacher/depth/exp/weights/best.pt"
    assert main([*common, "model.backbone=mobilenetv2_050", f"train.distill.teacher={teacher}", f"run.project={tmp_path / 'student'}"]) == 0
    with open(tmp_path / "student/depth/exp/results.csv") as handle:
        assert float(next(csv.DictReader(handle))["train/distill"]) > 0
    teacher.unlink()  # the trained student no longer needs its teacher, also not to calibrate its INT8 export
    student = tmp_path / "student/depth/exp/weights/best.pt"
    assert main(["export", "depth", "--weights", str(student), "--int8", "--calib-images", "2", "--output", str(tmp_path / "s.onnx")]) == 0


def test_feature_imitation_is_zero_for_the_same_features_and_learns_across_widths():
    same = FeatureImitation([16, 24], [16, 24])
    features = [torch.randn(2, 16, 8, 8), torch.randn(2, 24, 4, 4)]
    assert same(features, [f.clone() for f in features]).item() == 0.0
    assert same(features, [f + 0.5 for f in features]).item() == pytest.approx(0.25, rel=1e-5)
    wider = FeatureImitation([16], [32])
    target = torch.randn(2, 32, 8, 8)
    loss = wider(features[:1], [target])
    loss.backward()
    assert loss.item() > 0 and wider.adapters[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pairs them level by level"):
        FeatureImitation([16, 24], [16])


def test_feature_imitation_adapters_train_resume_and_must_match_on_resume(teacher, tmp_path, capsys):
    _, data, weights = teacher
    common = ["train", "detect", f"data.data={data}", "data.img_size=64", *TINY, "model.neck_kwargs={channels: 16}",
              f"train.distill.teacher={weights}"]
    assert main([*common, "train.distill.features=1.0", f"run.project={tmp_path}"]) == 0
    with open(tmp_path / "detect/exp/results.csv") as handle:
        assert float(next(csv.DictReader(handle))["train/imitation"]) > 0
    first = load_checkpoint(tmp_path / "detect/exp/weights/last.pt")
    adapter = first["modules"]["imitation.adapters.0.weight"]
    assert adapter.shape == (32, 16, 1, 1)
    assert "imitation.adapters.0.weight" not in first["model"]
    assert main(["train", "detect", "--resume", str(tmp_path / "detect/exp/weights/last.pt"), "train.epochs=2"]) == 0
    second = load_checkpoint(tmp_path / "detect/exp/weights/last.pt")
    assert second["epoch"] == 1 and not torch.equal(second["modules"]["imitation.adapters.0.weight"], adapter)
    assert main(["train", "detect", "--resume", str(tmp_path / "detect/exp/weights/last.pt"), "train.epochs=3",
                 "train.distill.features=0"]) == 2
    assert "resume with the run's own train.distill settings" in capsys.readouterr().err


def test_a_depth_student_imitates_the_teachers_decoder_features(tmp_path):
    scenes = write_scenes(tmp_path / "scenes", train=8, val=2, size=64, progress=False)
    common = ["train", "depth", f"data.data={scenes}", "data.height=64", "data.width=64", *TINY, "train.batch_size=4"]
    assert main([*common, f"run.project={tmp_path / 'teacher'}"]) == 0
    teacher = tmp_path / "teacher/depth/exp/weights/best.pt"
    assert main([*common, "model.backbone=mobilenetv2_050", f"train.distill.teacher={teacher}", "train.distill.features=0.5",
                 f"run.project={tmp_path / 'student'}"]) == 0
    with open(tmp_path / "student/depth/exp/results.csv") as handle:
        assert float(next(csv.DictReader(handle))["train/imitation"]) > 0
