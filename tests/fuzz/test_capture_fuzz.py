"""Fuzzing the native reader with mutated REAL captures (complements tests/unit/test_native_fuzz.py,
which mutates synthetic ones).

Seeds are small public captures from conformance/ that reach deep code paths: a TLS 1.3
handshake decrypted with its key log (record decryption on mutated ciphertext), a pcapng with
Decryption Secrets Blocks, a gzip-compressed pcapng, an SSLv2-format hello, TLS 1.3 draft
hellos, a handshake split across segments. Mutations are byte edits, deletions, insertions of
random or repeated chunks (bogus lengths) and truncation, so lengths and offsets lie.

What must hold for every input: ``load`` returns a Capture (maybe with CaptureWarnings) or
raises CaptureError; never any other exception, no hang (pytest-timeout bounds the test),
and memory stays within the 300 MB budget of issue 6 (tracemalloc peak).
Hypothesis runs derandomized so CI sees the same cases every time.
"""

from __future__ import annotations

import contextlib
import tracemalloc
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE
from tlskit.capture import load
from tlskit.errors import CaptureError

FP = CONFORMANCE / "fingerprints"
SEEDS = {  # name -> (file, key log or None)
    "tls13-keys": ("wireshark/tls13-rfc8446.pcap", "wireshark/keys/tls13-rfc8446.keys"),
    "draft20-keys": ("wireshark/tls13-20-chacha20poly1305.pcap", "wireshark/keys/tls13-20-chacha20poly1305.keys"),
    "pcapng-dsb": ("wireshark/tls12-dsb.pcapng", None),
    "gzip": ("wireshark/dhe1.pcapng.gz", None),
    "sslv2": ("arkime/https2-301-get.pcap", None),
    "split-hello": ("arkime/tls-split-client-hello.pcap", None),
    "draft18": ("arkime/tls13.pcap", None),
}
MAX_INPUT = 64 << 10  # bounded input sizes keep each example fast
PEAK_LIMIT = 300 << 20  # the memory budget of issue 6, whatever the input
pytestmark = [
    pytest.mark.skipif(not FP.is_dir(), reason="conformance captures not available"),
    pytest.mark.timeout(240),  # a hang fails the test instead of stalling the suite
    pytest.mark.slow,
]
_CACHE: dict[str, bytes] = {}


def _seed(name: str) -> bytes:
    if name not in _CACHE:
        _CACHE[name] = (FP / SEEDS[name][0]).read_bytes()[:MAX_INPUT]
    return _CACHE[name]


edit = st.one_of(
    st.tuples(st.just("set"), st.integers(0, MAX_INPUT), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), st.integers(0, MAX_INPUT), st.integers(1, 64)),
    st.tuples(st.just("insert"), st.integers(0, MAX_INPUT), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("lengths"), st.integers(0, MAX_INPUT), st.sampled_from([b"\xff\xff", b"\x00\x00", b"\x7f\xff\xff\xff", b"\x40\x00"])),
)


def _mutate(data: bytes, edits: list[tuple], cut: int) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in edits:
        pos %= max(1, len(buf))
        if kind in ("set", "lengths"):
            buf[pos : pos + len(arg)] = arg
        elif kind == "delete":
            del buf[pos : pos + arg]
        else:
            buf[pos:pos] = arg
    return bytes(buf[: max(0, len(buf) - cut)])[:MAX_INPUT]


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(SEEDS)), edits=st.lists(edit, min_size=1, max_size=6), cut=st.integers(0, 300))
def test_mutated_real_captures(tmp_path: Path, seed: str, edits: list[tuple], cut: int) -> None:
    data = _mutate(_seed(seed), edits, cut)
    path = tmp_path / ("fuzz.pcapng.gz" if seed == "gzip" else "fuzz.pcap")
    path.write_bytes(data)
    keylog = SEEDS[seed][1]
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CaptureWarning with partial results is allowed
            try:
                cap = load(path, keylog=FP / keylog if keylog else None, progress=False)
            except CaptureError as err:
                assert str(path) in str(err)  # the typed error names the file
                return
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT
    # Partial results still hang together.
    assert cap.messages["conn_id"].isin(cap.connections["conn_id"]).all()
    assert cap.certificates["conn_id"].isin(cap.connections["conn_id"]).all()


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_truncation_points(tmp_path: Path, seed: str) -> None:
    """Cut each seed at a dozen offsets: truncated captures are the most common damage in practice."""
    data = _seed(seed)
    path = tmp_path / ("cut.pcapng.gz" if seed == "gzip" else "cut.pcap")
    for end in [*range(0, 64, 21), *range(64, len(data), max(1, len(data) // 10))]:
        path.write_bytes(data[:end])
        with warnings.catch_warnings(), contextlib.suppress(CaptureError):  # anything else fails
            warnings.simplefilter("ignore")
            load(path, progress=False)


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.sampled_from(sorted(SEEDS)), edits=st.lists(edit, min_size=1, max_size=6), cut=st.integers(0, 300))
def test_mutated_captures_read_alike_by_every_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: str,
                                                   edits: list[tuple], cut: int) -> None:
    """load(workers=2) and export_parquet (2-row chunks, none held back) on the same damaged
    input: the same tables and warnings as load(), or the same typed error."""
    from tests.helpers import assert_same_result, load_with_warnings
    from tlskit.capture import _export, export_parquet, read_parquet

    monkeypatch.setattr(_export, "HOLD", 0)
    data = _mutate(_seed(seed), edits, cut)
    path = tmp_path / ("fuzz.pcapng.gz" if seed == "gzip" else "fuzz.pcap")
    path.write_bytes(data)
    keylog = FP / SEEDS[seed][1] if SEEDS[seed][1] else None
    one, said_one = load_with_warnings(path, keylog, 1)
    many, said_many = load_with_warnings(path, keylog, 2)
    assert_same_result(one, many)
    assert said_one == said_many
    out = tmp_path / f"out-{len(data)}-{cut}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_parquet(path, out, keylog=keylog, progress=False, chunk_rows=2)
        exported = read_parquet(out)
    except CaptureError as err:
        assert one == ("CaptureError", str(err))
        assert not out.exists()  # nothing of a failed export stays behind
        return
    assert_same_result(one, exported)
