"""Depth data (layout, presets, bad pairs), augmentation alignment, and DepthModel on every backbone."""
import cv2
import numpy as np
import pytest
import torch
import yaml

from backbones import list_backbones
from heads.depth import DepthHead
from tasks.depth.data import DepthDataset, load_depth_split, read_depth_yaml
from tasks.depth.losses import SILogLoss
from tasks.depth.model import DepthModel
from tasks.depth.synth import write_scenes
from tasks.depth.transforms import MetricZoom, train_transform
from tasks.errors import UserError


@pytest.fixture
def scenes(tmp_path):
    return tmp_path / "scenes", write_scenes(tmp_path / "scenes", train=5, val=2, size=64, seed=1, progress=False)


def test_synthetic_scenes_load_cleanly(scenes):
    root, path = scenes
    spec = read_depth_yaml(path)
    pairs, report = load_depth_split(spec, "train")
    assert len(pairs) == 5 and not report.problems and spec.depth_scale == 1000.0
    sample = DepthDataset(pairs, spec, (64, 64), train=False)[0]
    assert sample["image"].shape == (3, 64, 64) and sample["depth"].shape == (1, 64, 64)
    assert 0.5 < float(sample["depth"][sample["depth"] > 0].min()) < float(sample["depth"].max()) < 10


def test_renderer_is_deterministic_by_seed(tmp_path):
    a = write_scenes(tmp_path / "a", train=1, val=1, size=64, seed=7, progress=False).parent
    b = write_scenes(tmp_path / "b", train=1, val=1, size=64, seed=7, progress=False).parent
    assert np.array_equal(cv2.imread(str(a / "depth/train/000000.png"), -1), cv2.imread(str(b / "depth/train/000000.png"), -1))


@pytest.mark.parametrize("damage, problem", [
    ("missing", "without a depth file"),
    ("size", "size mismatches"),
    ("dtype", "wrong dtype"),
    ("invalid", "all-invalid"),
    ("npy_int", "wrong dtype"),
])
def test_bad_pairs_are_counted_and_skipped(scenes, damage, problem):
    root, path = scenes
    depth = root / "depth/train/000001.png"
    shape = cv2.imread(str(root / "images/train/000001.jpg")).shape[:2]
    if damage == "missing":
        depth.unlink()
    elif damage == "size":
        cv2.imwrite(str(depth), np.full((10, 10), 2000, np.uint16))
    elif damage == "dtype":
        cv2.imwrite(str(depth), np.full(shape + (3,), 20, np.uint8))
    elif damage == "invalid":
        cv2.imwrite(str(depth), np.zeros(shape, np.uint16))
    else:
        depth.unlink()
        np.save(root / "depth/train/000001.npy", np.full(shape, 2, np.int64))
    pairs, report = load_depth_split(read_depth_yaml(path), "train")
    assert len(pairs) == 4 and sum(n for what, n in report.problems.items() if problem in what) == 1
    assert problem in report.summary()


def test_npy_depth_in_metres_is_accepted(scenes):
    root, path = scenes
    png = root / "depth/train/000002.png"
    metres = cv2.imread(str(png), -1).astype(np.float32) / 1000
    png.unlink()
    np.save(root / "depth/train/000002.npy", metres)
    pairs, report = load_depth_split(read_depth_yaml(path), "train")
    assert len(pairs) == 5 and any(p.depth.endswith(".npy") for p in pairs)


def test_empty_split_and_bad_yaml(scenes, tmp_path):
    root, path = scenes
    for f in (root / "depth/val").iterdir():
        f.unlink()
    with pytest.raises(UserError, match="no usable image/depth pairs"):
        load_depth_split(read_depth_yaml(path), "val")
    (tmp_path / "bad.yaml").write_text("train: train\nval: val\n")
    with pytest.raises(UserError, match="depth_scale"):
        read_depth_yaml(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("train: train\nval: val\npreset: nyu2\n")
    with pytest.raises(UserError, match="unknown depth preset"):
        read_depth_yaml(tmp_path / "bad2.yaml")


def test_nyu_list_file_and_kitti_presets(tmp_path):
    root = tmp_path / "nyu"
    (root / "sync/kitchen").mkdir(parents=True)
    cv2.imwrite(str(root / "sync/kitchen/rgb_1.jpg"), np.zeros((48, 64, 3), np.uint8))
    cv2.imwrite(str(root / "sync/kitchen/sync_depth_1.png"), np.full((48, 64), 2500, np.uint16))
    (root / "train.txt").write_text("/kitchen/rgb_1.jpg /kitchen/sync_depth_1.png 518.8579\n".replace("/kitchen", "sync/kitchen"))
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "preset": "nyu", "train": "train.txt", "val": "train.txt"}))
    spec = read_depth_yaml(root / "data.yaml")
    pairs, _ = load_depth_split(spec, "train")
    sample = DepthDataset(pairs, spec, (32, 32), train=False)[0]
    assert spec.max_depth == 10.0 and float(sample["depth"].max()) == pytest.approx(2.5)
    kitti = tmp_path / "kitti"
    (kitti / "images/train").mkdir(parents=True)
    (kitti / "depth/train").mkdir(parents=True)
    cv2.imwrite(str(kitti / "images/train/a.png"), np.zeros((40, 120, 3), np.uint8))
    sparse = np.zeros((40, 120), np.uint16)
    sparse[20, ::7] = 30 * 256
    cv2.imwrite(str(kitti / "depth/train/a.png"), sparse)
    (kitti / "data.yaml").write_text(yaml.safe_dump({"preset": "kitti", "train": "train", "val": "train"}))
    spec = read_depth_yaml(kitti / "data.yaml")
    depth = DepthDataset(load_depth_split(spec, "train")[0], spec, (40, 120), train=False)[0]["depth"]
    assert spec.depth_scale == 256.0 and float(depth.max()) == pytest.approx(30.0) and float((depth > 0).float().mean()) < 0.02


def test_augmentation_keeps_image_and_depth_edges_aligned():
    image = np.zeros((96, 128, 3), np.uint8)
    image[:, 70:] = 255
    depth = np.full((96, 128), 2.0, np.float32)
    depth[:, 70:] = 6.0
    transform = train_transform((96, 128))
    for seed in range(20):
        transform.set_random_seed(seed)
        out = transform(image=image, mask=depth)
        img, dep = out["image"].astype(float).mean(-1), out["mask"]
        row = 48
        valid = dep[row] > 0
        bright = img[row] > img[row][valid].min() + 0.5 * (img[row][valid].max() - img[row][valid].min())
        far = dep[row] > dep[row][valid].min() * 1.5
        mismatch = (bright != far) & valid
        assert mismatch.sum() <= 2, f"seed {seed}: {mismatch.sum()} pixels disagree across the edge"
        assert set(np.unique(np.round(dep[row][valid] / dep[row][valid].min(), 3))) <= {1.0, 3.0}, "nearest interpolation keeps two depths"


def test_metric_zoom_divides_depth_by_the_zoom():
    zoom = MetricZoom(scale_limit=(1.25, 1.25), p=1.0)
    out = zoom(image=np.zeros((40, 40, 3), np.uint8), mask=np.full((40, 40), 5.0, np.float32))
    assert out["mask"].shape == (40, 40) and np.allclose(out["mask"], 4.0)
    shrink = MetricZoom(scale_limit=(0.8, 0.8), p=1.0)(image=np.zeros((40, 40, 3), np.uint8), mask=np.full((40, 40), 4.0, np.float32))
    assert np.allclose(shrink["mask"][20, 20], 5.0) and shrink["mask"][0, 0] == 0


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_data_metric_zoom_sets_how_often_depth_is_rescaled(scenes, probability):
    """With data.metric_zoom=0 every training depth is one the source map has; with 1 every map is rescaled."""
    from tasks.depth.config import DepthConfig
    from tasks.depth.task import DepthTask

    root, path = scenes
    config = DepthConfig()
    config.data.data, config.data.height, config.data.width, config.data.metric_zoom = str(path), 64, 64, probability
    dataset = DepthTask(config).train_dataset()
    torch.manual_seed(0)
    rescaled = []
    for index, pair in enumerate(dataset.pairs):
        millimetres = cv2.imread(str(pair.depth), -1)
        depth = dataset[index]["depth"].numpy()
        rescaled.append(not np.isin(np.round(depth[depth > 0] * 1000).astype(int), millimetres[millimetres > 0]).all())
    assert rescaled == [probability == 1.0] * len(dataset.pairs)


DECODERS = ["fastdepth", "unet", "fpn", "fusion"]


@pytest.mark.parametrize("name", list_backbones())
def test_every_curated_backbone_trains_one_step_with_each_decoder(name):
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    gt = torch.rand(2, 1, 64, 64) * 5 + 0.5
    for decoder in DECODERS:
        model = DepthModel(name, decoder=decoder).train()
        pred = model(images)
        assert pred.shape == (2, 1, 64, 64) and (pred > 0).all()
        loss = SILogLoss()(pred, gt, gt > 0)
        loss.backward()
        assert torch.isfinite(loss)
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters()), decoder


@pytest.mark.parametrize("mode, activation", [("metric", "sigmoid"), ("relative", "softplus"), ("metric", "exp"), ("relative", "exp")])
def test_head_modes(mode, activation):
    model = DepthModel("mobilenetv3_small_075", mode=mode, activation=activation, max_depth=7.0).eval()
    out = model(torch.randint(0, 255, (1, 3, 64, 96), dtype=torch.uint8))
    assert out.shape == (1, 1, 64, 96) and (out > 0).all()
    if activation == "sigmoid":
        assert (out <= 7.0).all()
    with pytest.raises(ValueError, match="needs mode='metric'"):
        DepthModel("mobilenetv3_small_075", mode="relative", activation="sigmoid")


def test_exp_head_predicts_log_depth_from_the_middle_of_the_range():
    head = DepthHead(8, activation="exp", max_depth=16.0)
    features = torch.zeros(2, 8, 5, 6)
    assert torch.allclose(head(features, (10, 12)), torch.full((2, 1, 10, 12), 4.0))  # sqrt(16): log-middle of 1 and 16 m
    with torch.no_grad():
        head.conv.weight.fill_(1.0)
    extreme = head(torch.full((1, 8, 2, 2), 1e4), (2, 2))
    assert torch.isfinite(extreme).all() and (head(-torch.full((1, 8, 2, 2), 1e4), (2, 2)) > 0).all()
    pred = head(torch.randn(2, 8, 5, 6, requires_grad=True), (10, 12))
    gt = torch.rand(2, 1, 10, 12) * 8 + 0.5
    log_error = torch.log(pred) - torch.log(gt)
    assert torch.allclose(SILogLoss(variance_focus=0.0, scale=1.0, gradient_weight=0.0, delta_weight=0.0)(pred, gt, gt > 0),
                          log_error.pow(2).flatten(1).mean(1).sqrt().mean(), atol=1e-5)


def test_unknown_depth_activation_lists_the_choices():
    with pytest.raises(ValueError, match="softplus.*exp.*sigmoid"):
        DepthHead(8, activation="relu")


def test_training_augmentation_is_reproducible_by_seed(scenes):
    root, path = scenes
    spec = read_depth_yaml(path)
    dataset = DepthDataset(load_depth_split(spec, "train")[0], spec, (64, 64), train=True)
    samples = []
    for _ in range(2):
        torch.manual_seed(11)
        samples.append([dataset[i]["depth"] for i in range(5)])
    assert all(torch.equal(a, b) for a, b in zip(*samples))
    torch.manual_seed(12)
    assert not all(torch.equal(a, dataset[i]["depth"]) for i, a in enumerate(samples[0]))


@pytest.mark.parametrize("damage, problem", [
    ("png8", "depth files of the wrong dtype"),
    ("npy_object", "unreadable depth files"),
    ("npy_truncated", "unreadable depth files"),
    ("npy_rgb", "depth files of the wrong shape"),
    ("png_truncated", "unreadable depth files"),
    ("both", "both a .png and a .npy depth file"),
    ("twin_image", "sharing one depth file"),
])
def test_more_bad_depth_files_are_counted_and_skipped(scenes, damage, problem):
    root, path = scenes
    depth = root / "depth/train/000001.png"
    shape = cv2.imread(str(root / "images/train/000001.jpg")).shape[:2]
    npy = root / "depth/train/000001.npy"
    if damage == "png8":
        cv2.imwrite(str(depth), np.full(shape, 200, np.uint8))
    elif damage == "png_truncated":
        depth.write_bytes(depth.read_bytes()[:60])
    elif damage == "both":
        np.save(npy, np.full(shape, 2.0, np.float32))
    elif damage == "twin_image":
        cv2.imwrite(str(root / "images/train/000001.png"), np.zeros(shape + (3,), np.uint8))
    else:
        depth.unlink()
        if damage == "npy_object":
            np.save(npy, np.array([object()] * 4, dtype=object), allow_pickle=True)
        elif damage == "npy_truncated":
            np.save(npy, np.full(shape, 2.0, np.float32))
            npy.write_bytes(npy.read_bytes()[:100])
        else:
            np.save(npy, np.full(shape + (3,), 2.0, np.float32))
    pairs, report = load_depth_split(read_depth_yaml(path), "train")
    skipped = 2 if damage == "twin_image" else 1
    assert len(pairs) == 4 and sum(n for what, n in report.problems.items() if problem in what) == skipped, report.summary()


def test_npy_depth_with_a_trailing_channel_is_squeezed(scenes):
    root, path = scenes
    png = root / "depth/train/000002.png"
    metres = cv2.imread(str(png), -1).astype(np.float32) / 1000
    png.unlink()
    np.save(root / "depth/train/000002.npy", metres[..., None])
    spec = read_depth_yaml(path)
    pairs, report = load_depth_split(spec, "train")
    assert len(pairs) == 5 and not report.problems
    batch = torch.utils.data.default_collate([DepthDataset(pairs, spec, (64, 64), train=True)[i] for i in range(5)])
    assert batch["depth"].shape == (5, 1, 64, 64)


def test_ultralytics_layout_names_the_image_folder(scenes):
    root, path = scenes
    data = yaml.safe_load(path.read_text())
    data.update(train="images/train", val="images/val")
    path.write_text(yaml.safe_dump(data))
    pairs, report = load_depth_split(read_depth_yaml(path), "train")
    assert len(pairs) == 5 and not report.problems


@pytest.mark.parametrize("text, message", [
    ("train: [x\n", "is not valid YAML"),
    ("- a\n", "must hold a mapping of keys"),
    ("train: train\nval: val\ndepth_scale: 0\nmax_depth: 10\n", "depth_scale must be a positive number"),
    ("train: train\nval: val\ndepth_scale: 1000\nmax_depth: ten\n", "max_depth must be a positive number"),
])
def test_malformed_depth_yaml_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "d.yaml").write_text(text)
    with pytest.raises(UserError, match=message):
        read_depth_yaml(tmp_path / "d.yaml")
