"""Frame a recorded TLS byte exchange as TCP packets and write them as a classic pcap.

The lab's TLS stacks talk through memory buffers or a loopback relay; what they exchanged is a
:class:`Transcript`: the bytes each side wrote, in order, and how each side closed. This
module turns it into what a tcpdump next to the *client* would have seen: a three-way
handshake, segments cut at the MSS with running seq/ack numbers, pure ACKs where a receiver
has nothing to send back, FIN or RST closes, and timestamps advanced by a modelled network
(round-trip time, peer processing, serialization at a link rate). A :class:`Timing` with a
fixed seed gives the same shape on every build.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Direction = Literal["c2s", "s2c"]
Side = Literal["client", "server"]

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_PCAP_MAGIC_USEC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1
_SNAPLEN = 262144


@dataclass(frozen=True)
class Write:
    """Bytes one side handed to its socket in one call."""

    direction: Direction
    data: bytes


@dataclass(frozen=True)
class Close:
    """A side closed its socket: FIN, or RST (unread data in its receive buffer, or a middlebox).

    ``ttl`` overrides the IP TTL of the closing packet (a middlebox's injected RST comes
    from fewer or more hops than the real server).
    """

    side: Side
    kind: Literal["fin", "rst"] = "fin"
    ttl: int | None = None


@dataclass
class Transcript:
    """What the two TLS stacks exchanged on one TCP connection, in order."""

    events: list[Write | Close] = field(default_factory=list)

    def write(self, direction: Direction, data: bytes) -> None:
        if data:
            self.events.append(Write(direction, data))

    def close(self, side: Side, kind: Literal["fin", "rst"] = "fin", ttl: int | None = None) -> None:
        if not any(isinstance(e, Close) and e.side == side for e in self.events):
            self.events.append(Close(side, kind, ttl))

    def closed(self, side: Side) -> bool:
        return any(isinstance(e, Close) and e.side == side for e in self.events)


@dataclass(frozen=True)
class Timing:
    """The modelled network between client and server, seen from the client's host.

    Times are seconds. ``rtt`` is the round trip; ``server_think`` and ``client_think`` the
    time a peer spends before answering (key exchange, certificate checks); ``rate`` the link
    speed in bits/s, which spaces the segments of one flight. ``jitter`` is the relative
    spread drawn from the seeded generator.
    """

    rtt: float = 0.024
    server_think: float = 0.0012
    client_think: float = 0.0006
    rate: float = 100e6
    jitter: float = 0.08
    seed: int = 0


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True)
class Packet:
    time: float
    src: Endpoint
    dst: Endpoint
    seq: int
    ack: int
    flags: int
    payload: bytes = b""
    options: bytes = b""
    window: int = 502
    ttl: int = 64
    ip_id: int = 0
    from_client: bool = True


_CLIENT_TTL, _SERVER_TTL = 64, 52  # the server is a few hops away


class _Conn:
    """Running TCP state of one connection while packets are laid out."""

    def __init__(self, client: Endpoint, server: Endpoint, start: float, timing: Timing, mss: int):
        self.rng = random.Random(f"{timing.seed}:{client.ip}:{client.port}:{server.ip}:{server.port}")
        self.ends = {"client": client, "server": server}
        self.timing = timing
        self.mss = mss
        self.t = start
        self.nxt = {"client": self.rng.getrandbits(32), "server": self.rng.getrandbits(32)}
        self.rcv = {"client": 0, "server": 0}
        self.last = {"client": start, "server": start}
        self.ip_id = {"client": self.rng.randrange(1, 60000), "server": self.rng.randrange(1, 60000)}
        self.packets: list[Packet] = []

    def jit(self, value: float) -> float:
        return value * (1 + self.rng.uniform(-self.timing.jitter, self.timing.jitter))

    def emit(self, side: Side, flags: int, payload: bytes = b"", options: bytes = b"",
             window: int = 502, ttl: int | None = None) -> None:
        peer: Side = "server" if side == "client" else "client"
        # What one host sends reaches the capture point in the order it was sent.
        if self.t <= self.last[side]:
            self.t = self.last[side] + 0.00001
        self.last[side] = self.t
        self.ip_id[side] = (self.ip_id[side] + 1) & 0xFFFF
        ack = self.rcv[side] if flags & ACK else 0
        self.packets.append(Packet(
            self.t, self.ends[side], self.ends[peer], self.nxt[side] & 0xFFFFFFFF,
            ack & 0xFFFFFFFF, flags, payload, options, window,
            ttl if ttl is not None else (_CLIENT_TTL if side == "client" else _SERVER_TTL),
            self.ip_id[side], side == "client",
        ))
        self.nxt[side] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        if not flags & RST:
            self.rcv[peer] = self.nxt[side]

    def arrive(self, side: Side) -> None:
        """Advance the clock to when something ``side`` sends next is seen at the client's host."""
        tm = self.timing
        if side == "server":  # a server reply reaches the client one round trip later
            self.t += self.jit(tm.rtt) + self.jit(tm.server_think)
        else:
            self.t += self.jit(tm.client_think)


def tcp_packets(transcript: Transcript, client: Endpoint, server: Endpoint, start: float,
                timing: Timing, *, mss: int | None = None) -> list[Packet]:
    """Lay out one connection's packets, as captured next to the client.

    Returns packets in time order, starting with the client's SYN at ``start``.
    """
    v6 = ipaddress.ip_address(client.ip).version == 6
    mss = mss or (1440 if v6 else 1460)
    c = _Conn(client, server, start, timing, mss)
    syn_opts = _syn_options(mss)
    c.emit("client", SYN, options=syn_opts, window=64240)
    c.t += c.jit(timing.rtt)
    c.rcv["server"] = c.nxt["client"]
    c.emit("server", SYN | ACK, options=syn_opts, window=65160)
    c.t += c.jit(timing.client_think) * 0.1
    c.emit("client", ACK)

    last: Side = "client"
    events = transcript.events
    closed: list[Side] = []
    for i, ev in enumerate(events):
        side: Side = ("client" if ev.direction == "c2s" else "server") if isinstance(ev, Write) else ev.side
        if side in closed:
            continue
        if side != last:
            c.arrive(side)
        else:
            c.t += c.jit(0.00003)
        last = side
        if isinstance(ev, Close):
            if ev.kind == "rst":
                c.emit(side, RST | ACK, ttl=ev.ttl)
                return sorted(c.packets, key=lambda p: p.time)
            c.emit(side, FIN | ACK, ttl=ev.ttl)
            closed.append(side)
            continue
        chunks = [ev.data[k:k + mss] for k in range(0, len(ev.data), mss)]
        for n, chunk in enumerate(chunks):
            if n:
                c.t += len(chunk) * 8 / timing.rate
            c.emit(side, ACK | (PSH if n == len(chunks) - 1 else 0), chunk)
        nxt = next((e for e in events[i + 1:]), None)
        receiver: Side = "server" if side == "client" else "client"
        replies_now = isinstance(nxt, Write) and nxt.direction == ("c2s" if receiver == "client" else "s2c")
        if (len(chunks) > 1 or not replies_now) and receiver not in closed:
            # The receiver acknowledges what it will not answer at once (delayed ACK).
            saved = c.t
            c.t += c.jit(timing.rtt) if receiver == "server" else c.jit(0.00004)
            c.emit(receiver, ACK)
            c.t = max(saved, c.t) if receiver == "client" else saved
    # A peer that saw the other side's FIN closes too; the first closer acknowledges it.
    for side in ("client", "server"):
        if closed and side not in closed:
            c.arrive(side)
            c.emit(side, FIN | ACK)
            closed.append(side)
    if len(closed) == 2:
        c.arrive(closed[0])
        c.emit(closed[0], ACK)
    return sorted(c.packets, key=lambda p: p.time)


def _syn_options(mss: int) -> bytes:
    # MSS, SACK permitted, NOP, window scale 7: what a Linux stack offers.
    return struct.pack("!BBH", 2, 4, mss) + bytes([4, 2, 1, 3, 3, 7])


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(p: Packet) -> bytes:
    src = ipaddress.ip_address(p.src.ip)
    dst = ipaddress.ip_address(p.dst.ip)
    opts = p.options + b"\0" * (-len(p.options) % 4)
    offset = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", p.src.port, p.dst.port, p.seq, p.ack, offset << 4, p.flags,
                      p.window, 0, 0) + opts + p.payload
    if src.version == 4:
        pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, len(tcp))
    else:
        pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(tcp), 6)
    csum = _checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    if src.version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), p.ip_id, 0x4000, p.ttl, 6, 0,
                         src.packed, dst.packed)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        ethertype = 0x0800
    else:
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, p.ttl, src.packed, dst.packed)
        ethertype = 0x86DD
    mac_a, mac_b = bytes.fromhex("02005e100001"), bytes.fromhex("02005e1000fe")
    src_mac, dst_mac = (mac_a, mac_b) if p.from_client else (mac_b, mac_a)
    return dst_mac + src_mac + struct.pack("!H", ethertype) + ip + tcp


def write_pcap(path: str | Path, packets: Iterable[Packet]) -> Path:
    """Write packets (any order; they are sorted by time) as an Ethernet pcap with µs stamps."""
    path = Path(path)
    ordered = sorted(packets, key=lambda p: p.time)
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", _PCAP_MAGIC_USEC, 2, 4, 0, 0, _SNAPLEN, _LINKTYPE_ETHERNET))
        for p in ordered:
            frame = _frame(p)
            usec_total = round(p.time * 1_000_000)
            fh.write(struct.pack("<IIII", usec_total // 1_000_000, usec_total % 1_000_000,
                                 len(frame), len(frame)))
            fh.write(frame)
    return path


def read_pcap(path: str | Path) -> tuple[bytes, list[tuple[float, bytes]]]:
    """The global header and (timestamp, frame) records of a classic µs pcap (the lab's own)."""
    data = Path(path).read_bytes()
    if len(data) < 24 or struct.unpack_from("<I", data)[0] != _PCAP_MAGIC_USEC:
        raise ValueError(f"{path}: not a little-endian microsecond pcap written by the lab")
    records, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        records.append((sec + usec / 1e6, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return data[:24], records


def merge_pcaps(inputs: Sequence[str | Path], out: str | Path, *, start: float,
                gap: float = 0.8) -> Path:
    """Interleave lab captures into one file: capture ``i`` is shifted to begin at ``start + i*gap``.

    Their connections overlap in time as on a busy host; each keeps its own addresses and ports.
    """
    header = b""
    merged: list[tuple[float, bytes]] = []
    for i, path in enumerate(inputs):
        header, records = read_pcap(path)
        if not records:
            continue
        shift = start + i * gap - records[0][0]
        merged += [(t + shift, frame) for t, frame in records]
    merged.sort(key=lambda r: r[0])
    out = Path(out)
    with out.open("wb") as fh:
        fh.write(header or struct.pack("<IHHiIII", _PCAP_MAGIC_USEC, 2, 4, 0, 0, _SNAPLEN,
                                       _LINKTYPE_ETHERNET))
        for t, frame in merged:
            usec_total = round(t * 1_000_000)
            fh.write(struct.pack("<IIII", usec_total // 1_000_000, usec_total % 1_000_000,
                                 len(frame), len(frame)))
            fh.write(frame)
    return out
