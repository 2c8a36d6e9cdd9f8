"""load(path, workers=N) makes exactly the tables of load(path): every capture in data/ (with
its key log) and every public capture under conformance/, and a synthetic capture of
thousands of overlapping connections (benchmarks/make_capture.py), compared cell by cell,
with the same warnings."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tlskit
from tests.conftest import CONFORMANCE, DATA, ROOT


def _captures() -> list[tuple[Path, Path | None]]:
    items: list[tuple[Path, Path | None]] = []
    for capture in sorted(DATA.glob("**/capture.pcap")):
        keys = capture.parent / "keys.log"
        items.append((capture, keys if keys.is_file() and keys.stat().st_size else None))
    if CONFORMANCE.is_dir():
        items += [(p, None) for p in sorted((CONFORMANCE / "zeek" / "traces").glob("*.pcap"))]
        items += [(p, None) for p in sorted((CONFORMANCE / "fingerprints").glob("*/*"))
                  if ".pcap" in p.name or p.suffix == ".cap"]
    return items


def _load(path: Path, keylog: Path | None, workers: int) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = tlskit.load(path, keylog=keylog, progress=False, workers=workers)
        except tlskit.TlskitError as exc:
            result = (type(exc).__name__, str(exc))
    # cryptography warns once per parsed certificate, and a certificate already described in this
    # process (an earlier load) is not parsed again: compare tlskit's own warnings only
    return result, [str(w.message) for w in caught if issubclass(w.category, tlskit.CaptureWarning)]


def _assert_same(one: Any, many: Any) -> None:
    if isinstance(one, tuple) or isinstance(many, tuple):
        assert one == many
        return
    for table in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(many, table), check_exact=True)
    assert one.warnings == many.warnings


@pytest.mark.parametrize("workers", [2, 3])
def test_every_capture_reads_the_same_with_workers(workers: int) -> None:
    items = _captures()
    assert len(items) > 20
    compared = 0
    for path, keylog in items:
        one, said_one = _load(path, keylog, 1)
        many, said_many = _load(path, keylog, workers)
        try:
            _assert_same(one, many)
            assert said_one == said_many
        except AssertionError as exc:
            raise AssertionError(f"{path} (key log {keylog}), workers={workers}: {exc}") from exc
        compared += not isinstance(one, tuple)
    assert compared > 20


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 overlapping lab handshakes: many connections per worker, multi-segment hellos, bulk."""
    out = tmp_path_factory.mktemp("busy") / "busy.pcap"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_capture.py"), str(out),
                    "--connections", "3000"], check=True, capture_output=True)
    return out


def test_busy_capture_reads_the_same_and_shares_the_work(busy: Path) -> None:
    one, said_one = _load(busy, None, 1)
    many, said_many = _load(busy, None, 2)
    _assert_same(one, many)
    assert said_one == said_many
    assert len(one.connections) == 3000
    assert one.connections["conn_id"].tolist() == list(range(3000))
    # each worker read a fair share (the byte sum of the 4-tuple spreads ephemeral ports)
    from tlskit.capture._native._engine import NativeEngine

    counts = []
    for k in range(2):
        engine = NativeEngine(busy, share=(k, 2))
        counts.append(len(engine.tables()[1]))
    assert sum(counts) == 3000
    assert min(counts) > 3000 * 0.4


def test_keylog_and_pcapng_secrets_reach_every_worker() -> None:
    """TLS 1.3 decryption happens in each worker: decrypted connections are the same."""
    decrypting = [(p, k) for p, k in _captures() if k is not None]
    assert decrypting
    path, keylog = decrypting[0]
    one, _ = _load(path, keylog, 1)
    many, _ = _load(path, keylog, 2)
    assert one.connections["decrypted"].fillna(False).any()
    _assert_same(one, many)
