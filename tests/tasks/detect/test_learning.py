"""Learning test: a short CPU run on synthetic shapes must clear a mAP50 an untrained model cannot.

Measured on the 2-core CI machine: untrained mAP50 0.000, after 10 epochs about 0.29 (deterministic
seed). Threshold 0.12: more than 0.12 above anything an untrained model scores, and below the trained
result by a factor of ~2.4 to absorb run-to-run drift on other hardware. The same trained model's
INT8 export (16 calibration images), by onnxruntime's calibration and after one epoch of
quantisation-aware fine-tuning, must stay within 0.05 mAP50 of the fused FP32 model.
"""
import torch
from torch.utils.data import DataLoader

from tasks.config import load_config
from tasks.detect import DetectConfig, DetectTask
from tasks.detect.data import DetectionDataset, collate
from tasks.detect.synth import write_shapes
from tasks.engine import Trainer

THRESHOLD = 0.12
UNTRAINED_CEILING = 0.02
INT8_LOSS = 0.05  # the INT8 export of the trained model may lose at most this much mAP50 (measured: see the test)


def test_short_training_reaches_a_map_an_untrained_model_cannot(tmp_path):
    data = write_shapes(tmp_path / "shapes", train=320, val=64, size=128, seed=5, progress=False)
    config = load_config(DetectConfig, None, [
        f"data.data={data}", "data.img_size=128", "data.close_mosaic=3", "model.backbone=mobilenetv3_small_100",
        "train.epochs=10", "train.batch_size=16", "train.lr=0.004", "train.workers=0", "train.deterministic=true",
        f"run.project={tmp_path / 'runs'}", "eval.samples=0",
    ])
    task = DetectTask(config)
    untrained = task.build_model().eval()
    loader = DataLoader(DetectionDataset(task.val_records, 128, train=False), batch_size=16, collate_fn=collate)
    before = task.evaluate(untrained, loader, torch.device("cpu")).metrics["mAP50"]
    assert before < UNTRAINED_CEILING

    Trainer(task, config).fit()
    rows = (tmp_path / "runs/detect/exp/results.csv").read_text().splitlines()
    header = rows[0].split(",")
    after = max(float(r.split(",")[header.index("val/mAP50")]) for r in rows[1:])
    assert after > THRESHOLD, f"mAP50 {after:.3f} did not clear {THRESHOLD} (untrained {before:.3f})"

    from tasks.detect.inference import export, validate

    best = tmp_path / "runs/detect/exp/weights/best.pt"
    fp32 = validate(str(best), data=str(data), project=str(tmp_path / "val"))
    int8_path = export(str(best), int8=True, calib_images=16, output=str(tmp_path / "int8.onnx"))
    int8 = validate(str(int8_path), data=str(data), project=str(tmp_path / "val"))
    assert int8["mAP50"] >= fp32["mAP50"] - INT8_LOSS, f"INT8 mAP50 {int8['mAP50']:.3f} vs FP32 {fp32['mAP50']:.3f}"
    qat_path = export(str(best), int8=True, calib_images=16, qat_epochs=1, output=str(tmp_path / "qat.onnx"))
    qat = validate(str(qat_path), data=str(data), project=str(tmp_path / "val"))
    assert qat["mAP50"] >= fp32["mAP50"] - INT8_LOSS, f"QAT INT8 mAP50 {qat['mAP50']:.3f} vs FP32 {fp32['mAP50']:.3f}"
