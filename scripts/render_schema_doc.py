"""Write docs/SCHEMA.md from tlskit/schema.py (the one place the columns are defined).

    .venv/bin/python scripts/render_schema_doc.py          # rewrite the doc
    .venv/bin/python scripts/render_schema_doc.py --check  # exit 1 if the doc is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from tlskit import schema

DOC = Path(__file__).resolve().parents[1] / "docs" / "SCHEMA.md"


def render() -> str:
    out = ["# Table schemas", "",
           "Generated from `tlskit/schema.py` by `scripts/render_schema_doc.py`; do not edit by hand.",
           "Times are tz-aware UTC; `<NA>` means not seen (or hidden by encryption), never guessed.",
           "List cells are Python lists; rows with equal lists may share one list object (every connection",
           "of a client program offers the same suites), so treat cells as read-only and copy before changing one.",
           ""]
    for table in schema.TABLES.values():
        out += [f"## `{table.name}`", "", table.meaning, "", "| column | dtype | meaning |", "|---|---|---|"]
        for c in table.columns:
            dtype = "category" if hasattr(c.dtype, "categories") else str(c.dtype)
            if hasattr(c.dtype, "categories"):
                dtype += " (" + ", ".join(map(str, c.dtype.categories)) + ")"
            out.append(f"| `{c.name}` | {dtype} | {c.meaning.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if DOC.exists() and DOC.read_text() == text else 1)
    DOC.write_text(text)
    print(f"wrote {DOC}")
