"""Hostile input: mutated captures never crash the native engine with anything but the typed
capture error, and never hang (every loop consumes input)."""

from __future__ import annotations

import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit._native_pcap import (
    alert,
    client_hello,
    pcapng,
    record,
    records,
    server_hello,
    tls12_handshake,
    tls_flow,
    write_pcap,
)
from tlskit.capture import load
from tlskit.errors import CaptureError

_SEEDS: dict[str, bytes] = {}


def _seed(tmp: Path, kind: str) -> bytes:
    if kind not in _SEEDS:
        script = [*tls12_handshake(), ("c", records(22, client_hello(padding=600), 100)), ("s", record(22, server_hello(version=772)) + record(21, alert(2, 40)))]
        flow = tls_flow(script)
        if kind == "pcap":
            _SEEDS[kind] = write_pcap(tmp / "seed.pcap", flow.packets).read_bytes()
        else:
            _SEEDS[kind] = pcapng([(0, p) for p in flow.packets], [("ether", 6)], secrets=b"CLIENT_RANDOM 00 11\n")
    return _SEEDS[kind]


mutation = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["pcap", "pcapng"]), edits=mutation, cut=st.integers(0, 1 << 16))
def test_mutated_captures_load_or_fail_typed(tmp_path: Path, kind: str, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_seed(tmp_path, kind))
    for pos, value in edits:
        data[pos % len(data)] = value
    path = tmp_path / f"fuzz.{kind}"
    path.write_bytes(bytes(data[: max(1, len(data) - cut % 200)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cap = load(path, progress=False)
        except CaptureError:
            return
    assert len(cap.connections) <= 40  # a damaged port or address makes another connection
    assert cap.messages["conn_id"].isin(cap.connections["conn_id"]).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(min_size=1, max_size=3000))
def test_random_tcp_payloads(tmp_path: Path, payload: bytes) -> None:
    # arbitrary bytes after a real record header: the record layer must not crash or spin
    flow = tls_flow([("c", record(22, client_hello())), ("s", b"\x16\x03\x03" + payload), ("c", payload)])
    path = write_pcap(tmp_path / "p.pcap", flow.packets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cap = load(path, progress=False)
    assert len(cap.connections) == 1
    assert cap.connections.iloc[0].sni == "example.com"
