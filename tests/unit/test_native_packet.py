"""Link layers and IP down to the TCP segment (synthetic frames)."""

from __future__ import annotations

import struct
from collections import Counter

import pytest

from tests.unit._native_pcap import LINKTYPE, Packet, frame, tcp_bytes
from tlskit.capture._native._packet import tcp_segment

V4 = Packet(1.0, "192.0.2.1", 40000, "198.51.100.7", 8443, 0x18, 77, b"\x16\x03\x01hello")
V6 = Packet(1.0, "2001:db8::1", 40000, "2001:db8::2", 9000, 0x18, 77, b"\x16\x03\x01hello")


@pytest.mark.parametrize("link", sorted(LINKTYPE))
@pytest.mark.parametrize("pkt", [V4, V6], ids=["ipv4", "ipv6"])
def test_every_link_type_reaches_the_tcp_payload(link: str, pkt: Packet) -> None:
    seg = tcp_segment(LINKTYPE[link], frame(pkt, link), Counter())
    assert seg is not None
    src, _dst, buf, t, end = seg
    assert len(src) == (4 if pkt is V4 else 16)
    assert struct.unpack_from("!HH", buf, t) == (40000, pkt.dport)
    assert buf[t + 20:end] == pkt.payload


def test_ethernet_padding_is_not_payload() -> None:
    data = frame(V4, "ether") + b"\x00" * 6  # short frames are padded to 60 bytes on the wire
    _s, _d, buf, t, end = tcp_segment(1, data, Counter())  # type: ignore[misc]
    assert buf[t + 20:end] == V4.payload


def test_ipv6_extension_headers_are_walked() -> None:
    tcp = tcp_bytes(V6)
    hop = bytes([60, 0]) + b"\x00" * 6  # hop-by-hop -> destination options
    dst = bytes([6, 0]) + b"\x00" * 6  # destination options -> TCP
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(hop + dst + tcp), 0, 64, b"\x20\x01" + b"\x00" * 13 + b"\x01",
                     b"\x20\x01" + b"\x00" * 13 + b"\x02") + hop + dst + tcp
    seg = tcp_segment(101, ip, Counter())
    assert seg is not None
    _s, _d, buf, t, end = seg
    assert buf[t + 20:end] == V6.payload


def test_fragments_are_skipped_and_counted() -> None:
    skipped: Counter[str] = Counter()
    ip = bytearray(frame(V4, "raw"))
    ip[6:8] = struct.pack("!H", 0x2000)  # more fragments
    assert tcp_segment(101, bytes(ip), skipped) is None
    tcp = tcp_bytes(V6)
    frag = bytes([6, 0, 0, 1, 0, 0, 0, 9])
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(frag + tcp), 44, 64, b"\x00" * 16, b"\x00" * 16) + frag + tcp
    assert tcp_segment(101, ip6, skipped) is None
    assert skipped == Counter({"IPv4 fragment": 1, "IPv6 fragment": 1})


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, b"\x45" + b"\x00" * 8, frame(V4, "ether")[:30]])
def test_short_or_damaged_frames_give_none(data: bytes) -> None:
    assert tcp_segment(1, data, Counter()) is None
    assert tcp_segment(101, data, Counter()) is None


def test_unknown_link_type_is_counted() -> None:
    skipped: Counter[str] = Counter()
    assert tcp_segment(147, frame(V4, "raw"), skipped) is None
    assert skipped["link type 147"] == 1
