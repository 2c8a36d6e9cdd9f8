"""Link layer and IP: from a captured frame to the TCP segment inside it.

:func:`tcp_segment` handles Ethernet (with 802.1Q / 802.1ad / QinQ tags), Linux cooked
capture v1 and v2, raw IP, BSD loopback/null (either byte order) and IPv4/IPv6 with
extension headers. It returns ``None`` for anything that is not an unfragmented TCP segment;
fragments are counted in the caller's ``skipped`` counter so the engine can say how many it did not reassemble.

UDP datagrams carrying DTLS or QUIC are counted there too (keys :data:`DTLS_SKIPPED` and
:data:`QUIC_SKIPPED`), recognised by content on any port: tlskit reads TLS over TCP only,
and a capture holding DTLS or QUIC should say so rather than "no TLS found".
"""

from __future__ import annotations

import struct
from collections import Counter

# link types (LINKTYPE_* values as stored in pcap/pcapng headers)
ETHERNET, NULL, LOOP, RAW, RAW_12, RAW_14, SLL, SLL2, IPV4, IPV6 = 1, 0, 108, 101, 12, 14, 113, 276, 228, 229
LINKTYPES = {ETHERNET: "Ethernet", NULL: "BSD loopback", LOOP: "OpenBSD loopback", RAW: "raw IP",
             RAW_12: "raw IP", RAW_14: "raw IP", SLL: "Linux cooked", SLL2: "Linux cooked v2",
             IPV4: "raw IPv4", IPV6: "raw IPv6"}
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
IPV6_EXT = (0, 43, 60, 51)  # hop-by-hop, routing, destination options, AH (fragment 44 handled apart)

# skipped-counter keys for datagrams tlskit recognises but does not analyse
DTLS_SKIPPED = "DTLS over UDP"
QUIC_SKIPPED = "QUIC over UDP"
# DTLS 1.0, 1.2, 1.3 (legacy_record_version), and OpenSSL's pre-RFC 0x0100 (Cisco AnyConnect)
DTLS_VERSIONS = frozenset((0xFEFF, 0xFEFD, 0xFEFC, 0x0100))
QUIC_VERSIONS = (b"\x00\x00\x00\x01", b"\x6b\x33\x43\xcf")  # RFC 9000 v1, RFC 9369 v2

_H = struct.Struct("!H")
_unpack_h = _H.unpack_from

# A segment: (src address bytes, dst address bytes, frame bytes, TCP header offset, end of TCP data)
Segment = tuple[bytes, bytes, bytes, int, int]


def tcp_segment(linktype: int, data: bytes, skipped: Counter[str]) -> Segment | None:
    """The TCP segment in one frame, or None (not IP, not TCP, fragment, or damaged)."""
    n = len(data)
    if linktype == ETHERNET:
        if n < 14:
            return None
        etype = _unpack_h(data, 12)[0]
        off = 14
        while etype in VLAN_TAGS and off + 4 <= n:
            etype = _unpack_h(data, off + 2)[0]
            off += 4
    elif linktype == SLL:
        if n < 16:
            return None
        etype, off = _unpack_h(data, 14)[0], 16
    elif linktype == SLL2:
        if n < 20:
            return None
        etype, off = _unpack_h(data, 0)[0], 20
    elif linktype in (RAW, RAW_12, RAW_14, IPV4, IPV6):
        if n < 1:
            return None
        etype, off = (0x0800 if data[0] >> 4 == 4 else 0x86DD), 0
    elif linktype in (NULL, LOOP):
        if n < 4:
            return None
        # The address family is in the capturing host's byte order; AF_INET is 2 everywhere,
        # AF_INET6 is 24, 28 or 30 depending on the OS.
        fam = data[0] if data[0] else data[3]
        etype, off = (0x0800 if fam == 2 else 0x86DD if fam in (24, 28, 30) else 0), 4
    else:
        skipped[f"link type {linktype}"] += 1
        return None
    if etype == 0x0800:
        return _ipv4(data, off, skipped)
    if etype == 0x86DD:
        return _ipv6(data, off, skipped)
    return None


def _ipv4(data: bytes, off: int, skipped: Counter[str]) -> Segment | None:
    if len(data) < off + 20 or data[off] >> 4 != 4:
        return None
    ihl = (data[off] & 0x0F) * 4
    total = _unpack_h(data, off + 2)[0]
    frag = _unpack_h(data, off + 6)[0]
    if data[off + 9] != 6:
        if data[off + 9] == 17 and not frag & 0x1FFF:  # UDP; a first fragment holds the header too
            _udp(data, off + ihl, min(off + total if total else len(data), len(data)), skipped)
        return None
    if frag & 0x3FFF:  # MF set or non-zero offset
        skipped["IPv4 fragment"] += 1
        return None
    # total length 0 is TCP segmentation offload on the capturing host: take the frame's end
    end = off + total if total else len(data)
    end = min(end, len(data))
    tcp = off + ihl
    if tcp + 20 > end:
        return None
    return data[off + 12:off + 16], data[off + 16:off + 20], data, tcp, end


def _ipv6(data: bytes, off: int, skipped: Counter[str]) -> Segment | None:
    if len(data) < off + 40 or data[off] >> 4 != 6:
        return None
    plen = _unpack_h(data, off + 4)[0]
    nxt = data[off + 6]
    end = off + 40 + plen if plen else len(data)  # 0: jumbogram or offload
    end = min(end, len(data))
    p = off + 40
    while nxt != 6:
        if nxt in IPV6_EXT:
            if p + 2 > end:
                return None
            length = (data[p + 1] + 2) * 4 if nxt == 51 else (data[p + 1] + 1) * 8
            nxt = data[p]
            p += length
        elif nxt == 44:
            skipped["IPv6 fragment"] += 1
            return None
        else:
            if nxt == 17:
                _udp(data, p, end, skipped)
            return None
    if p + 20 > end:
        return None
    return data[off + 8:off + 24], data[off + 24:off + 40], data, p, end


def _udp(data: bytes, p: int, end: int, skipped: Counter[str]) -> None:
    """Count a UDP datagram (header at data[p]) whose payload starts like DTLS or QUIC."""
    u = p + 8
    if end - u < 7:
        return
    first = data[u]
    if 20 <= first <= 25 and _unpack_h(data, u + 1)[0] in DTLS_VERSIONS:
        # DTLSPlaintext header: type, version, epoch (2), sequence number (6), length (2);
        # the record must fit in the datagram (the UDP length field: the capture may be cut short)
        if end - u >= 13 and 0 < _unpack_h(data, u + 11)[0] <= _unpack_h(data, p + 4)[0] - 21:
            skipped[DTLS_SKIPPED] += 1
    elif first & 0xC0 == 0xC0 and data[u + 5] <= 20:
        # QUIC long header (Initial, 0-RTT, Handshake, Retry): form and fixed bits, version,
        # destination connection ID length (at most 20 in v1 and v2)
        version = data[u + 1:u + 5]
        if version in QUIC_VERSIONS or version[:3] == b"\xff\x00\x00":  # or an IETF draft
            skipped[QUIC_SKIPPED] += 1
