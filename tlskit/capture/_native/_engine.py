"""The native engine: capture file -> table builder calls (see _events.Sink), without tshark.

Per TCP connection (keyed on the 4-tuple; a new SYN after FIN/RST, or with a new initial
sequence number, starts a new connection) each direction is reassembled by sequence number:
out-of-order segments wait in a small buffer, retransmitted bytes are used once, and a gap
(bytes the capture lost) is skipped and parsing resynchronises at the next plausible TLS
record header. A direction's bytes are recognised as TLS by content, never by port: a
record header (type 20-24, version 3.0-3.4) or an SSLv2 ClientHello. Plaintext first
(STARTTLS and friends, an HTTP CONNECT, a SOCKS greeting) is skipped until a ClientHello
record appears, and the upgrade command, when recognised, names the protocol.

State is freed when a connection closes or goes idle (the builder turns it into rows then),
so memory follows the number of open connections, not the file size. Packets of connections
that never carry TLS reach the builder not at all.

Speed: the loop in :meth:`NativeEngine._run` handles the packets that need no parsing (bare
ACKs, the middle of bulk records) inline, and the builder is called directly rather than
through event objects: on a capture of short handshakes those costs dominate.
"""

from __future__ import annotations

import re
import socket
import struct
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tlskit.capture._events import ACK, FIN, RST, SYN, ConnectionSink, Event, EventRecorder, Sink
from tlskit.capture._native._packet import tcp_segment
from tlskit.capture._native._reader import PacketReader, open_capture

MAX_RECORD = 16384 + 2048  # TLSCiphertext limit (RFC 5246 6.2.3); more is not a record
MAX_HANDSHAKE = 1 << 22  # a handshake message longer than 4 MiB is damage (certs with 10k SANs fit)
FAR = 1 << 24  # first data this far from the SYN's sequence number starts the stream itself
OOO_SEGMENTS = 64  # out-of-order segments held before declaring the missing bytes lost
PLAIN_BUDGET = 1 << 16  # plaintext scanned per direction for a TLS start before giving up
PENDING_CAP = 64  # TcpPacket events held for a connection not yet known to carry TLS
OPAQUE_KEPT = 16  # opaque application-data units emitted per direction before bulk mode
IDLE_TIMEOUT = 600.0  # seconds without a packet after which an open connection's state is freed
CLOSED_TIMEOUT = 30.0  # how long a closed connection's entry waits for trailing packets (capture time) ...
CLOSED_KEPT = 2048  # ... or until this many connections closed after it (memory stays flat on busy links)
SWEEP_EVERY = 1 << 15  # packets between idle sweeps

# Client commands that upgrade a plaintext protocol to TLS, and the protocol they name.
STARTTLS = [
    (re.compile(rb"^[^\r\n ]+ STARTTLS\r?\n", re.I | re.M), "imap"),
    (re.compile(rb"^STARTTLS\r?\n", re.I | re.M), "smtp"),
    (re.compile(rb"^STLS\r?\n", re.I | re.M), "pop3"),
    (re.compile(rb"^AUTH (?:TLS|SSL|TLS-C)\r?\n", re.I | re.M), "ftp"),
    (re.compile(rb"<starttls[^>]*urn:ietf:params:xml:ns:xmpp-tls", re.I), "xmpp"),
    (re.compile(rb"\x77[\x16-\x7f]\x80\x16" + re.escape(b"1.3.6.1.4.1.1466.20037")), "ldap"),
    (re.compile(rb"\x00\x00\x00\x08\x04\xd2\x16\x2f"), "postgresql"),
]

# per-direction parsing modes
DETECT, PLAIN, TLS, SSL2, DEAD = 0, 1, 2, 3, 4
# what a closed direction's buffers become (shared: a DEAD direction never parses; a late
# out-of-order segment gets its own dict)
_FREED = bytearray()
_NO_SEGMENTS: dict[int, bytes] = {}

_TCP = struct.Struct("!4xI4xBB")  # seq, data offset, flags (the ports are read as bytes, for the flow key)
# Ethernet type, IPv4 version/IHL, total length, flags/fragment offset, protocol, addresses, then
# the TCP header as in _TCP: one unpack for the usual frame
_PCAP_LE, _PCAP_BE = struct.Struct("<III"), struct.Struct(">III")  # pcap record: seconds, fraction, length
_EPB_LE, _EPB_BE = struct.Struct("<4x5I"), struct.Struct(">4x5I")  # pcapng EPB: length, interface, time, length
_ETH_IPV4_TCP = struct.Struct("!12xHBxH2xHxB2x12sI4xBB")  # ... addresses and ports as one key, seq, offset, flags


def share_of(route: bytes, parts: int) -> int:
    """Which of `parts` workers reads the TCP flow `route` (addresses and ports as on the wire):
    the byte sum is the same in both directions, and ephemeral ports spread it evenly."""
    return sum(route) % parts


def _is_tls13(version: int | None) -> bool:
    return version is not None and (version == 0x0304 or (version >> 8) in (0x7F, 0x7E, 0xFB))


def _plausible_header(buf: bytes | bytearray, i: int) -> bool:
    """A TLS record header at buf[i]: content type 20-24, version 3.0-3.4, sane length
    (:meth:`NativeEngine._records` has the same test inline)."""
    return (
        20 <= buf[i] <= 24
        and buf[i + 1] == 3
        and buf[i + 2] <= 4
        and 0 < ((buf[i + 3] << 8) | buf[i + 4]) <= MAX_RECORD
    )


def _find_hello(buf: bytearray, want: tuple[int, ...]) -> int:
    """Offset of a handshake record starting with one of the `want` message types, else -1."""
    i = buf.find(b"\x16\x03")
    n = len(buf)
    while i >= 0 and i + 6 <= n:
        if _plausible_header(buf, i) and buf[i + 5] in want:
            return i
        i = buf.find(b"\x16\x03", i + 1)
    return -1


def _sslv2_hello(buf: bytes | bytearray, msg_type: int) -> int:
    """Length of an SSLv2 record at buf[0] carrying message `msg_type`, else 0."""
    if len(buf) < 5 or not buf[0] & 0x80:
        return 0
    length = ((buf[0] & 0x7F) << 8) | buf[1]
    if buf[2] != msg_type or length < 9:
        return 0
    if msg_type == 1 and not (buf[3] in (0, 3) and buf[4] <= 4):  # client_version 0.2 or 3.x
        return 0
    return length


class Half:
    """One direction of a connection: reassembly and TLS record parsing state."""

    __slots__ = ("ccs", "fed", "gap", "hs", "hs_version", "last_opaque", "max_end", "mode", "next_seq", "ooo",
                 "opaque", "plain", "rec", "skip", "skip_unit")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.max_end: int | None = None  # highest sequence number this side is known to have reached
        self.fed = False  # some payload was delivered in order
        self.ooo: dict[int, bytes] = {}
        self.mode = DETECT
        self.rec = bytearray()  # unparsed stream bytes
        self.hs = bytearray()  # handshake bytes awaiting a complete message
        self.hs_version = 0
        self.ccs = False  # ChangeCipherSpec sent: later records are encrypted (TLS <= 1.2)
        self.gap = False  # bytes were lost: resynchronise before parsing
        self.plain = 0  # plaintext bytes scanned
        self.opaque = 0  # opaque application-data units emitted
        self.skip = 0  # bytes of a bulk record still to pass over
        self.skip_unit: Unit | None = None  # the bulk record being passed over
        self.last_opaque: Unit | None = None  # last bulk record not emitted


class Conn:
    """One TCP connection. Side 0 sent the first packet seen, side 1 is the other."""

    __slots__ = (
        "addr",
        "client",
        "client_random",
        "closed",
        "dead",
        "ended",
        "fin",
        "first",
        "halves",
        "isn",
        "keys",
        "last",
        "last_emitted",
        "last_time",
        "mid",
        "notes",
        "pending",
        "retrans",
        "routes",
        "sink",
        "starttls",
        "tls",
        "tls13",
        "version_known",
    )

    def __init__(self, routes: tuple[bytes, bytes], addr: tuple[str, int, str, int], mid: bool, frame: int,
                 ts: float):
        self.routes = routes  # its two keys in the engine's table (side 0's, side 1's)
        self.addr = addr  # (side-0 ip, port, side-1 ip, port)
        self.first = (frame, ts)
        self.client: int | None = None  # which side is the TLS client, once known
        self.halves = (Half(), Half())
        self.tls = False  # some direction carried TLS: the builder hears about it
        self.sink: ConnectionSink | None = None  # the builder's connection, once TLS was seen
        self.dead = False  # decided it carries no TLS, or finished: packets are ignored
        self.pending: list[tuple[int, int, float, int, int, bool]] = []  # TCP packets held until TLS is seen
        self.closed = False  # RST seen, or FIN both ways
        self.fin = [False, False]
        self.ended = [False, False]  # each side sent FIN or RST
        self.isn: list[int | None] = [None, None]
        self.last: tuple[int, float, int, int, int] | None = None  # frame, time, side, flags, len
        self.last_emitted = True
        self.last_time = ts
        self.notes: list[str] = []
        self.starttls: str | None = None
        self.tls13 = False
        self.version_known = False  # a ServerHello (not HRR) was read
        self.client_random: bytes | None = None
        self.keys: Any = None  # decryption state once a key log matched
        self.retrans = 0
        self.mid = mid  # capture started mid-connection (no SYN seen)


_DONE = (Half(), Half())  # the halves of every finished connection (dead: never read or written)

# A TLS unit on its way to the builder: side, frame, time, content type, record version, length,
# body, encrypted, decrypted, sslv2, notes (a list: a bulk record's frame and time are set late).
Unit = list[Any]


class NativeEngine:
    """Read a capture with tlskit's own parser and fill a table builder.

    Parameters
    ----------
    path
        pcap / pcapng file, optionally gzip-compressed.
    keylog
        SSLKEYLOGFILE path; secrets embedded in pcapng Decryption Secrets Blocks are used too.
    progress
        Called with (bytes read, total bytes) every few thousand packets.
    share
        ``(k, n)``: this is worker k of n reading the same file; only the TCP flows with
        :func:`share_of` == k are read (see :mod:`tlskit.capture._split`).
    """

    name = "native"

    def __init__(self, path: str | Path, keylog: str | Path | None = None, *,
                 progress: Callable[[int, int], None] | None = None, share: tuple[int, int] = (0, 1)):
        self.path = Path(path)
        self.keylog = Path(keylog) if keylog is not None else None
        self.progress = progress
        # (k, n): read only the TCP flows whose share_of() is k, one of n workers reading the file
        self.share, self._parts = share[0], share[1]
        self.notes: list[str] = []  # file-level remarks (skipped fragments, truncation)
        self.skipped: Counter[str] = Counter()
        self.packets = 0
        self._decryptor: Any = None
        self._sink: Sink | None = None
        self._conns: dict[bytes, tuple[Conn, int]] = {}
        self._closing: deque[Conn] = deque()  # closed or hopeless connections, waiting for trailing packets
        self._idle_checked = float("-inf")  # capture time of the last scan for idle connections
        self._addresses: dict[bytes, str] = {}

    # -- driver ---------------------------------------------------------------------------
    def tables(self) -> tuple[Any, Any, Any]:
        """(messages, connections, certificates): the capture read into the builder's frames."""
        from tlskit.capture._builder import TableBuilder

        builder = TableBuilder()
        self.run(builder)
        return builder.tables()

    def events(self) -> Iterator[Event]:
        """The same reading as TcpPacket / TlsUnit objects (tests and engine comparisons)."""
        recorder = EventRecorder()
        self.run(recorder)
        yield from recorder.events

    def run(self, sink: Sink) -> None:
        """Read the whole capture, reporting each TLS connection to ``sink``."""
        reader = open_capture(self.path)
        self._sink = sink
        try:
            self._decryptor = _make_decryptor(self.keylog, reader)
            self._run(reader)
            for conn, side in list(self._conns.values()):
                if side == 0:  # each connection once (its two entries are replaced together)
                    self._finish(conn)
            self._conns.clear()
            self._closing.clear()
        finally:
            reader.close()
        self.notes.extend(reader.notes)
        for reason, n in sorted(self.skipped.items()):
            self.notes.append(f"{n} packet(s) skipped: {reason} (not reassembled)")

    def _run(self, reader: PacketReader) -> None:
        """Decode the reader's blocks in place. The usual packet (Ethernet, IPv4 without
        options, TCP) of a known connection that is a bare ACK or the middle of a bulk record is
        handled inline, as in :meth:`_frame`: on large captures a function call per packet costs
        as much as the work."""
        size = self.path.stat().st_size
        conns = self._conns
        eth_ipv4_tcp = _ETH_IPV4_TCP.unpack_from
        share, parts = self.share, self._parts
        frame = 0
        next_sweep = SWEEP_EVERY
        for block in reader.blocks():
            if block[0] == "packet":  # pcapng: a block of its own (Simple or obsolete Packet Block)
                frame += 1
                self._frame(frame, block[1], block[2], block[3])
                continue
            kind, buf, pos, stop, layout = block
            pcapng = kind == "epb"
            if pcapng:
                order, ifaces = layout
                header = (_EPB_LE if order == "<" else _EPB_BE).unpack_from
                ethernet, ticks, offset = False, 1, 0.0
            else:
                order, ticks, linktype = layout
                header = (_PCAP_LE if order == "<" else _PCAP_BE).unpack_from
                ethernet, offset = linktype == 1, 0.0
            while pos < stop:
                if pcapng:  # Enhanced Packet Block: length, interface, time, captured length
                    blen, iface, hi, lo, incl = header(buf, pos)
                    p = pos + 28
                    pos += blen
                    linktype, ticks, offset, _snap = ifaces[iface]
                    ethernet = linktype == 1
                    ts = ((hi << 32) | lo) / ticks + offset
                else:  # pcap record: seconds, fraction, captured length
                    sec, frac, incl = header(buf, pos)
                    p = pos + 16
                    pos = p + incl
                    ts = sec + frac / ticks
                dend = p + incl  # end of the packet's bytes
                frame += 1
                if frame >= next_sweep:
                    next_sweep += SWEEP_EVERY
                    self._sweep(ts)
                    if self.progress is not None:
                        self.progress(reader.bytes_read(), size)
                if ethernet and incl >= 54:
                    etype, vhl, total, fragment, proto, route, seq, doff, flags = eth_ipv4_tcp(buf, p)
                    if etype == 0x0800 and vhl == 0x45 and proto == 6 and not fragment & 0x3FFF:
                        t = p + 34
                        start = t + (doff >> 4) * 4
                        end = p + 14 + total if total and total + 14 < incl else dend  # IP length, unless offloaded
                        entry = conns.get(route)
                        if entry is not None and not flags & 0x07 and start >= t + 20:
                            conn, side = entry
                            conn.last_time = ts
                            if conn.dead:
                                continue
                            if start >= end:  # a bare ACK (see _frame)
                                conn.last = (frame, ts, side, flags, 0)
                                conn.last_emitted = False
                                half = conn.halves[side]
                                if half.max_end is None or (seq - half.max_end) & 0xFFFFFFFF < 0x80000000:
                                    half.max_end = seq
                                continue
                            if conn.tls:
                                half = conn.halves[side]
                                n = end - start
                                if half.skip > n and half.next_seq == seq and not half.ooo:  # bulk (see _frame)
                                    half.skip -= n
                                    half.next_seq = (seq + n) & 0xFFFFFFFF
                                    conn.last = (frame, ts, side, flags, n)
                                    conn.last_emitted = False
                                    continue
                        if entry is None and parts > 1 and sum(route) % parts != share:
                            continue  # another worker's flow (share_of, inline)
                        if start >= t + 20:
                            self._segment_in(entry, route, frame, ts, seq, flags, buf, t, start, end)
                        continue
                self._frame(frame, ts, linktype, buf[p:dend])
        self.packets = frame
        if self.progress is not None:
            self.progress(size, size)

    def _frame(self, frame: int, ts: float, linktype: int, data: bytes) -> None:
        """One captured frame: decode down to TCP and hand the segment on."""
        fast = _ETH_IPV4_TCP.unpack_from(data) if linktype == 1 and len(data) >= 54 else None
        if fast is not None and fast[0] == 0x0800 and fast[1] == 0x45 and fast[4] == 6 and not fast[3] & 0x3FFF:
            _etype, _vhl, total, _fragment, _proto, route, seq, doff, flags = fast  # the usual frame, as in _run
            t = 34
            end = 14 + total if total and total + 14 < len(data) else len(data)
        else:
            seg = tcp_segment(linktype, data, self.skipped)
            if seg is None:
                return
            src, dst, data, t, end = seg
            if t + 14 > end:
                return
            seq, doff, flags = _TCP.unpack_from(data, t)
            route = src + dst + data[t:t + 4]
        start = t + (doff >> 4) * 4
        if start < t + 20:
            return
        entry = self._conns.get(route)
        if entry is not None and not flags & 0x07:  # no SYN/FIN/RST: the usual packet of a known connection
            conn, side = entry
            conn.last_time = ts
            if conn.dead:
                return
            if start >= end:
                # a bare ACK: only the end time can change
                conn.last = (frame, ts, side, flags, 0)
                conn.last_emitted = False
                half = conn.halves[side]
                if half.max_end is None or (seq - half.max_end) & 0xFFFFFFFF < 0x80000000:
                    half.max_end = seq  # its sequence number shows what the sender had sent
                return
            if conn.tls:
                half = conn.halves[side]
                n = end - start
                if half.skip > n and half.next_seq == seq and not half.ooo:
                    # inside a bulk record, in order: count the bytes, touch nothing else
                    half.skip -= n
                    half.next_seq = (seq + n) & 0xFFFFFFFF
                    conn.last = (frame, ts, side, flags, n)
                    conn.last_emitted = False
                    return
        self._segment_in(entry, route, frame, ts, seq, flags, data, t, start, end)

    def _segment_in(self, entry: tuple[Conn, int] | None, route: bytes, frame: int, ts: float, seq: int,
                    flags: int, data: bytes, t: int, start: int, end: int) -> None:
        """One TCP segment (headers at data[t:start], payload data[start:end]) of the flow `route`."""
        payload_len = end - start if end > start else 0
        if entry is not None:
            conn, side = entry
            if flags & SYN and not flags & ACK and (conn.closed or (conn.isn[side] is not None and conn.isn[side] != seq)):
                self._finish(conn)  # the 4-tuple is reused: a new connection
                entry = None
        if entry is None:
            if flags & RST and not payload_len:
                return  # a stray reset opens nothing
            if self._parts > 1 and share_of(route, self._parts) != self.share:
                return  # another worker's flow
            conn = self._open(route, frame, ts, not flags & SYN)
            side = 0
        conn.last_time = ts
        if conn.dead:
            return
        # (a bare ACK of a known connection never comes here: the callers handle it)
        self._packet(conn, side, frame, ts, flags, seq, data[start:end] if payload_len else b"")

    def _open(self, route: bytes, frame: int, ts: float, mid: bool) -> Conn:
        """A new connection for the flow `route` (src + dst address + the TCP ports, as on the wire)."""
        half = (len(route) - 4) // 2
        src, dst = route[:half], route[half:-4]
        sport, dport = (route[-4] << 8) | route[-3], (route[-2] << 8) | route[-1]
        fam = socket.AF_INET if half == 4 else socket.AF_INET6
        back = dst + src + route[-2:] + route[-4:-2]
        conn = Conn((route, back), (self._address(fam, src), sport, self._address(fam, dst), dport), mid, frame, ts)
        self._conns[route] = (conn, 0)
        self._conns[back] = (conn, 1)
        return conn

    def _address(self, family: int, packed: bytes) -> str:
        """An address as text, one string per address (a busy server appears on every row)."""
        text = self._addresses.get(packed)
        if text is None:
            if len(self._addresses) >= 1 << 16:
                self._addresses.clear()
            text = self._addresses[packed] = socket.inet_ntop(family, packed)
        return text

    def _forget(self, conn: Conn) -> None:
        """Drop the connection's table entries (unless a newer connection took the 4-tuple)."""
        for route in conn.routes:
            entry = self._conns.get(route)
            if entry is not None and entry[0] is conn:
                del self._conns[route]

    def _sweep(self, now: float) -> None:
        """Finish connections that closed (or turned out not to be TLS) long enough ago that no
        trailing packet is expected; every so often, also those idle for IDLE_TIMEOUT."""
        closing = self._closing
        for _ in range(len(closing)):
            conn = closing[0]
            if now - conn.last_time <= CLOSED_TIMEOUT:
                if not conn.closed:  # a live connection that is not TLS: check it again later
                    closing.rotate(-1)
                    continue
                break  # the rest closed later
            closing.popleft()
            self._finish(conn)
            self._forget(conn)
        if now - self._idle_checked > IDLE_TIMEOUT / 4:
            self._idle_checked = now
            for conn, side in list(self._conns.values()):
                if side == 0 and now - conn.last_time > IDLE_TIMEOUT:
                    self._finish(conn)
                    self._forget(conn)

    def _expire(self, closing: deque[Conn]) -> None:
        """Too many closed connections wait for trailing packets: finish the one that closed first
        (a trailing packet comes within a round trip; a later one opens nothing that carries TLS)."""
        for _ in range(2):
            conn = closing.popleft()
            if conn.closed:
                self._finish(conn)
                self._forget(conn)
                return
            closing.append(conn)  # not TLS and still sending: the idle sweep frees it

    def _finish(self, conn: Conn) -> None:
        """Flush a connection's remaining units, close it in the builder and free its buffers."""
        if conn.tls and not conn.dead:
            units: list[Unit] = []
            for side in (0, 1):
                half = conn.halves[side]
                if half.ooo:  # bytes that never arrived: parse what came after them
                    self._resolve_gap(conn, side, half, units)
                if half.last_opaque is not None:
                    units.append(half.last_opaque)
                    half.last_opaque = None
            self._emit(conn, units)
            if not conn.last_emitted and conn.last is not None:
                frame, ts, side, flags, plen = conn.last
                self._tcp(conn, side, frame, ts, flags, plen, False)
                conn.last_emitted = True
        if conn.sink is not None:
            conn.sink.close()
            conn.sink = None
        conn.dead = True
        conn.pending = []
        conn.halves = _DONE  # its buffers go; nothing reads them again (dead)

    # -- to the builder -------------------------------------------------------------------
    def _tcp(self, conn: Conn, side: int, frame: int, ts: float, flags: int, plen: int, retrans: bool) -> None:
        if conn.sink is not None:
            conn.sink.tcp(side, frame, ts, flags, plen, retrans)
        elif len(conn.pending) < PENDING_CAP:
            conn.pending.append((side, frame, ts, flags, plen, retrans))

    def _emit(self, conn: Conn, units: list[Unit]) -> None:
        """Hand units to the builder; the first ones make the connection known to it."""
        if not units:
            return
        sink = conn.sink
        if sink is None:
            if self._sink is None:
                return
            conn.tls = True
            frame, ts = conn.first
            a = conn.addr
            sink = conn.sink = self._sink.open(frame, ts, a[0], a[1], a[2], a[3])
            for packet in conn.pending:  # what was held until the first TLS bytes
                sink.tcp(*packet)
            conn.pending = []
        if conn.starttls is not None and sink.starttls is None:
            sink.starttls = conn.starttls
        unit = sink.unit
        for u in units:
            unit(*u)

    def _packet(self, conn: Conn, side: int, frame: int, ts: float, flags: int, seq: int, payload: bytes) -> None:
        half = conn.halves[side]
        retrans = False
        if flags & SYN:
            if conn.isn[side] == seq:
                retrans = True
            elif not half.fed:  # a repeated SYN must not rewind a stream already read
                half.next_seq = (seq + 1) & 0xFFFFFFFF
            conn.isn[side] = seq
            if conn.client is None:
                conn.client = side if not flags & ACK else 1 - side
        units: list[Unit] = []
        if flags & FIN and not payload and half.max_end is not None and 0 < (half.max_end - seq) & 0xFFFFFFFF < 0x80000000:
            retrans = True  # a FIN behind what this side already sent: seen before, or implied by a later ACK
        # (segments with data: the reassembly decides, so reordered segments are not retransmissions)
        end = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        if half.max_end is None or (end - half.max_end) & 0xFFFFFFFF < 0x80000000:
            half.max_end = end
        if payload:  # data on a SYN (TCP Fast Open) starts after the SYN's sequence number
            start = (seq + 1) & 0xFFFFFFFF if flags & SYN else seq
            retrans = self._segment(conn, side, half, frame, ts, start, payload, units) or retrans
        was_closed = conn.closed
        if flags & RST:
            conn.closed = True
            conn.ended = [True, True]  # a reset ends the connection for both sides
        elif flags & FIN:
            conn.fin[side] = conn.ended[side] = True
            conn.closed = conn.fin[0] and conn.fin[1]
        if conn.closed and not was_closed:
            self._closing.append(conn)  # finished once trailing packets had their chance
            if len(self._closing) > CLOSED_KEPT:
                self._expire(self._closing)
        if retrans:
            conn.retrans += 1
        interesting = conn.last is None or retrans or flags & (SYN | FIN | RST)
        conn.last = (frame, ts, side, flags, len(payload))
        if interesting:
            self._tcp(conn, side, frame, ts, flags, len(payload), retrans)
            conn.last_emitted = True
        else:
            conn.last_emitted = False
        if units:
            self._emit(conn, units)
        if conn.closed and conn.tls and (flags & RST or conn.fin[1 - side]):
            # both directions are done: flush parsers so the last records are emitted now
            units = []
            for s in (0, 1):
                h = conn.halves[s]
                if h.ooo:
                    self._resolve_gap(conn, s, h, units, frame, ts)
                if h.last_opaque is not None:
                    units.append(h.last_opaque)
                    h.last_opaque = None
                # nothing legitimate follows: free the buffers now, keep the entry for trailing ACKs
                h.rec, h.hs, h.ooo, h.mode = _FREED, _FREED, _NO_SEGMENTS, DEAD
            self._emit(conn, units)
            if conn.ended[0] and conn.ended[1] and conn.sink is not None:
                conn.sink.close()  # the row is complete but for trailing packets; its state goes now
        elif not conn.tls and self._hopeless(conn):
            conn.dead = True
            conn.pending = []
            conn.halves = _DONE  # its buffers go; nothing reads them again (dead)
            if not conn.closed:
                self._closing.append(conn)

    @staticmethod
    def _hopeless(conn: Conn) -> bool:
        """A direction sent more plaintext than any TLS upgrade precedes: no TLS will follow."""
        a, b = conn.halves
        return DEAD in (a.mode, b.mode)

    def _segment(self, conn: Conn, side: int, half: Half, frame: int, ts: float, seq: int,
                 data: bytes, units: list[Unit]) -> bool:
        """Reassemble one segment's payload; returns True if it was (partly) a retransmission."""
        if half.next_seq is None:
            half.next_seq = seq
            if half.mode == DETECT and conn.mid:
                half.gap = True  # the capture started mid-stream: find a record boundary
        rel = (seq - half.next_seq + 0x80000000) % 0x100000000 - 0x80000000
        if not half.fed and abs(rel) > FAR:
            # the first data is nowhere near the SYN's sequence number (a middlebox rewrote it,
            # or the SYN belonged to another attempt): the data defines the stream
            half.next_seq, rel = seq, 0
        retrans = False
        if rel < 0:
            if rel + len(data) <= 0:
                return True
            data = data[-rel:]
            retrans = True
            rel = 0
        if rel > 0:
            if seq in half.ooo and len(half.ooo[seq]) >= len(data):
                return True
            if half.ooo is _NO_SEGMENTS:  # a closed direction's late segment
                half.ooo = {}
            half.ooo[seq] = data
            if len(half.ooo) > OOO_SEGMENTS:
                self._resolve_gap(conn, side, half, units, frame, ts)
            return False
        self._feed(conn, side, half, frame, ts, data, units)
        if half.ooo:
            self._drain(conn, side, half, frame, ts, units)
        return retrans

    def _drain(self, conn: Conn, side: int, half: Half, frame: int, ts: float, units: list[Unit]) -> None:
        """Feed buffered out-of-order segments that now continue the stream."""
        progress = True
        while progress and half.ooo and half.next_seq is not None:
            progress = False
            for s in list(half.ooo):
                rel = (s - half.next_seq + 0x80000000) % 0x100000000 - 0x80000000
                if rel <= 0:
                    data = half.ooo.pop(s)
                    if rel + len(data) > 0:
                        self._feed(conn, side, half, frame, ts, data[-rel:] if rel else data, units)
                    progress = True

    def _resolve_gap(self, conn: Conn, side: int, half: Half, units: list[Unit],
                     frame: int | None = None, ts: float | None = None) -> None:
        """The capture lost bytes: skip to the earliest buffered segment and resynchronise."""
        if not half.ooo or half.next_seq is None:
            return
        base = half.next_seq
        first = min(half.ooo, key=lambda s: (s - base) % 0x100000000)
        lost = (first - base) % 0x100000000
        where = f"frame {frame}" if frame is not None else "the end of the capture"
        conn.notes.append(f"capture loss: {lost} byte(s) missing in the {'first' if side == 0 else 'second'} "
                          f"side's stream before {where}; parsing resumed at the next record header")
        half.next_seq = first
        half.rec.clear()
        half.hs.clear()
        half.skip = 0
        half.skip_unit = None
        half.gap = half.mode in (TLS, DETECT)
        if frame is None or ts is None:
            frame, ts = (conn.last[0], conn.last[1]) if conn.last else (0, 0.0)
        self._drain(conn, side, half, frame, ts, units)

    # -- TLS ------------------------------------------------------------------------------
    def _feed(self, conn: Conn, side: int, half: Half, frame: int, ts: float, data: bytes,
              units: list[Unit]) -> None:
        half.next_seq = ((half.next_seq or 0) + len(data)) & 0xFFFFFFFF
        half.fed = True
        if half.mode == DEAD:
            return
        if half.skip:  # passing over the body of a bulk record
            n = min(half.skip, len(data))
            half.skip -= n
            data = data[n:]
            if not half.skip and half.skip_unit is not None:
                u = half.skip_unit
                u[1], u[2] = frame, ts
                self._opaque(half, u, units)
                half.skip_unit = None
            if not data:
                return
        rec = half.rec
        rec += data
        if half.gap and not self._resync(half, frame, conn):
            return
        if half.mode == DETECT:
            self._detect(conn, side, half, frame)
            if half.mode not in (TLS, SSL2):
                return
        elif half.mode == PLAIN:
            self._plain(conn, side, half, frame)
            if half.mode != TLS:
                return
        if half.mode == SSL2:
            self._sslv2(conn, side, half, frame, ts, units)
            return
        self._records(conn, side, half, frame, ts, units)

    def _resync(self, half: Half, frame: int, conn: Conn) -> bool:
        """After lost bytes or a mid-stream start: drop bytes up to a plausible record header."""
        rec = half.rec
        n = len(rec)
        i = 0
        while i + 5 <= n:
            if _plausible_header(rec, i):
                length = (rec[i + 3] << 8) | rec[i + 4]
                nxt = i + 5 + length
                # confirm with the following header when it is already here
                if nxt + 5 > n or _plausible_header(rec, nxt):
                    del rec[:i]
                    half.gap = False
                    if half.mode == DETECT:
                        half.mode = TLS
                    return True
            i += 1
        del rec[:max(0, n - 4)]
        half.plain += n
        if half.plain > PLAIN_BUDGET and half.mode == DETECT:
            half.mode = DEAD
        return False

    def _detect(self, conn: Conn, side: int, half: Half, frame: int) -> None:
        rec = half.rec
        if len(rec) < 6:
            return
        if _plausible_header(rec, 0):
            half.mode = TLS
        elif _sslv2_hello(rec, 1) or (conn.client is not None and side != conn.client and _sslv2_hello(rec, 4)):
            half.mode = SSL2
        else:
            half.mode = PLAIN
            self._plain(conn, side, half, frame)

    def _plain(self, conn: Conn, side: int, half: Half, frame: int) -> None:
        """Plaintext before TLS: note an upgrade command, look for the first TLS record."""
        rec = half.rec
        other = conn.halves[1 - side]
        if conn.starttls is None:
            for pattern, proto in STARTTLS:
                if pattern.search(rec):
                    conn.starttls = proto
                    break
        # the client's ClientHello, or the server's answer once the client's TLS began
        want: tuple[int, ...] = (1, 2) if other.mode not in (TLS, SSL2) else (2, 11, 14)
        i = _find_hello(rec, want)
        if i < 0 and other.mode in (TLS, SSL2):
            j = rec.find(b"\x15\x03")  # a plaintext alert refusing the ClientHello
            if j >= 0 and j + 7 <= len(rec) and _plausible_header(rec, j) and rec[j + 4] == 2:
                i = j
        if i >= 0:
            if conn.starttls is None:  # a known upgrade is in the starttls column already
                conn.notes.append(f"TLS began after {half.plain + i} byte(s) of plaintext in one direction "
                                  "(a proxy CONNECT or SOCKS greeting, or an unknown upgrade)")
            del rec[:i]
            half.mode = TLS
            return
        half.plain += max(0, len(rec) - 16)
        del rec[:-16]  # keep a little to find a header split across segments
        if half.plain > PLAIN_BUDGET and conn.starttls is None:
            half.mode = DEAD

    @staticmethod
    def _unit(conn: Conn, side: int, frame: int, ts: float, ct: int, version: int, length: int,
              body: bytes | None, encrypted: bool = False, decrypted: bool = False, sslv2: bool = False) -> Unit:
        notes = None
        if conn.notes:  # remarks travel with the next unit
            notes, conn.notes = conn.notes, []
        return [side, frame, ts, ct, version, length, body, encrypted, decrypted, sslv2, notes]

    @staticmethod
    def _opaque(half: Half, u: Unit, units: list[Unit]) -> None:
        """Emit an opaque record, or in bulk mode only remember it as the latest one."""
        if u[3] != 23 or half.opaque < OPAQUE_KEPT:
            if u[3] == 23:
                half.opaque += 1
            units.append(u)
        else:
            half.last_opaque = u

    def _records(self, conn: Conn, side: int, half: Half, frame: int, ts: float, units: list[Unit]) -> None:
        rec = half.rec
        i, n = 0, len(rec)  # records are read at offset i; the bytes before it go in one del
        while n - i >= 5:
            ct, length = rec[i], (rec[i + 3] << 8) | rec[i + 4]
            if not (20 <= ct <= 24 and rec[i + 1] == 3 and rec[i + 2] <= 4 and 0 < length <= MAX_RECORD):
                conn.notes.append(f"garbled TLS record at frame {frame} (header {bytes(rec[i:i + 5]).hex()}); "
                                  "skipped to the next record header")
                half.hs.clear()
                del rec[:i + 1]
                i = 0
                half.gap = True
                if not self._resync(half, frame, conn):
                    return
                n = len(rec)
                continue
            end = i + 5 + length
            if end > n:
                if ct == 23 and conn.keys is None:  # opaque: pass over the body without buffering it
                    half.skip = end - n
                    half.skip_unit = self._unit(conn, side, frame, ts, 23, (rec[i + 1] << 8) | rec[i + 2], length, None,
                                                True)
                    rec.clear()
                    return
                break
            body = bytes(memoryview(rec)[i + 5:end])  # one copy (the view is gone before rec changes)
            version = (rec[i + 1] << 8) | rec[i + 2]
            i = end
            self._record(conn, side, half, frame, ts, ct, version, body, units)
        if i:
            del rec[:i]

    def _record(self, conn: Conn, side: int, half: Half, frame: int, ts: float, ct: int, version: int,
                body: bytes, units: list[Unit]) -> None:
        encrypted = ct == 23 or (half.ccs and ct != 20 and not conn.tls13) or (ct == 21 and not _clear_alerts(body))
        if encrypted:
            plain = self._decrypt(conn, side, ct, version, body)
            if plain is None:
                self._opaque(half, self._unit(conn, side, frame, ts, ct, version, len(body), None, True), units)
                return
            ct, body = plain
            if ct == 22:
                self._handshake(conn, side, half, frame, ts, version, body, units, decrypted=True)
            elif ct == 21:
                for i in range(0, len(body) - 1, 2):
                    units.append(self._unit(conn, side, frame, ts, 21, version, 2, body[i:i + 2], True, True))
            else:
                self._opaque(half, self._unit(conn, side, frame, ts, ct, version, len(body), None, True, True), units)
            return
        if ct == 22:
            self._handshake(conn, side, half, frame, ts, version, body, units)
        elif ct == 20:
            if conn.version_known and not conn.tls13:  # TLS 1.3 (and HRR) CCS is a dummy
                half.ccs = True
            units.append(self._unit(conn, side, frame, ts, 20, version, len(body), body[:1]))
        elif ct == 21:
            if len(body) < 2:
                conn.notes.append(f"short alert record at frame {frame}")
            for i in range(0, len(body) - 1, 2):
                units.append(self._unit(conn, side, frame, ts, 21, version, 2, body[i:i + 2]))
        else:  # heartbeat
            units.append(self._unit(conn, side, frame, ts, ct, version, len(body), None))

    def _handshake(self, conn: Conn, side: int, half: Half, frame: int, ts: float, version: int, body: bytes,
                   units: list[Unit], decrypted: bool = False) -> None:
        hs = half.hs
        if hs:  # a message split across records: reassemble
            hs += body
            data: bytes | bytearray = hs
        else:  # the usual case: whole messages in this record, read in place
            half.hs_version = version
            data = body
        i, n = 0, len(data)
        while n - i >= 4:
            length = (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]
            if length > MAX_HANDSHAKE:
                conn.notes.append(f"implausible handshake message length {length} at frame {frame}; dropped")
                hs.clear()
                return
            end = i + 4 + length
            if end > n:
                break
            msg = data if (i == 0 and end == n and data is body) else bytes(data[i:end])
            i = end
            self._message(conn, side, msg)
            units.append(self._unit(conn, side, frame, ts, 22, half.hs_version, length, msg, decrypted, decrypted))
            half.hs_version = version
        if data is hs:
            del hs[:i]
        elif i < n:
            hs += data[i:]  # the start of a message that continues in the next record

    def _message(self, conn: Conn, side: int, msg: bytes) -> None:
        """Track what the record layer needs: who the client is, TLS 1.3, the client random."""
        mtype = msg[0]
        if mtype == 1 and len(msg) >= 38:
            if conn.client is None:
                conn.client = side
            conn.client_random = msg[6:38]
        elif mtype == 2 and len(msg) >= 38:
            if conn.client is None:
                conn.client = 1 - side
            version, hrr = _server_hello_version(msg)
            if not hrr:
                conn.version_known = True
                conn.tls13 = _is_tls13(version)
                if conn.tls13 and self._decryptor is not None:
                    conn.keys = self._decryptor.start(conn.client_random, msg)

    def _decrypt(self, conn: Conn, side: int, ct: int, version: int, body: bytes) -> tuple[int, bytes] | None:
        if conn.keys is None or ct != 23 or conn.client is None:
            return None
        result: tuple[int, bytes] | None = conn.keys.decrypt(side == conn.client, body, version)
        return result

    def _sslv2(self, conn: Conn, side: int, half: Half, frame: int, ts: float, units: list[Unit]) -> None:
        """SSLv2 records: the hellos are emitted, everything after is opaque."""
        rec = half.rec
        while len(rec) >= 3:
            two = rec[0] & 0x80
            length = ((rec[0] & 0x7F) << 8 | rec[1]) if two else ((rec[0] & 0x3F) << 8 | rec[1])
            head = 2 if two else 3
            if len(rec) < head + length:
                return
            msg = bytes(rec[head:head + length])
            del rec[:head + length]
            if msg and msg[0] in (1, 4) and not half.opaque:
                if msg[0] == 1:
                    conn.client = side if conn.client is None else conn.client
                version = (msg[1] << 8 | msg[2]) if msg[0] == 1 and len(msg) >= 3 else 0x0002
                if msg[0] == 4 and len(msg) >= 5:
                    version = msg[3] << 8 | msg[4]
                units.append(self._unit(conn, side, frame, ts, 22, version, len(msg), msg, sslv2=True))
                if msg[0] == 1 and version >= 0x0300:
                    # a v3-capable client: its next bytes are TLS records if the server agrees
                    half.mode = DETECT
                    if len(rec) >= 6:
                        self._detect(conn, side, half, frame)
                        if half.mode == TLS:
                            self._records(conn, side, half, frame, ts, units)
                    return
            else:
                half.opaque += 1
                units.append(self._unit(conn, side, frame, ts, 23, 0x0002, len(msg), None, True))


def _clear_alerts(body: bytes) -> bool:
    """A plaintext alert record: pairs of (level 1|2, description); anything else is ciphertext
    (e.g. an encrypted alert after a ChangeCipherSpec this capture did not show intact)."""
    return 0 < len(body) <= 8 and not len(body) % 2 and all(b in (1, 2) for b in body[::2])


HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")  # RFC 8446 4.1.3


def _server_hello_version(msg: bytes) -> tuple[int | None, bool]:
    """(negotiated version, is HelloRetryRequest) of a ServerHello message.

    Only what the record layer needs, read directly (the builder parses the whole message):
    supported_versions when present, else legacy_version; None when the message is damaged."""
    n = len(msg)
    if n < 38:
        return None, False
    legacy = (msg[4] << 8) | msg[5]
    hrr = msg[6:38] == HRR_RANDOM
    if 0x7F00 <= legacy <= 0x7F15:  # early TLS 1.3 drafts: no session id, no compression method
        i = 38 + 2
    else:
        if n < 39:
            return None, hrr
        i = 39 + msg[38] + 3
    if i + 2 > n:
        return legacy, hrr  # no extensions
    end = min(n, i + 2 + ((msg[i] << 8) | msg[i + 1]))
    i += 2
    while i + 4 <= end:
        etype, elen = (msg[i] << 8) | msg[i + 1], (msg[i + 2] << 8) | msg[i + 3]
        if etype == 43 and elen >= 2 and i + 6 <= end:
            return (msg[i + 4] << 8) | msg[i + 5], hrr
        i += 4 + elen
    return legacy, hrr


def _make_decryptor(keylog: Path | None, reader: PacketReader) -> Any:
    """A TLS 1.3 decryptor from a key-log file and the capture's embedded secrets, or None."""
    try:
        from tlskit.capture._native._decrypt import Decryptor
    except ImportError:
        return None
    return Decryptor.create(keylog, reader)
