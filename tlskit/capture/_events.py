"""What an engine hands to the table builder: the contract between the two halves of `load`.

An engine (tshark or native) turns a capture file into a time-ordered stream of two kinds of
events; :mod:`tlskit.capture._builder` turns that stream into the `messages`, `connections`
and `certificates` tables. Everything protocol-semantic (who is the client, established,
resumed, JA3/JA4, alerts) lives in the builder, so both engines give the same answers.

- :class:`TcpPacket`: one TCP packet, for connection boundaries and timing (SYN, SYN-ACK,
  FIN, RST, retransmissions). Engines emit one per TCP packet of connections they track, or
  may leave out packets with nothing of interest (no SYN/FIN/RST, not a retransmission) as
  long as a connection's first and last packets are emitted: the builder reads only those.
- :class:`TlsUnit`: one TLS-level unit after TCP reassembly: a complete handshake message
  (reassembled across records), a ChangeCipherSpec, an alert, or a record whose content
  stayed opaque (encrypted without keys, or application data). Engines may stop emitting
  opaque application-data units once a connection carries bulk data, provided the first 16
  per direction and the last one before each side closes are emitted.

Both carry ``stream``: the engine's TCP connection index (like tshark's ``tcp.stream``), so a
reused 4-tuple after FIN/RST is a new connection; -1 means "key on the 4-tuple".
Events come in capture order within a connection; connections may interleave out of order
(an engine may hold a connection's first packets until it knows the stream carries TLS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

# TCP flag bits as in the header.
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(slots=True)
class TcpPacket:
    frame: int  # 1-based frame number in the file
    time: float  # epoch seconds (UTC)
    src: str
    sport: int
    dst: str
    dport: int
    flags: int  # TCP flag bits
    payload_len: int
    retransmission: bool = False  # payload bytes already seen (counted once)
    stream: int = -1  # engine's TCP connection index


@dataclass(slots=True)
class TlsUnit:
    frame: int  # frame holding the unit's last byte
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    content_type: int  # 20 CCS, 21 alert, 22 handshake, 23 application data (inner type once decrypted)
    record_version: int  # record-layer version of the (first) record carrying it
    length: int  # record length (opaque/CCS/alert) or handshake body length
    body: bytes | None  # handshake: full message incl. 4-byte header; alert: 2 bytes; CCS: 1 byte; None if opaque
    encrypted: bool = False  # ciphertext on the wire
    decrypted: bool = False  # recovered with a key log
    sslv2: bool = False  # an SSLv2-format ClientHello (body is the SSLv2 message)
    starttls: str | None = None  # protocol that preceded TLS on this stream (smtp, imap, ...)
    notes: list[str] = field(default_factory=list)  # e.g. "garbled record at frame 12"
    stream: int = -1  # engine's TCP connection index


Event = TcpPacket | TlsUnit


class ConnectionSink(Protocol):
    """Where an engine reports one connection (the table builder's connection, or a recorder).

    ``side`` is 0 for the sender of the connection's first packet, 1 for the other; the
    arguments are the fields of :class:`TcpPacket` / :class:`TlsUnit` without the addresses."""

    starttls: str | None

    def tcp(self, side: int, frame: int, time: float, flags: int, payload_len: int,
            retransmission: bool = False) -> None: ...

    def unit(self, side: int, frame: int, time: float, ct: int, record_version: int, length: int,
             body: bytes | None, encrypted: bool = False, decrypted: bool = False, sslv2: bool = False,
             notes: list[str] | None = None) -> None: ...

    def close(self) -> None:
        """Both sides ended, or nothing more will come; later calls may only be tcp() for
        trailing packets (the last ACK, a retransmitted FIN)."""


class Sink(Protocol):
    """What an engine fills: :class:`tlskit.capture._builder.TableBuilder`, or
    :class:`EventRecorder`. Calls instead of event objects: creating an object per packet
    and per message costs more than the parsing on large captures."""

    def open(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int) -> ConnectionSink: ...


class EventRecorder:
    """A sink that keeps the calls as :class:`TcpPacket` / :class:`TlsUnit` objects (tests,
    engine comparisons, ``NativeEngine.events()``)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._streams = 0

    def open(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int) -> ConnectionSink:
        self._streams += 1
        return _RecordedConnection(self.events, ((src, sport), (dst, dport)), self._streams - 1)


class _RecordedConnection:
    def __init__(self, events: list[Event], ends: tuple[tuple[str, int], tuple[str, int]], stream: int):
        self.events, self.ends, self.stream = events, ends, stream
        self.starttls: str | None = None

    def tcp(self, side: int, frame: int, time: float, flags: int, payload_len: int,
            retransmission: bool = False) -> None:
        (src, sport), (dst, dport) = self.ends if side == 0 else self.ends[::-1]
        self.events.append(TcpPacket(frame, time, src, sport, dst, dport, flags, payload_len, retransmission,
                                     self.stream))

    def unit(self, side: int, frame: int, time: float, ct: int, record_version: int, length: int,
             body: bytes | None, encrypted: bool = False, decrypted: bool = False, sslv2: bool = False,
             notes: list[str] | None = None) -> None:
        (src, sport), (dst, dport) = self.ends if side == 0 else self.ends[::-1]
        self.events.append(TlsUnit(frame, time, src, sport, dst, dport, ct, record_version, length, body, encrypted,
                                   decrypted, sslv2, self.starttls, list(notes or ()), self.stream))

    def close(self) -> None:
        pass


class Engine(Protocol):
    """An engine yields events in capture order within each connection.

    Problems with the file that leave partial results (truncated last packet, garbled
    record) are reported with ``warnings.warn(..., CaptureWarning)``; unusable input raises
    :class:`tlskit.errors.CaptureError`.
    """

    name: str

    def events(self) -> Iterator[Event]: ...
