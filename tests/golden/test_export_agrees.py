"""export_parquet streams rows to disk as connections finish; read back, its tables are exactly
load()'s: every capture in data/ (with its key log) and under conformance/, in chunks small
enough that connections straddle them, and a synthetic capture of thousands of overlapping
connections with workers."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import tlskit
from tests.conftest import CONFORMANCE, DATA
from tests.helpers import assert_same_result, busy_capture, every_capture, load_with_warnings


def _export(path: Path, keylog: Path | None, out: Path, **options: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tlskit.export_parquet(path, out, keylog=keylog, progress=False, **options)
            result: Any = tlskit.read_parquet(out)
        except tlskit.TlskitError as exc:
            result = (type(exc).__name__, str(exc))
    return result, [str(w.message) for w in caught if issubclass(w.category, tlskit.CaptureWarning)]


def _load(path: Path, keylog: Path | None) -> tuple[Any, list[str]]:
    return load_with_warnings(path, keylog, 1)


def _assert_same(loaded: Any, exported: Any) -> None:
    assert_same_result(loaded, exported)
    if not isinstance(loaded, tuple):
        assert exported.path == loaded.path and exported.keylog == loaded.keylog


def test_every_capture_exports_what_load_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tlskit.capture import _export as export_module

    monkeypatch.setattr(export_module, "HOLD", 0)  # flush every 2 rows: chunks end mid-capture everywhere
    items = every_capture()
    assert len(items) > 20 and CONFORMANCE.is_dir() and DATA.is_dir()
    for i, (path, keylog) in enumerate(items):
        loaded, said_load = _load(path, keylog)
        exported, said_export = _export(path, keylog, tmp_path / f"x{i}", chunk_rows=2)
        try:
            _assert_same(loaded, exported)
            assert said_load == said_export
        except AssertionError as exc:
            raise AssertionError(f"{path} (key log {keylog}): {exc}") from exc


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busy_capture(tmp_path_factory.mktemp("busy") / "busy.pcap", 3000)


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busy_capture(tmp_path_factory.mktemp("few") / "few.pcap", 200)


@pytest.mark.parametrize("chunk_rows,workers", [(97, 1), (250, 2), (100_000, 1)])
def test_busy_capture_in_chunks(busy: Path, tmp_path: Path, chunk_rows: int, workers: int) -> None:
    loaded, said_load = _load(busy, None)
    exported, said_export = _export(busy, None, tmp_path / "out", chunk_rows=chunk_rows, workers=workers)
    _assert_same(loaded, exported)
    assert said_load == said_export
    assert len(exported.connections) == 3000
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["capture.json", "certificates.parquet", "connections.parquet", "messages.parquet"]


def test_trailing_packets_of_rows_already_written_are_applied(few: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With one row per chunk and no row held back, every connection is written at its close;
    the last ACK after both FINs comes later and must still move its end time (TableBuilder.amended)."""
    from tlskit.capture import _export as export_module

    monkeypatch.setattr(export_module, "HOLD", 0)
    from tlskit.capture._builder import TableBuilder
    from tlskit.capture._native import NativeEngine

    chunks: list[Any] = []
    builder = TableBuilder(spill=chunks.append, spill_rows=1)
    NativeEngine(few).run(builder)
    assert len(chunks) == 200
    assert len(builder.amended) > 100  # most connections end with an ACK after their row was made
    first_written = {int(c[1]["first_frame"].iloc[0]): c[1]["end_time"].iloc[0] for c in chunks}
    loaded, said_load = _load(few, None)
    exported, said_export = _export(few, None, tmp_path / "out", chunk_rows=1)
    _assert_same(loaded, exported)
    assert said_load == said_export
    # the rows as first written ended earlier than the final ones: the amendments mattered
    final = dict(zip(loaded.connections["first_frame"].astype(int), loaded.connections["end_time"], strict=True))
    assert final.keys() == first_written.keys()
    assert sum(1 for frame, written in first_written.items() if final[frame] > written) > 100
