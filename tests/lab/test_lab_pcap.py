"""The lab's TCP framing and pcap writer, on hand-built transcripts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import tlskit
from tlskit.lab._pcap import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    Endpoint,
    Timing,
    Transcript,
    merge_pcaps,
    read_pcap,
    tcp_packets,
    write_pcap,
)

C, S = Endpoint("192.0.2.10", 50000), Endpoint("198.51.100.20", 443)


def _transcript() -> Transcript:
    tr = Transcript()
    tr.write("c2s", b"\x16\x03\x01" + b"a" * 300)
    tr.write("s2c", b"\x16\x03\x03" + b"b" * 4000)  # three segments at MSS 1460
    tr.write("c2s", b"c" * 100)
    tr.close("client")
    return tr


def test_handshake_segments_and_close() -> None:
    pk = tcp_packets(_transcript(), C, S, 1000.0, Timing())
    flags = [p.flags for p in pk]
    assert flags[:3] == [SYN, SYN | ACK, ACK]
    data = [p for p in pk if p.payload]
    assert [len(p.payload) for p in data] == [303, 1460, 1460, 1083, 100]
    assert data[3].flags == ACK | PSH and data[1].flags == ACK  # PSH on a write's last segment
    # sequence numbers run on without gaps in each direction
    server = [p for p in pk if p.src == S and p.payload]
    assert [p.seq - server[0].seq for p in server] == [0, 1460, 2920]
    assert pk[-1].flags == ACK and pk[-2].flags & FIN and pk[-2].src == S
    times = [p.time for p in pk]
    assert times == sorted(times)
    # the server's first reply comes about one RTT after the ClientHello
    assert 0.018 < server[0].time - data[0].time < 0.035


def test_rst_ends_the_connection() -> None:
    tr = Transcript()
    tr.write("c2s", b"hello")
    tr.close("server", "rst", ttl=249)
    pk = tcp_packets(tr, C, S, 0.0, Timing())
    assert pk[-1].flags == RST | ACK and pk[-1].ttl == 249 and pk[-1].src == S
    assert not any(p.flags & FIN for p in pk)


def test_same_seed_same_timing() -> None:
    a = tcp_packets(_transcript(), C, S, 5.0, Timing(seed=3))
    b = tcp_packets(_transcript(), C, S, 5.0, Timing(seed=3))
    assert [(p.time, p.seq) for p in a] == [(p.time, p.seq) for p in b]


def test_checksums_verify(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "x.pcap", tcp_packets(_transcript(), C, S, 0.0, Timing()))
    header, records = read_pcap(path)
    assert struct.unpack("<IHHiIII", header)[6] == 1  # Ethernet
    for _, frame in records:
        ip = frame[14:34]
        total = sum(struct.unpack("!10H", ip))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        assert total == 0xFFFF  # header checksum verifies


def test_merge_read_back(lab_dir: Path, tmp_path: Path) -> None:
    """Two lab captures (IPv4 and IPv6) merged: both connections load, in start order."""
    a, b = lab_dir / "ok_tls12" / "capture.pcap", lab_dir / "ok_hrr_tls13" / "capture.pcap"
    merged = merge_pcaps([a, b], tmp_path / "m.pcap", start=50.0, gap=0.01)
    _, recs = read_pcap(merged)
    assert recs[0][0] == pytest.approx(50.0)
    assert [t for t, _ in recs] == sorted(t for t, _ in recs)
    assert len(recs) == len(read_pcap(a)[1]) + len(read_pcap(b)[1])
    conns = tlskit.load(merged).connections
    assert [":" in ip for ip in conns["client_ip"]] == [False, True]
    assert list(conns["tcp_end"]) == ["fin", "fin"]


def test_rebuild_keeps_addresses_and_timing(tmp_path: Path) -> None:
    """Fixed seeds: a scenario rebuilt has the same endpoints and the same relative timing."""
    from tlskit import lab

    runs = [lab.build(tmp_path / str(i), ["sni_missing_tls12"])[0] for i in range(2)]
    assert runs[0].answer["client"] == runs[1].answer["client"]
    rel = []
    for r in runs:
        assert r.capture
        _, recs = read_pcap(r.capture)
        rel.append([t - recs[0][0] for t, _ in recs])
    assert len(rel[0]) == 9
    assert rel[0] == pytest.approx(rel[1], abs=2e-6)  # stamps are whole microseconds
