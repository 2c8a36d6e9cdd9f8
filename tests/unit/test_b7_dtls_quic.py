"""B7: captures holding DTLS (UDP) or QUIC say so instead of "no TLS connection found".

Real public traces from the conformance set (Zeek's DTLS 1.0/1.2/1.3 traces, Wireshark's
DTLS captures including OpenSSL's pre-RFC 0x0100 version, FoxIO's and Suricata's QUIC
captures, one of them mixed with TLS over TCP), read by both engines; the counts were
checked against ``tshark -Y 'dtls'`` and ``tshark -Y 'quic.header_form == 1'``. Synthetic
datagrams check the recognition rules one by one (what must count, what must not).
"""

from __future__ import annotations

import ipaddress
import struct
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, requires_tshark
from tlskit.capture import Capture, load
from tlskit.capture._native._packet import DTLS_SKIPPED, QUIC_SKIPPED, tcp_segment
from tlskit.errors import CaptureWarning

ZEEK = CONFORMANCE / "zeek" / "traces"
FP = CONFORMANCE / "fingerprints"
needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance captures not present")

ONLY_UDP = "and 0 TLS connections: tlskit reads TLS over TCP only (DTLS and QUIC are not analysed)"

# (trace, what the warning counts); each holds no TLS over TCP
UDP_ONLY = [
    (ZEEK / "dtls1_0.pcap", "11 DTLS packet(s)"),
    (ZEEK / "dtls1_2.pcap", "16 DTLS packet(s)"),
    (ZEEK / "dtls13-wolfssl.pcap", "4 DTLS packet(s)"),  # DTLS 1.3: later records use the unified header
    (FP / "wireshark" / "snakeoil-dtls.pcap", "9 DTLS packet(s)"),  # OpenSSL's pre-RFC version 0x0100
    (FP / "ja4" / "quic-tls-handshake.pcapng", "1 QUIC handshake packet(s)"),
    (FP / "suricata-verify" / "ja4-quic__input.pcap", "11 QUIC handshake packet(s)"),
]
MIXED = FP / "suricata-verify" / "ja4-tls-quic__input.pcap"  # Chrome: TLS over TCP and QUIC


def _load(path: Path, engine: str = "native") -> Capture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        return load(path, engine=engine)


@needs_conformance
@pytest.mark.parametrize(("path", "counted"), UDP_ONLY, ids=[p.name for p, _ in UDP_ONLY])
def test_udp_only_capture_names_dtls_or_quic(path: Path, counted: str) -> None:
    with pytest.warns(CaptureWarning) as caught:
        cap = load(path)
    assert cap.connections.empty and cap.messages.empty
    # one warning, the sentence; not the interface/port hint, not the engine's "skipped" note
    assert cap.warnings == [f"{path}: {counted} {ONLY_UDP}"]
    assert [str(w.message) for w in caught] == cap.warnings


@needs_conformance
def test_mixed_capture_keeps_its_tables_and_notes_the_quic_packets() -> None:
    cap = _load(MIXED)
    assert len(cap.connections) == 1
    assert cap.connections.iloc[0].sni == "cloudflare-quic.com"  # as tshark reads it
    assert cap.warnings == [
        f"{MIXED}: 8 QUIC handshake packet(s) not analysed (tlskit reads TLS over TCP only); "
        "the 1 TLS connection(s) are in the tables"
    ]


@needs_conformance
def test_a_tcp_capture_gets_no_udp_note() -> None:
    assert _load(ZEEK / "tls1.2.pcap").warnings == []


@needs_conformance
@requires_tshark
@pytest.mark.parametrize("path", [ZEEK / "dtls1_2.pcap", ZEEK / "dtls13-cid.pcap", FP / "ja4" / "quic-tls-handshake.pcapng",
                                  MIXED], ids=lambda p: p.name)
def test_tshark_engine_says_the_same(path: Path) -> None:
    native, tshark = _load(path), _load(path, "tshark")
    assert tshark.warnings == native.warnings
    assert "DTLS" in native.warnings[0] or "QUIC" in native.warnings[0]
    assert len(tshark.connections) == len(native.connections)


# ---- recognition rules, on synthetic raw-IP datagrams (link type 101) -----------------------

RAW_IP = 101


def _udp4(payload: bytes, *, frag: int = 0x4000) -> bytes:
    udp = struct.pack("!HHHH", 50000, 4433, 8 + len(payload), 0) + payload
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, frag, 64, 17, 0,
                       ipaddress.ip_address("192.0.2.1").packed, ipaddress.ip_address("192.0.2.2").packed) + udp


def _udp6(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 50000, 4433, 8 + len(payload), 0) + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, ipaddress.ip_address("2001:db8::1").packed,
                       ipaddress.ip_address("2001:db8::2").packed) + udp


def _dtls(ct: int = 22, version: int = 0xFEFD, body: bytes = b"\x01" + b"\x00" * 40, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack("!BHH6sH", ct, version, 0, b"\x00" * 6, n) + body


def _quic(version: bytes = b"\x00\x00\x00\x01", first: int = 0xC3, dcid_len: int = 8) -> bytes:
    return bytes([first]) + version + bytes([dcid_len]) + b"\x11" * dcid_len + b"\x00" * 1200


def _kinds(data: bytes) -> Counter[str]:
    skipped: Counter[str] = Counter()
    assert tcp_segment(RAW_IP, data, skipped) is None  # never handed to the TCP engine
    return skipped


@pytest.mark.parametrize(("data", "expected"), [
    (_udp4(_dtls()), DTLS_SKIPPED),
    (_udp4(_dtls(version=0xFEFF)), DTLS_SKIPPED),  # DTLS 1.0
    (_udp4(_dtls(version=0xFEFC, ct=21, body=b"\x02\x28")), DTLS_SKIPPED),  # 1.3 record version, an alert
    (_udp4(_dtls(version=0x0100)), DTLS_SKIPPED),  # OpenSSL's DTLS1_BAD_VER (Cisco AnyConnect)
    (_udp4(_dtls() + _dtls(ct=20, body=b"\x01")), DTLS_SKIPPED),  # two records in one datagram
    (_udp6(_dtls()), DTLS_SKIPPED),
    (_udp4(_dtls(), frag=0x2000), DTLS_SKIPPED),  # first fragment (MF set, offset 0): the header is there
    (_udp4(_quic()), QUIC_SKIPPED),  # v1 Initial
    (_udp4(_quic(b"\x6b\x33\x43\xcf")), QUIC_SKIPPED),  # QUIC v2
    (_udp4(_quic(b"\xff\x00\x00\x1d")), QUIC_SKIPPED),  # draft-29
    (_udp6(_quic(first=0xE0)), QUIC_SKIPPED),  # v1 Handshake packet over IPv6
], ids=["dtls12", "dtls10", "dtls13-alert", "dtls-0x0100", "two-records", "ipv6", "first-fragment",
        "quic-v1", "quic-v2", "quic-draft29", "quic-ipv6"])
def test_recognised(data: bytes, expected: str) -> None:
    assert _kinds(data) == Counter({expected: 1})


@pytest.mark.parametrize("data", [
    _udp4(_dtls(version=0x0303)),  # a TLS record version in a datagram: not DTLS
    _udp4(_dtls(ct=26)),  # no such content type
    _udp4(_dtls(length=5000)),  # record longer than the datagram: chance bytes
    _udp4(_dtls(length=0, body=b"")),
    _udp4(_dtls(), frag=0x0010),  # a later fragment: no UDP header, bytes from mid-datagram
    _udp4(_quic(b"\x00\x00\x00\x00")),  # version negotiation
    _udp4(_quic(b"Q046")),  # Google QUIC: not IETF QUIC
    _udp4(_quic(first=0x43)),  # short header: no recognisable shape
    _udp4(_quic(dcid_len=21)),  # connection IDs are at most 20 bytes
    _udp4(b"\x16\xfe"),  # too short
    _udp4(b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"),  # DNS
], ids=["tls-version", "type-26", "too-long", "empty-record", "later-fragment", "quic-vn", "gquic", "quic-short",
        "quic-cid-21", "short", "dns"])
def test_not_recognised(data: bytes) -> None:
    assert _kinds(data) == Counter()
