"""Write one benchmark's section of docs/benchmarks.md between its start and end markers."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(name: str, body: str, docs: Path = DOCS) -> None:
    """Replace the text between `<!-- name:start -->` and `<!-- name:end -->` with body, or
    append the section where the markers are not there yet."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n\n{body}\n\n{end}"
    text = docs.read_text(encoding="utf-8") if docs.is_file() else "# Benchmarks\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    docs.parent.mkdir(exist_ok=True)
    docs.write_text(text, encoding="utf-8")
