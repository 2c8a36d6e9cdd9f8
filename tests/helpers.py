"""Helpers shared by tests that run worker processes or need a busy capture."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

import tlskit
from tests.conftest import CONFORMANCE, DATA, ROOT


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`: what an interrupted run left behind."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def busy_capture(out: Path, connections: int) -> Path:
    """Overlapping lab handshakes laid out by benchmarks/make_capture.py (deterministic)."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_capture.py"), str(out),
                    "--connections", str(connections)], check=True, capture_output=True)
    return out


def every_capture() -> list[tuple[Path, Path | None]]:
    """(capture, key log or None) for every capture in data/ and under conformance/."""
    items: list[tuple[Path, Path | None]] = []
    for capture in sorted(DATA.glob("**/capture.pcap")):
        keys = capture.parent / "keys.log"
        items.append((capture, keys if keys.is_file() and keys.stat().st_size else None))
    if CONFORMANCE.is_dir():
        items += [(p, None) for p in sorted((CONFORMANCE / "zeek" / "traces").glob("*.pcap"))]
        items += [(p, None) for p in sorted((CONFORMANCE / "fingerprints").glob("*/*"))
                  if ".pcap" in p.name or p.suffix == ".cap"]
    return items


def load_with_warnings(path: Path, keylog: Path | None, workers: int) -> tuple[Any, list[str]]:
    """load()'s Capture (or its typed error as (type name, message)) and the CaptureWarnings said."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = tlskit.load(path, keylog=keylog, progress=False, workers=workers)
        except tlskit.TlskitError as exc:
            result = (type(exc).__name__, str(exc))
    # cryptography warns once per parsed certificate, and a certificate already described in this
    # process (an earlier load) is not parsed again: compare tlskit's own warnings only
    return result, [str(w.message) for w in caught if issubclass(w.category, tlskit.CaptureWarning)]


def assert_same_result(one: Any, other: Any) -> None:
    """Two loads of one capture made the same tables, cell by cell, and the same warnings (or
    raised the same typed error)."""
    if isinstance(one, tuple) or isinstance(other, tuple):
        assert one == other
        return
    for table in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(other, table), check_exact=True)
    assert one.warnings == other.warnings
