"""The README's quickstart runs as written, from the project root, on the bundled data."""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs() -> None:
    matplotlib.use("Agg")
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code, "no python block in the README"
    namespace: dict[str, object] = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code[1], "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
        import matplotlib.pyplot as plt

        plt.close("all")
    dx = namespace["dx"]
    assert dx.iloc[0]["cause"] != "ok"  # failures first  # type: ignore[attr-defined]
    assert "cause" in dx.columns  # type: ignore[attr-defined]
