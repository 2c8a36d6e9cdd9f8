"""load(path, workers=N) makes exactly the tables of load(path): every capture in data/ (with
its key log) and every public capture under conformance/, and a synthetic capture of
thousands of overlapping connections (benchmarks/make_capture.py), compared cell by cell,
with the same warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_same_result, busy_capture, every_capture, load_with_warnings


def test_every_capture_reads_the_same_with_workers() -> None:
    workers = 2  # (3 on the busy capture below)
    items = every_capture()
    assert len(items) > 20
    compared = 0
    for path, keylog in items:
        one, said_one = load_with_warnings(path, keylog, 1)
        many, said_many = load_with_warnings(path, keylog, workers)
        try:
            assert_same_result(one, many)
            assert said_one == said_many
        except AssertionError as exc:
            raise AssertionError(f"{path} (key log {keylog}), workers={workers}: {exc}") from exc
        compared += not isinstance(one, tuple)
    assert compared > 20


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 overlapping lab handshakes: many connections per worker, multi-segment hellos, bulk."""
    return busy_capture(tmp_path_factory.mktemp("busy") / "busy.pcap", 3000)


def test_busy_capture_reads_the_same_and_shares_the_work(busy: Path) -> None:
    one, said_one = load_with_warnings(busy, None, 1)
    for workers in (2, 3):
        many, said_many = load_with_warnings(busy, None, workers)
        assert_same_result(one, many)
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
    decrypting = [(p, k) for p, k in every_capture() if k is not None]
    assert decrypting
    path, keylog = decrypting[0]
    one, _ = load_with_warnings(path, keylog, 1)
    many, _ = load_with_warnings(path, keylog, 2)
    assert one.connections["decrypted"].fillna(False).any()
    assert_same_result(one, many)
