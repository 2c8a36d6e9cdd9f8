"""Synthetic captures for the native-engine tests: TLS messages, TCP flows, link layers and
pcap / pcapng writers, all built in memory from the specifications (RFC 8446/5246, the pcap
and pcapng formats). Nothing here is copied from a real capture; every test rebuilds what it
uses, so there is no fixture file to keep in sync.
"""

from __future__ import annotations

import gzip
import ipaddress
import struct
from dataclasses import dataclass, field
from pathlib import Path

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# -- TLS ------------------------------------------------------------------------------------


def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def vec(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def hs(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def record(ct: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", ct, version, len(payload)) + payload


def records(ct: int, payload: bytes, size: int, version: int = 0x0303) -> bytes:
    """payload fragmented into records of at most `size` bytes."""
    return b"".join(record(ct, payload[i:i + size], version) for i in range(0, len(payload), size))


def client_hello(sni: str | None = "example.com", suites: tuple[int, ...] = (0x1301, 0xC02F, 0x009C),
                 versions: tuple[int, ...] = (), padding: int = 0, session_id: bytes = b"",
                 random: bytes = b"\x11" * 32, alpn: tuple[str, ...] = ()) -> bytes:
    exts: list[tuple[int, bytes]] = []
    if sni:
        name = sni.encode()
        exts.append((0, vec(b"\x00" + vec(name, 2), 2)))
    exts.append((10, vec(b"".join(u16(g) for g in (29, 23)), 2)))
    exts.append((11, b"\x01\x00"))
    exts.append((13, vec(b"".join(u16(a) for a in (0x0403, 0x0804)), 2)))
    if alpn:
        exts.append((16, vec(b"".join(vec(p.encode(), 1) for p in alpn), 2)))
    if versions:
        exts.append((43, vec(b"".join(u16(v) for v in versions), 1)))
        exts.append((51, vec(u16(29) + vec(b"\x22" * 32, 2), 2)))
    if padding:
        exts.append((21, b"\x00" * padding))  # RFC 7685 padding: makes a big hello
    ext = b"".join(u16(t) + vec(d, 2) for t, d in exts)
    body = (u16(0x0303) + random + vec(session_id, 1) + vec(b"".join(u16(s) for s in suites), 2)
            + b"\x01\x00" + vec(ext, 2))
    return hs(1, body)


HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def server_hello(suite: int = 0xC02F, version: int | None = None, session_id: bytes = b"",
                 random: bytes = b"\x22" * 32, psk: bool = False) -> bytes:
    exts: list[tuple[int, bytes]] = []
    if version is not None:
        exts.append((43, u16(version)))
        exts.append((51, u16(29) + vec(b"\x33" * 32, 2)))
    if psk:
        exts.append((41, u16(0)))
    ext = b"".join(u16(t) + vec(d, 2) for t, d in exts)
    body = u16(0x0303) + random + vec(session_id, 1) + u16(suite) + b"\x00" + (vec(ext, 2) if exts else b"")
    return hs(2, body)


def certificate(ders: list[bytes]) -> bytes:
    return hs(11, vec(b"".join(vec(d, 3) for d in ders), 3))


def alert(level: int, desc: int) -> bytes:
    return bytes([level, desc])


def self_signed(cn: str = "example.com") -> bytes:
    """A small self-signed EC certificate (DER), valid 2020-2030."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def tls12_handshake(cert: bytes | None = None, sni: str = "example.com") -> list[tuple[str, bytes]]:
    """A full TLS 1.2 handshake then one application-data record each way: [(side, bytes)]."""
    cert = cert or self_signed()
    return [
        ("c", record(22, client_hello(sni), 0x0301)),
        ("s", record(22, server_hello() + certificate([cert]) + hs(14, b""))),
        ("c", record(22, hs(16, vec(b"\x04" + b"\x55" * 64, 1))) + record(20, b"\x01") + record(22, b"\x99" * 40)),
        ("s", record(20, b"\x01") + record(22, b"\x98" * 40)),
        ("c", record(23, b"\x97" * 100)),
        ("s", record(23, b"\x96" * 300)),
    ]


# -- TCP/IP and link layers ---------------------------------------------------------------


@dataclass
class Packet:
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    payload: bytes = b""


@dataclass
class Flow:
    """A TCP connection whose packets are appended as the test scripts it."""

    client: tuple[str, int] = ("10.0.0.1", 50000)
    server: tuple[str, int] = ("10.0.0.2", 443)
    t: float = 1_700_000_000.0
    isn: tuple[int, int] = (1000, 5000)
    packets: list[Packet] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seq = {"c": self.isn[0], "s": self.isn[1]}

    def _ends(self, side: str) -> tuple[str, int, str, int]:
        a, b = (self.client, self.server) if side == "c" else (self.server, self.client)
        return a[0], a[1], b[0], b[1]

    def add(self, side: str, flags: int, payload: bytes = b"", seq: int | None = None, dt: float = 0.001) -> Packet:
        self.t += dt
        s = self.seq[side] if seq is None else seq
        p = Packet(self.t, *self._ends(side), flags, s & 0xFFFFFFFF, payload)
        self.packets.append(p)
        if seq is None:
            self.seq[side] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return p

    def handshake(self) -> Flow:
        self.add("c", SYN)
        self.add("s", SYN | ACK)
        self.add("c", ACK)
        return self

    def send(self, side: str, data: bytes, mss: int = 1460) -> Flow:
        for i in range(0, len(data), mss):
            self.add(side, PSH | ACK, data[i:i + mss])
        return self

    def close(self, side: str = "c", rst: bool = False) -> Flow:
        if rst:
            self.add(side, RST | ACK)
        else:
            self.add(side, FIN | ACK)
            self.add("s" if side == "c" else "c", FIN | ACK)
        return self


def _ip(src: str, dst: str, tcp: bytes) -> tuple[int, bytes]:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        return 0x0800, struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s.packed, d.packed) + tcp
    return 0x86DD, struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, s.packed, d.packed) + tcp


def tcp_bytes(p: Packet) -> bytes:
    return struct.pack("!HHIIBBHHH", p.sport, p.dport, p.seq, 0, 5 << 4, p.flags, 65535, 0, 0) + p.payload


def frame(p: Packet, link: str = "ether") -> bytes:
    """The packet as a frame of the given link layer."""
    etype, ip = _ip(p.src, p.dst, tcp_bytes(p))
    if link == "ether":
        return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb" + u16(etype) + ip
    if link == "vlan":
        return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb" + u16(0x8100) + u16(42) + u16(etype) + ip
    if link == "qinq":
        return (b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb" + u16(0x88A8) + u16(7) + u16(0x8100) + u16(42)
                + u16(etype) + ip)
    if link == "sll":
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x00" * 8, etype) + ip
    if link == "sll2":
        return struct.pack("!HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x00" * 8) + ip
    if link == "raw":
        return ip
    if link == "null_le":
        return struct.pack("<I", 2 if etype == 0x0800 else 30) + ip
    if link == "null_be":
        return struct.pack(">I", 2 if etype == 0x0800 else 24) + ip
    raise ValueError(link)


LINKTYPE = {"ether": 1, "vlan": 1, "qinq": 1, "sll": 113, "sll2": 276, "raw": 101, "null_le": 0, "null_be": 108}


def write_pcap(path: Path, packets: list[Packet], link: str = "ether", *, big_endian: bool = False,
               nanos: bool = False, compress: bool = False) -> Path:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, LINKTYPE[link])]
    for p in packets:
        data = frame(p, link)
        sec = int(p.time)
        frac = round((p.time - sec) * (1e9 if nanos else 1e6))
        out.append(struct.pack(e + "IIII", sec, frac, len(data), len(data)) + data)
    blob = b"".join(out)
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path


def _block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng(packets: list[tuple[int, Packet]], links: list[tuple[str, int]], *, secrets: bytes | None = None,
           simple: bool = False, legacy: bool = False) -> bytes:
    """pcapng bytes: `links` = [(link name, if_tsresol byte)], packets = [(interface, packet)]."""
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for link, resol in links:
        opts = struct.pack("<HHB3x", 9, 1, resol) + struct.pack("<HH", 0, 0)
        out.append(_block(1, struct.pack("<HHI", LINKTYPE[link], 0, 0) + opts))
    if secrets is not None:
        out.append(_block(10, struct.pack("<II", 0x544C534B, len(secrets)) + secrets))
    for iface, p in packets:
        link, resol = links[iface]
        data = frame(p, link)
        ticks = round(p.time * (2 ** (resol & 0x7F) if resol & 0x80 else 10 ** resol))
        if simple:
            out.append(_block(3, struct.pack("<I", len(data)) + data))
        elif legacy:
            out.append(_block(2, struct.pack("<HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data))
        else:
            out.append(_block(6, struct.pack("<IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)


def tls_flow(script: list[tuple[str, bytes]], **kw: object) -> Flow:
    """A connection carrying `script` (from tls12_handshake & co.), opened and closed."""
    f = Flow(**kw).handshake()  # type: ignore[arg-type]
    for side, data in script:
        f.send(side, data)
    return f.close()
