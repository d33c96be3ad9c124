"""The ``litebone`` command line."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from .errors import UserError

TASKS = ("detect", "depth")


def _backbones_list(args: argparse.Namespace) -> None:
    from .zoo import format_table, list_rows

    rows = list_rows(args.pattern)
    if not rows:
        raise UserError(f"no curated backbone matches {args.pattern!r}; try `litebone backbones list` for all names")
    print(format_table(["name", "family", "source", "channels at strides 2/4/8/16/32"], rows))
    print(f"\n{len(rows)} curated backbones; any timm CNN name works too (`litebone backbones info <timm name>`).")


def _backbones_info(args: argparse.Namespace) -> None:
    from .zoo import info_text

    print(info_text(args.name, size=args.size))


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,8, got {text!r}") from None


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _number(expected: str, within: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {within}, got {value}")
        return value

    return parse


_fraction = _number("a number from 0 to 1", "from 0 to 1", lambda value: 0 <= value <= 1)
_positive = _number("a positive number", "a positive number", lambda value: 0 < value < float("inf"))


def _backbones_bench(args: argparse.Namespace) -> None:
    from .bench import BenchOptions, console_table, run_bench, write_outputs
    from .engine.runs import new_run_dir
    from .files import check_folders

    options = BenchOptions(
        names=args.names, size=args.size, batches=args.batch, device=args.device, threads=args.threads,
        channels_last=args.channels_last, fused=args.fused, rounds=args.rounds, warmup=args.warmup,
    )
    out_dir = check_folders(args.out) if args.out else new_run_dir("runs", "bench", "exp", exist_ok=False)
    if out_dir.is_dir() and any(out_dir.glob("bench.*")):
        raise UserError(f"{out_dir} already holds bench results; choose another --out, or omit it for a new runs/bench/expN")
    result = run_bench(options)
    paths = write_outputs(result, out_dir)
    print(console_table(result))
    if result.skipped:
        print(f"\nskipped {len(result.skipped)}: " + "; ".join(f"{name} ({why})" for name, why in result.skipped.items()))
    print(f"\n{len(result.rows)} backbones measured; table, CSV, JSON and plot in {out_dir}: "
          + ", ".join(path.name for path in paths.values()))


def _task_module(name: str):
    import importlib

    return importlib.import_module(f"tasks.{name}")


def _train(args: argparse.Namespace) -> None:
    from .config import from_dict, load_config, merge, parse_overrides
    from .engine import Trainer
    from .engine.checkpoint import load_checkpoint

    module = _task_module(args.task)
    if args.resume:
        checkpoint = Path(args.resume)
        checkpoint = checkpoint / "weights" / "last.pt" if checkpoint.is_dir() else checkpoint
        saved = load_checkpoint(checkpoint)
        if saved.get("task") != args.task:
            raise UserError(f"{checkpoint} is from a {saved.get('task')} run; resume it with litebone train {saved.get('task')} --resume {args.resume}")
        config = from_dict(module.CONFIG, merge(saved["config"], parse_overrides(args.overrides)))
        Trainer(module.make_task(config), config, resume=checkpoint).fit()
    else:
        config = load_config(module.CONFIG, args.config, args.overrides)
        Trainer(module.make_task(config), config).fit()


def _val(args: argparse.Namespace) -> None:
    _task_module(args.task).validate(args.weights, data=args.data, img_size=args.img_size, batch_size=args.batch, device=args.device,
                                     fuse=args.fuse)


def _predict(args: argparse.Namespace) -> None:
    options = {"img_size": args.img_size, "device": args.device, "fuse": args.fuse}
    if args.task == "detect":
        options.update(conf=args.conf, iou=args.iou, max_det=args.max_det, save_txt=args.save_txt)
    else:
        options.update(depth_format=args.depth_format)
    _task_module(args.task).predict(args.weights, args.source, **options)


def _export(args: argparse.Namespace) -> None:
    if args.task == "backbone":
        from .backbone_export import export_backbone

        if not args.weights_or_name:
            raise UserError("name the backbone: litebone export backbone mobilenetv3_large_100 --size 320")
        export_backbone(args.weights_or_name, fmt=args.format, size=args.img_size or 320, dynamic=args.dynamic,
                        output=args.output, weights=args.weights, out_indices=args.out_indices, overwrite=args.overwrite)
        return
    weights = args.weights or args.weights_or_name
    if not weights:
        raise UserError(f"give the weights: litebone export {args.task} --weights runs/{args.task}/exp/weights/best.pt")
    options = {"fmt": args.format, "img_size": args.img_size, "dynamic": args.dynamic, "output": args.output, "overwrite": args.overwrite,
               "fuse": args.fuse}
    if args.task == "detect":
        options.update(nms=args.nms, conf=args.conf, iou=args.iou)
    options.update(int8=args.int8, calib_images=args.calib_images, keep_float=args.keep_float, calib_method=args.calib_method,
                   qat_epochs=args.qat_epochs, qat_lr=args.qat_lr)
    _task_module(args.task).export(weights, **options)


def _prune(args: argparse.Namespace) -> None:
    from .prune import prune

    prune(args.task, args.weights, args.ratio, output=args.output, overwrite=args.overwrite, importance=args.importance)


def _synth(args: argparse.Namespace) -> None:
    from .files import check_folders

    out_dir = check_folders(args.out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise UserError(f"{out_dir} is not empty; synth writes a new dataset, so give it a new or empty folder")
    if args.kind == "shapes":
        from .detect.synth import write_shapes as write
    else:
        from .depth.synth import write_scenes as write
    path = write(args.out_dir, train=args.train, val=args.val, size=args.size, seed=args.seed)
    print(f"litebone: wrote {args.train} train and {args.val} val images; data file {path}")


def _ultralytics_yaml_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litebone ultralytics yaml", description=(
        "Write an Ultralytics YOLO model YAML whose backbone is a litebone backbone: HEAD's neck and Detect, "
        "every channel count filled in. Train it with `litebone ultralytics train model=FILE data=...`."))
    parser.add_argument("backbone", help="curated name or any timm model name")
    parser.add_argument("--head", default="yolov8n", help="the Ultralytics detector whose head is kept: yolov8n, yolo11s, yolo26m, ...")
    parser.add_argument("--nc", type=_at_least(1), default=80, help="number of classes (default 80; Ultralytics resets it from data.yaml)")
    parser.add_argument("--out-indices", type=_int_list, default=[2, 3, 4], help="the three levels that feed P3-P5 (default 2,3,4)")
    parser.add_argument("--pretrained", help="'true' for upstream weights, or a local .safetensors/.pt/.pth file")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="get_backbone option, e.g. width_mult=0.75")
    parser.add_argument("-o", "--output", help="output YAML (default BACKBONE-HEAD.yaml)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def _ultralytics_yaml(arguments: Sequence[str], bridge) -> None:
    import yaml

    from .files import atomic_write_text, check_output

    args = _ultralytics_yaml_parser().parse_args(arguments)
    options = {}
    for item in args.option:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UserError(f"--option takes KEY=VALUE, got {item!r}")
        options[key] = yaml.safe_load(value)
    if args.pretrained is not None:
        weights = Path(args.pretrained)
        if args.pretrained.lower() == "true":
            options["pretrained"] = True
        elif not weights.is_file():
            raise UserError(f"--pretrained {args.pretrained}: no such file; give a local weights file or 'true'")
        else:
            options["pretrained"] = str(weights.resolve())
    model = bridge.yolo_yaml(args.backbone, head=args.head, nc=args.nc, out_indices=args.out_indices, **options)
    inputs = [options["pretrained"]] if isinstance(options.get("pretrained"), str) else []
    output = check_output(args.output or f"{args.backbone}-{args.head}.yaml", inputs, args.overwrite)
    named_scale = bridge.scale_in_file_name(output)
    if named_scale and named_scale != args.head[-1]:
        raise UserError(f"Ultralytics reads the scale from the file name: {output.name} would build scale {named_scale!r}, "
                        f"not {args.head}'s {args.head[-1]!r}; name the file after {args.head}")
    comment = (f"litebone {args.backbone} backbone with the {args.head} head. Build it after `import backbones.ultralytics`,\n"
               f"or run it with `litebone ultralytics train model={output.name} data=...`.")
    atomic_write_text(output, bridge.format_yaml(model, comment))
    print(f"wrote {output}; train it with: litebone ultralytics train model={output} data=DATA.yaml")


def _ultralytics(args: argparse.Namespace) -> None:
    try:
        from backbones import ultralytics as bridge
    except ImportError as error:
        raise UserError(str(error)) from None
    if args.arguments[:1] == ["yaml"]:
        _ultralytics_yaml(args.arguments[1:], bridge)
    else:
        bridge.run_ultralytics(args.arguments)


def _fuse_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-fuse", dest="fuse", action="store_false",
                        help="run the model as trained instead of its fused inference copy (BatchNorm folded)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litebone", description="Lightweight backbones for YOLO detection and depth estimation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a detector or depth estimator", description=(
        "Train through the shared engine. With no data configured, synthetic data is generated. "
        "Overrides are dotted keys, e.g. train.epochs=5 model.backbone=ghostnet_100."))
    train.add_argument("task", choices=TASKS)
    train.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")
    train.add_argument("--config", help="YAML recipe (see configs/)")
    train.add_argument("--resume", metavar="RUN_DIR_OR_CKPT", help="continue a run from its weights/last.pt")
    train.set_defaults(handler=_train)

    val = commands.add_parser("val", help="evaluate trained weights on a validation split")
    val.add_argument("task", choices=TASKS)
    val.add_argument("--weights", required=True, help="best.pt, last.pt or best.safetensors")
    val.add_argument("--data", help="data.yaml (default: the one the model was trained on)")
    val.add_argument("--img-size", type=_at_least(32))
    val.add_argument("--batch", type=_at_least(1), default=16)
    val.add_argument("--device", default="cpu")
    _fuse_flag(val)
    val.set_defaults(handler=_val)

    predict = commands.add_parser("predict", help="run trained weights on an image or a folder")
    predict.add_argument("task", choices=TASKS)
    predict.add_argument("--weights", required=True)
    predict.add_argument("--source", required=True, help="an image file or a folder of images")
    predict.add_argument("--img-size", type=_at_least(32))
    predict.add_argument("--device", default="cpu")
    predict.add_argument("--conf", type=_fraction, default=0.25, help="detect: confidence threshold")
    predict.add_argument("--iou", type=_fraction, default=0.7, help="detect: NMS IoU threshold")
    predict.add_argument("--max-det", type=_at_least(1), default=300, help="detect: detections per image")
    predict.add_argument("--save-txt", action="store_true", help="detect: YOLO txt labels instead of JSON")
    predict.add_argument("--depth-format", choices=["png16", "npy"], default="png16", help="depth: raw depth file format")
    _fuse_flag(predict)
    predict.set_defaults(handler=_predict)

    export = commands.add_parser("export", help="export trained weights, or a bare backbone, to ONNX")
    export.add_argument("task", choices=[*TASKS, "backbone"])
    export.add_argument("weights_or_name", nargs="?", help="weights file (same as --weights); for backbone: its name")
    export.add_argument("--weights", help="for backbone: optional local weights file (.safetensors/.pt/.pth)")
    export.add_argument("--format", default="onnx")
    export.add_argument("--img-size", "--size", dest="img_size", type=_at_least(32))
    export.add_argument("--nms", action="store_true", help="detect: include NMS (batch 1)")
    export.add_argument("--conf", type=_fraction, default=0.25, help="detect with --nms: confidence threshold")
    export.add_argument("--iou", type=_fraction, default=0.7, help="detect with --nms: IoU threshold")
    export.add_argument("--dynamic", action="store_true", help="dynamic batch size")
    export.add_argument("--out-indices", type=_int_list, default=[2, 3, 4], help="backbone: levels to output (default 2,3,4)")
    export.add_argument("--output", help="output path (default: next to the weights)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing output file (never an input)")
    export.add_argument("--int8", action="store_true", help="detect/depth: INT8 static quantisation (onnxruntime, QDQ)")
    export.add_argument("--calib-images", type=_at_least(1), default=64, help="--int8: training images to calibrate on (default 64)")
    export.add_argument("--keep-float", type=_at_least(0), default=0,
                        help="--int8: keep the K layers measured to lose most in float (default 0)")
    export.add_argument("--calib-method", choices=["percentile", "minmax"], default="percentile",
                        help="--int8: activation ranges from the 99.99th percentile (default) or the extremes")
    export.add_argument("--qat-epochs", type=_at_least(0), default=0, metavar="N",
                        help="--int8: fine-tune N epochs with the quantisation in the loop (torch.ao) and export its "
                             "learned ranges, instead of onnxruntime's calibration (default 0: off)")
    export.add_argument("--qat-lr", type=_positive, default=1e-4, help="--qat-epochs: peak learning rate (default 1e-4)")
    _fuse_flag(export)
    export.set_defaults(handler=_export)

    prune = commands.add_parser("prune", help="remove channels from a trained model (torch-pruning), to fine-tune with model.init=")
    prune.add_argument("task", choices=TASKS)
    prune.add_argument("--weights", required=True)
    prune.add_argument("--ratio", type=float, required=True, help="share of channels to remove from each prunable layer, in (0, 1)")
    prune.add_argument("--importance", default="bn", metavar="CRITERION",
                       help="which channels go first: bn (BatchNorm scale, default), or l2 or l1 weight magnitude")
    prune.add_argument("--output", help="pruned checkpoint (default: next to the weights, NAME.prunedRR.pt)")
    prune.add_argument("--overwrite", action="store_true", help="replace an existing output file (never an input)")
    prune.set_defaults(handler=_prune)

    synth = commands.add_parser("synth", help="generate a synthetic dataset")
    synth.add_argument("kind", choices=["shapes", "scenes"], help="shapes: detection (YOLO format); scenes: depth")
    synth.add_argument("out_dir")
    synth.add_argument("--train", type=_at_least(1), default=1000)
    synth.add_argument("--val", type=_at_least(1), default=200)
    synth.add_argument("--size", type=_at_least(32), default=256)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(handler=_synth)

    ultra = commands.add_parser("ultralytics", help="Ultralytics' own YOLO commands with litebone backbones (litebone[ultralytics])",
                                description=(
        "`litebone ultralytics yaml BACKBONE --head yolov8n --nc N -o FILE` writes a YOLO YAML with the backbone swapped; "
        "anything else goes to Ultralytics' `yolo` command with litebone's modules registered, "
        "e.g. `litebone ultralytics train model=FILE data=data.yaml imgsz=320 epochs=30`."))
    ultra.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARGS", help="yaml ... | a yolo command")
    ultra.set_defaults(handler=_ultralytics)

    backbones = commands.add_parser("backbones", help="list and describe backbones")
    backbone_commands = backbones.add_subparsers(dest="backbones_command", required=True, metavar="ACTION")
    listing = backbone_commands.add_parser("list", help="curated backbones with their level channels")
    listing.add_argument("pattern", nargs="?", default="*", help="substring or shell pattern, e.g. 'mobilenet*'")
    listing.set_defaults(handler=_backbones_list)
    info = backbone_commands.add_parser("info", help="family, source, params, MACs and levels of one backbone")
    info.add_argument("name", help="curated name or any timm model name")
    info.add_argument("--size", type=_at_least(32), default=224, help="input size for the MAC count (default 224)")
    info.set_defaults(handler=_backbones_info)
    bench = backbone_commands.add_parser("bench", help="latency, throughput, memory, params and MACs on this machine", description=(
        "Measure backbones side by side: warm-up, then interleaved rounds with the thread count set. Writes a table, "
        "CSV, Markdown, JSON and a latency-vs-MACs plot. Names are curated or timm names, or shell patterns."))
    bench.add_argument("names", nargs="*", metavar="NAME_OR_PATTERN", help="e.g. mobilenetv3_large_100 'shufflenet_v2*' (default: all curated)")
    bench.add_argument("--size", type=int, default=320, help="square input size, a multiple of 32 (default 320)")
    bench.add_argument("--batch", type=_int_list, default=[1, 8], help="comma-separated batch sizes (default 1,8)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    bench.add_argument("--threads", type=int, help="CPU threads (default: torch's current setting)")
    bench.add_argument("--channels-last", action="store_true", help="NHWC weights and inputs")
    bench.add_argument("--fused", action="store_true", help="measure the fused inference copy, and its speed-up over unfused")
    bench.add_argument("--rounds", type=int, default=20, help="interleaved timing rounds (default 20)")
    bench.add_argument("--warmup", type=int, default=3, help="warm-up calls per model and batch size (default 3)")
    bench.add_argument("--out", help="output folder (default runs/bench/expN)")
    bench.set_defaults(handler=_backbones_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; exit status 0 on success, 2 on bad usage or user error, 1 on failure."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "command", None) != "train" or any(item.startswith("-") or "=" not in item for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    warnings.filterwarnings("ignore", category=UserWarning)
    from backbones import WeightsUnavailableError

    try:
        args.handler(args)
    except (UserError, ValueError, FileNotFoundError, WeightsUnavailableError) as error:
        print(f"litebone: error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from .engine import NonFiniteLossError

        if not isinstance(error, NonFiniteLossError):
            raise
        print(f"litebone: training failed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("litebone: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
