"""The ``litebone`` command line."""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from .errors import UserError


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litebone", description="Lightweight backbones for YOLO detection and depth estimation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    backbones = commands.add_parser("backbones", help="list, describe and benchmark backbones")
    backbone_commands = backbones.add_subparsers(dest="backbones_command", required=True, metavar="ACTION")
    listing = backbone_commands.add_parser("list", help="curated backbones with their level channels")
    listing.add_argument("pattern", nargs="?", default="*", help="substring or shell pattern, e.g. 'mobilenet*'")
    listing.set_defaults(handler=_backbones_list)
    info = backbone_commands.add_parser("info", help="family, source, params, MACs and levels of one backbone")
    info.add_argument("name", help="curated name or any timm model name")
    info.add_argument("--size", type=int, default=224, help="input size for the MAC count (default 224)")
    info.set_defaults(handler=_backbones_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; exit status 0 on success, 2 on bad usage or user error, 1 on failure."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    try:
        args.handler(args)
    except (UserError, ValueError, FileNotFoundError) as error:
        print(f"litebone: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("litebone: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
