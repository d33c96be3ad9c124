"""`litebone backbones list|info` and the README zoo table."""
import re
import subprocess
import sys
from pathlib import Path

from tasks.cli import main
from tasks.zoo import list_rows

README = Path(__file__).resolve().parents[2] / "README.md"


def test_list_filters_by_pattern(capsys):
    assert main(["backbones", "list", "ghostnet"]) == 0
    out = capsys.readouterr().out
    assert "ghostnet_100" in out and "16/24/40/112/160" in out and "mobilenet" not in out


def test_info_prints_family_source_params_macs_and_levels(capsys):
    assert main(["backbones", "info", "mobilenetv2_100", "--size", "160"]) == 0
    out = capsys.readouterr().out
    for expected in ("MobileNetV2", "timm", "Sandler", "MACs", "at 160x160", "2: stride  8,   32 ch", "4: stride 32,  320 ch"):
        assert expected in out


def test_unknown_name_is_a_usage_error_without_traceback(capsys):
    assert main(["backbones", "info", "mobilnetv2_100"]) == 2
    err = capsys.readouterr().err
    assert "Closest names" in err and "Traceback" not in err


def test_console_script_help_and_bad_usage():
    ok = subprocess.run([sys.executable, "-m", "tasks.cli", "backbones", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "list" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "tasks.cli", "backbones", "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_readme_zoo_table_is_current():
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| ([^|]+) \|$", README.read_text(), flags=re.M)
    expected = [(name, channels) for name, _, _, channels in list_rows()]
    assert [(name, channels.strip()) for name, channels in rows] == expected, "run: python -m benchmarks.zoo_table"
