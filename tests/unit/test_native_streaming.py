"""The native engine as a stream: the in-place pcap loop agrees with the per-packet path,
connections become rows when both sides end, trailing packets still count, and closed
connections do not pile up in memory."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.unit._native_pcap import (
    ACK,
    FIN,
    RST,
    Flow,
    pcapng,
    tls12_handshake,
    tls_flow,
    write_pcap,
)
from tlskit.capture import load
from tlskit.capture._builder import TableBuilder
from tlskit.capture._native import NativeEngine
from tlskit.capture._native import _engine as engine_module


def _tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cap = load(path, progress=False)
    return cap.messages, cap.connections, cap.certificates


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal tables; times within a microsecond (the test's writer rounds each file's clock)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        if isinstance(a[column].dtype, pd.DatetimeTZDtype):
            assert ((a[column] - b[column]).abs().fillna(pd.Timedelta(0)) <= pd.Timedelta(microseconds=1)).all(), column
        elif column != "handshake_duration":
            pd.testing.assert_series_equal(a[column], b[column])


def _flows(n: int, t: float = 1_700_000_000.0) -> list[Any]:
    packets = []
    for i in range(n):
        flow = tls_flow(tls12_handshake(), client=("10.0.0.1", 40000 + i), t=t + i * 0.01)
        packets.extend(flow.packets)
    return sorted(packets, key=lambda p: p.time)


@pytest.mark.parametrize(("big_endian", "nanos", "compress"),
                         [(True, False, False), (False, True, False), (False, False, True)])
def test_the_in_place_pcap_loop_reads_every_layout_alike(tmp_path: Path, big_endian: bool, nanos: bool,
                                                         compress: bool) -> None:
    packets = _flows(5)
    reference = _tables(write_pcap(tmp_path / "le.pcap", packets))
    other = _tables(write_pcap(tmp_path / "x.pcap", packets, big_endian=big_endian, nanos=nanos, compress=compress))
    assert len(reference[1]) == 5 and reference[1]["established"].all()
    for a, b in zip(reference, other, strict=True):
        _assert_same(a, b)


@pytest.mark.parametrize("layout", ["epb", "epb-nanoseconds", "obsolete-packet-blocks"])
def test_pcapng_reads_like_pcap(tmp_path: Path, layout: str) -> None:
    # EPBs are decoded in place in runs; obsolete Packet Blocks come one by one: same tables
    packets = _flows(3)
    data = pcapng([(0, p) for p in packets], [("ether", 9 if layout == "epb-nanoseconds" else 6)],
                  legacy=layout == "obsolete-packet-blocks")
    (tmp_path / "c.pcapng").write_bytes(data)
    a = _tables(write_pcap(tmp_path / "c.pcap", packets))
    b = _tables(tmp_path / "c.pcapng")
    assert len(b[1]) == 3
    for x, y in zip(a, b, strict=True):
        _assert_same(x, y)


def test_pcapng_interfaces_and_secrets_declared_between_runs(tmp_path: Path) -> None:
    # a second interface (raw IP) declared after packets of the first: each packet keeps its
    # own link type and clock
    first, second = _flows(2), _flows(2, t=1_700_000_100.0)
    for p in second:
        p.src, p.dst = p.src.replace("10.0.0", "10.9.0"), p.dst.replace("10.0.0", "10.9.0")
    one = pcapng([(0, p) for p in first], [("ether", 6)])
    both = pcapng([(1, p) for p in second], [("ether", 6), ("raw", 9)])
    # the second file's section header, interfaces and packets follow the first file's packets
    (tmp_path / "m.pcapng").write_bytes(one + both)
    _m, conns, _x = _tables(tmp_path / "m.pcapng")
    assert conns["client_ip"].tolist() == ["10.0.0.1"] * 2 + ["10.9.0.1"] * 2
    assert conns["established"].all()
    assert conns["start_time"].iloc[2] == pd.Timestamp(second[0].time, unit="s", tz="UTC").round("us")


def test_trailing_packets_after_both_sides_ended_still_count(tmp_path: Path) -> None:
    flow = tls_flow(tls12_handshake())  # ends with FIN from each side
    last_fin = flow.packets[-1]
    flow.add("c", ACK, dt=0.2)  # the final ACK
    late = flow.add("s", FIN | ACK, seq=last_fin.seq, dt=1.5)  # the server's FIN again (RTO)
    _m, conns, _x = _tables(write_pcap(tmp_path / "t.pcap", flow.packets))
    row = conns.iloc[0]
    assert row.tcp_end == "fin" and row.established
    assert row.end_time == pd.Timestamp(late.time, unit="s", tz="UTC").round("us")
    assert row.retransmissions == 1


def test_a_reset_ends_the_connection_for_both_sides(tmp_path: Path) -> None:
    flow = tls_flow(tls12_handshake()[:2])  # ClientHello, ServerHello... then the client resets
    del flow.packets[-2:]  # tls_flow closed with FINs: replace them by a reset
    flow.close("c", rst=True)
    late = flow.add("s", ACK, dt=0.05)  # in flight when the reset arrived
    _m, conns, _x = _tables(write_pcap(tmp_path / "r.pcap", flow.packets))
    row = conns.iloc[0]
    assert (row.tcp_end, row.tcp_end_by) == ("rst", "client")
    assert row.end_time == pd.Timestamp(late.time, unit="s", tz="UTC").round("us")


class _Watch(TableBuilder):
    """A builder that notes how many flows the engine tracks each time a connection opens."""

    def __init__(self, engine: NativeEngine):
        super().__init__()
        self.engine = engine
        self.tracked: list[int] = []

    def open(self, *args: Any) -> Any:
        self.tracked.append(len(self.engine._conns))
        return super().open(*args)


def test_closed_connections_do_not_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 300 connections closing within three seconds of capture time: far inside CLOSED_TIMEOUT,
    # so only CLOSED_KEPT bounds what the engine holds
    monkeypatch.setattr(engine_module, "CLOSED_KEPT", 20)
    path = write_pcap(tmp_path / "busy.pcap", _flows(300))
    engine = NativeEngine(path)
    watch = _Watch(engine)
    engine.run(watch)
    _m, conns, _x = watch.tables()
    assert len(conns) == 300 and conns["established"].all()
    assert max(watch.tracked) <= 2 * (20 + 4)  # two table entries per connection
    assert watch.tracked[-1] <= 2 * (20 + 4)


def test_rows_come_out_in_first_packet_order_whatever_the_close_order(tmp_path: Path) -> None:
    # the first connection stays open longest: it closes (becomes a row) last
    long = Flow(client=("10.0.0.9", 41000)).handshake()
    for side, data in tls12_handshake():
        long.send(side, data)
    short = _flows(4, t=long.t + 0.001)
    long.t = short[-1].time + 1
    long.close("c")
    _m, conns, _x = _tables(write_pcap(tmp_path / "o.pcap", sorted(long.packets + short, key=lambda p: p.time)))
    assert conns["client_port"].tolist() == [41000, 40000, 40001, 40002, 40003]
    assert conns["conn_id"].tolist() == [0, 1, 2, 3, 4]
    assert conns["first_frame"].is_monotonic_increasing


def test_stray_reset_after_rows_made_opens_nothing(tmp_path: Path) -> None:
    flow = tls_flow(tls12_handshake())
    flow.add("s", RST, dt=100.0)  # long after the close: the connection is gone from the engine
    _m, conns, _x = _tables(write_pcap(tmp_path / "s.pcap", flow.packets))
    assert len(conns) == 1
