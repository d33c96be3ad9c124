"""Regenerate the README's backbone zoo table (between the zoo markers). Never edit the table by hand.

    python -m benchmarks.zoo_table
"""
from __future__ import annotations

import re
from pathlib import Path

from tasks.zoo import zoo_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- zoo:start -->", "<!-- zoo:end -->"


def main() -> None:
    text = README.read_text()
    table = zoo_markdown()
    new = re.sub(f"{START}.*?{END}", f"{START}\n{table}\n{END}", text, flags=re.S)
    README.write_text(new)
    print(f"wrote {table.count(chr(10)) - 1} rows to {README}")


if __name__ == "__main__":
    main()
