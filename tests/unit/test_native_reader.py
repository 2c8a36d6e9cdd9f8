"""The native reader: file formats, compression sniffing, bad input (synthetic captures)."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import pytest

from tests.unit._native_pcap import Flow, pcapng, tls12_handshake, tls_flow, write_pcap
from tlskit.capture._native import open_capture
from tlskit.errors import CaptureError, CaptureWarning


def _packets(path: Path) -> list[tuple[int, float, int, int]]:
    with open_capture(path) as r:
        return [(f, t, lt, len(d)) for f, t, lt, d in r]


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nanos: bool) -> None:
    flow = Flow(t=1_700_000_000.25).handshake()
    path = write_pcap(tmp_path / "c.pcap", flow.packets, big_endian=big_endian, nanos=nanos)
    got = _packets(path)
    assert [g[0] for g in got] == [1, 2, 3]
    assert [g[2] for g in got] == [1, 1, 1]
    assert got[0][1] == pytest.approx(1_700_000_000.251, abs=1e-6)
    assert got[2][1] - got[0][1] == pytest.approx(0.002, abs=1e-6)


def test_gzip_is_sniffed_not_named(tmp_path: Path) -> None:
    flow = Flow().handshake()
    plain = write_pcap(tmp_path / "a.pcap", flow.packets)
    hidden = write_pcap(tmp_path / "b.pcap", flow.packets, compress=True)  # gzip without .gz
    assert hidden.read_bytes()[:2] == b"\x1f\x8b"
    assert _packets(hidden) == _packets(plain)
    ng = tmp_path / "c.bin"
    ng.write_bytes(gzip.compress(pcapng([(0, p) for p in flow.packets], [("ether", 6)])))
    assert [p[0] for p in _packets(ng)] == [1, 2, 3]


def test_pcapng_interfaces_resolution_and_secrets(tmp_path: Path) -> None:
    flow = Flow(t=1_600_000_000.5).handshake()
    a, b, c = flow.packets
    data = pcapng([(0, a), (1, b), (0, c)], [("ether", 6), ("sll", 9)], secrets=b"CLIENT_RANDOM aa bb\n")
    path = tmp_path / "x.pcapng"
    path.write_bytes(data)
    with open_capture(path) as r:
        got = list(r)
        assert r.format == "pcapng"
        assert r.secrets == [b"CLIENT_RANDOM aa bb\n"]
    assert [(f, lt) for f, _t, lt, _d in got] == [(1, 1), (2, 113), (3, 1)]
    assert got[1][1] == pytest.approx(b.time, abs=1e-6)  # nanosecond interface
    assert got[2][1] == pytest.approx(c.time, abs=1e-6)


def test_pcapng_binary_resolution_simple_and_legacy_blocks(tmp_path: Path) -> None:
    flow = Flow(t=1_600_000_000.0).handshake()
    path = tmp_path / "b.pcapng"
    path.write_bytes(pcapng([(0, p) for p in flow.packets], [("raw", 0x80 | 20)]))
    assert [t for _f, t, _l, _d in open_capture(path)] == pytest.approx([p.time for p in flow.packets], abs=1e-5)
    path.write_bytes(pcapng([(0, p) for p in flow.packets], [("raw", 6)], legacy=True))
    assert len(_packets(path)) == 3
    path.write_bytes(pcapng([(0, p) for p in flow.packets], [("raw", 6)], simple=True))
    got = _packets(path)
    assert [g[0] for g in got] == [1, 2, 3] and all(g[2] == 101 for g in got)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (None, "not found"),
        (b"", "empty"),
        (b"hello, this is a text file\n", "text file"),
        (b"CLIENT_RANDOM 00112233 44556677\n", "key log"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07", "unknown file format"),
        (gzip.compress(b""), "gzip file holds no data"),
    ],
)
def test_bad_input_is_a_capture_error_naming_file_and_fix(tmp_path: Path, content: bytes | None, what: str) -> None:
    path = tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CaptureError) as err:
        open_capture(path)
    assert what in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.fix


def test_directory_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="directory"):
        open_capture(tmp_path)


@pytest.mark.parametrize("ng", [False, True])
def test_truncated_last_packet_warns_and_keeps_the_rest(tmp_path: Path, ng: bool) -> None:
    flow = tls_flow(tls12_handshake())
    path = tmp_path / "t.pcap"
    if ng:
        path.write_bytes(pcapng([(0, p) for p in flow.packets], [("ether", 6)]))
    else:
        write_pcap(path, flow.packets)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.warns(CaptureWarning, match="after frame") as rec:
        got = _packets(path)
    assert len(got) == len(flow.packets) - 1
    assert str(path) in str(rec[0].message)


def test_reader_streams_without_reading_ahead(tmp_path: Path) -> None:
    # The first packet is available before the (damaged) rest of the file is touched.
    flow = Flow().handshake()
    path = write_pcap(tmp_path / "s.pcap", flow.packets)
    path.write_bytes(path.read_bytes() + b"\xff" * 16)  # an absurd record header at the end
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _packets(path)
    assert len(got) == 3
    assert any("implausible packet length" in str(w.message) for w in caught)


def test_pcapng_with_two_sections_numbers_frames_on(tmp_path: Path) -> None:
    a = Flow().handshake()
    b = Flow(client=("10.9.9.9", 40000)).handshake()
    path = tmp_path / "two.pcapng"  # e.g. `cat a.pcapng b.pcapng`: the second section redeclares interfaces
    path.write_bytes(pcapng([(0, p) for p in a.packets], [("ether", 6)])
                     + pcapng([(0, p) for p in b.packets], [("raw", 9)]))
    got = _packets(path)
    assert [g[0] for g in got] == [1, 2, 3, 4, 5, 6]
    assert [g[2] for g in got] == [1, 1, 1, 101, 101, 101]
