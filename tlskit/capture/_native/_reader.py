"""Capture files packet by packet: pcap (either byte order, micro- or nanosecond), pcapng and
gzip-compressed either, recognised by their magic numbers, never by the file name.

:func:`open_capture` checks the file and returns a :class:`PacketReader`; iterating it yields
``(frame, time, linktype, data)`` for every packet without holding more than one packet in
memory. Key-log lines found in pcapng Decryption Secrets Blocks are collected in
``reader.secrets`` as they are met (they precede the packets they decrypt).
"""

from __future__ import annotations

import gzip
import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tlskit.errors import CaptureError, CaptureWarning

GZIP_MAGIC = b"\x1f\x8b"
PCAPNG_SHB = 0x0A0D0D0A
# pcap magic (as read little-endian) -> (byte order, ticks per second)
PCAP_MAGICS = {
    0xA1B2C3D4: ("<", 1_000_000),
    0xD4C3B2A1: (">", 1_000_000),
    0xA1B23C4D: ("<", 1_000_000_000),
    0x4D3CB2A1: (">", 1_000_000_000),
}
DSB_TLS_KEY_LOG = 0x544C534B  # "TLSK": secrets in SSLKEYLOGFILE format
MAX_BLOCK = 1 << 28  # a block this large is damage, not data
CHUNK = 1 << 20

FIX_NOT_CAPTURE = (
    "give the path of a .pcap or .pcapng file (optionally gzip-compressed), e.g. one written by "
    "`tcpdump -w` or Wireshark; other formats can be converted with `editcap -F pcapng in out`"
)

FIX_UNREADABLE = (
    "check the disk or network share it is on (`dmesg` shows I/O errors), or copy the file to a "
    "local disk and load the copy"
)

Packet = tuple[int, float, int, bytes]  # frame (1-based), epoch seconds, link type, bytes
Block = tuple[Any, ...]  # see PacketReader.pcapng_blocks


class _Replay(io.RawIOBase):
    """A pipe whose first bytes, read to sniff the format, are served again before the rest.

    A pipe cannot seek back; wrapping it keeps the readers downstream unaware of the sniffing.
    """

    def __init__(self, head: bytes, raw: BinaryIO):
        super().__init__()
        self._head = head
        self._raw = raw
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # bytes read so far, for progress bars (a pipe has no position)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            n = int(self._raw.readinto(buffer) or 0)  # type: ignore[attr-defined]
        self._pos += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _fill(raw: BinaryIO, kept: bytearray, n: int) -> None:
    """Read until `kept` holds n bytes or the file ends (a pipe may deliver a few bytes at a time)."""
    while len(kept) < n:
        piece = raw.read(n - len(kept))
        if not piece:
            return
        kept += piece


def _gunzip_head(raw: BinaryIO, kept: bytearray, n: int) -> bytes:
    """The first n uncompressed bytes of the gzip stream that `kept` starts, reading more into `kept` as needed."""
    z = zlib.decompressobj(wbits=31)  # gzip header and trailer
    out = b""
    used = 0
    while len(out) < n and not z.eof:
        feed = z.unconsumed_tail
        if not feed:
            if used == len(kept):
                piece = raw.read(1 << 16)
                if not piece:
                    break
                kept += piece
            feed, used = bytes(kept[used:]), len(kept)
        out += z.decompress(feed, n - len(out))
    return out


def _sniff(path: Path) -> tuple[BinaryIO, str]:
    """Open path, transparently gunzipping, after checking it is a plausible capture.

    Works on pipes (``/dev/stdin``, ``<(zcat x.pcap.gz)``): the first bytes are read once,
    never sought back to.
    """
    if not path.exists():
        raise CaptureError("capture file not found", path=path, fix="check the path and the current directory")
    if path.is_dir():
        raise CaptureError(
            "this is a directory, not a capture file", path=path,
            fix="give one .pcap/.pcapng file inside it, or use tlskit.load_many() for many files",
        )
    try:
        raw: BinaryIO = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by the reader)
    except OSError as exc:
        raise CaptureError(f"cannot open the file ({exc.strerror})", path=path, fix="check its permissions") from exc
    try:
        return _check_head(path, raw)
    except BaseException:
        raw.close()
        raise


def _check_head(path: Path, raw: BinaryIO) -> tuple[BinaryIO, str]:
    if raw.isatty():  # `tlskit diagnose /dev/stdin` with nothing piped in would wait for typing
        raise CaptureError("this is a terminal, not a capture", path=path,
                           fix="pipe a capture into it (`tcpdump -w - ... | tlskit diagnose /dev/stdin`) or give a file")
    kept = bytearray()  # every byte read from raw so far
    try:
        _fill(raw, kept, 4)
        if not kept:
            raise CaptureError("the file is empty (0 bytes)", path=path,
                               fix="capture again; the capture tool may have been stopped before it wrote anything")
        gz = kept[:2] == GZIP_MAGIC
        if gz:
            try:
                head = _gunzip_head(raw, kept, 4)
            except zlib.error as exc:
                raise CaptureError(f"gzip data is damaged ({exc})", path=path, fix="re-copy or re-compress the file") from exc
            if not head:
                raise CaptureError("the gzip file holds no data", path=path, fix="capture again")
        else:
            head = bytes(kept[:4])
        magic = struct.unpack("<I", head)[0] if len(head) == 4 else None
        if magic is None:
            raise CaptureError("the file is too short to be a capture", path=path, fix=FIX_NOT_CAPTURE)
        if magic in PCAP_MAGICS or magic == PCAPNG_SHB:
            fmt = "pcapng" if magic == PCAPNG_SHB else "pcap"
        elif all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            if gz:
                first = _gunzip_head(raw, kept, 200)
            else:
                _fill(raw, kept, 200)
                first = bytes(kept[:200])
            if b"CLIENT_RANDOM" in first or b"SECRET" in first:
                raise CaptureError("this is a TLS key log, not a packet capture", path=path,
                                   fix="pass it as keylog=..., and the capture file as the path")
            raise CaptureError("this is a text file, not a packet capture", path=path, fix=FIX_NOT_CAPTURE)
        else:
            raise CaptureError(f"unknown file format (magic 0x{magic:08x})", path=path, fix=FIX_NOT_CAPTURE)
        # A file goes back to its start; a pipe gets what was read put back in front.
        stream: BinaryIO = raw
        if raw.seekable():
            raw.seek(0)
        else:
            stream = _Replay(bytes(kept), raw)  # type: ignore[assignment]
    except OSError as exc:  # EIO from a failing disk, a stale NFS handle, /proc/self/mem
        raise CaptureError(f"cannot read the file ({exc.strerror or exc})", path=path, fix=FIX_UNREADABLE) from exc
    if gz:
        return gzip.GzipFile(fileobj=stream, mode="rb"), fmt  # type: ignore[return-value]
    return stream, fmt


class PacketReader:
    """Iterate the packets of one capture file; see :func:`open_capture`."""

    def __init__(self, path: Path, stream: BinaryIO, fmt: str):
        self.path = path
        self._gzip = isinstance(stream, gzip.GzipFile)
        # GzipFile buffers by itself; a plain file gets a large buffer
        self._f: Any = stream if self._gzip else io.BufferedReader(stream, 1 << 20)
        self._raw = stream
        self._file = getattr(stream, "fileobj", None)  # the file under a GzipFile
        self._broken = False
        self._read_failed = False
        self._consumed = 0  # bytes read (decompressed for gzip)
        self.secrets: list[bytes] = []  # key-log lines from pcapng DSBs, in file order
        self.notes: list[str] = []
        self.frames = 0
        self.format = fmt
        self.pcap_header: tuple[str, int, int] = ("<", 1_000_000, 1)  # classic pcap: set by pcap_blocks()

    def close(self) -> None:
        self._f.close()
        if self._file is not None:  # GzipFile does not close a file object it was given
            self._file.close()

    def __enter__(self) -> PacketReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bytes_read(self) -> int:
        """Position in the underlying file (compressed bytes for gzip), for progress bars."""
        raw = self._file or self._raw
        try:
            return int(raw.tell())
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[Packet]:
        if self.format == "pcap":
            return self._pcap()
        return self._pcapng()

    def _truncated(self, what: str) -> None:
        if self._read_failed:
            return  # the read error is the reason, already noted (not a capture cut off)
        warnings.warn(
            CaptureWarning(f"{self.path}: {what} after frame {self.frames}; the packets before it were read "
                           "(the capture was probably cut off while being written or copied)"),
            stacklevel=4,
        )

    def _read(self, n: int) -> bytes:
        if self._broken:
            return b""
        # piece by piece (one underlying read each), so that a read error or a damaged or
        # cut-off gzip stream loses nothing before the failure
        parts: list[bytes] = []
        got = 0
        try:
            while got < n:
                piece = self._f.read1(n - got)
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
        except (OSError, EOFError, zlib.error) as exc:
            self._broken = True
            if self._gzip:
                self.notes.append(f"compressed data ends early or is damaged ({exc})")
            else:  # a failing disk, a stale network mount
                self._read_failed = True
                self.notes.append(f"read error after byte {self._consumed + got:,} "
                                  f"({getattr(exc, 'strerror', None) or exc}); the packets before it were read")
        self._consumed += got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- pcap -----------------------------------------------------------------------------
    def pcap_blocks(self) -> Iterator[Block]:
        """A classic pcap file as ``("pcap", buffer, start, stop, (byte order, ticks per second,
        link type))``: ``buffer[start:stop]`` holds whole packet records (16-byte record header,
        then the packet) and nothing else.

        For readers that decode records in place instead of taking one object per packet (the
        native engine's loop). Records are cut out of large reads: one read() per packet would
        cost more than the parsing; memory stays about one chunk."""
        header = self._read(24)
        if len(header) < 24:
            raise CaptureError("the pcap file header is incomplete", path=self.path, fix=FIX_NOT_CAPTURE)
        order, ticks = PCAP_MAGICS[struct.unpack("<I", header[:4])[0]]
        self.pcap_header = (order, ticks, struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF)
        length_at = struct.Struct(order + "I").unpack_from
        chunk = b""
        frames = 0
        while True:
            more = self._read(CHUNK)
            chunk = chunk + more if chunk else more
            n = len(chunk)
            pos = 0
            bad = 0
            while pos + 16 <= n:
                incl = length_at(chunk, pos + 8)[0]
                if incl > MAX_BLOCK:
                    bad = incl
                    break
                end = pos + 16 + incl
                if end > n:
                    break
                pos = end
                frames += 1
            if pos:
                yield "pcap", chunk, 0, pos, self.pcap_header
            self.frames = frames
            if bad:
                self._truncated(f"implausible packet length {bad}")
                return
            if not more:
                if pos < n:
                    self._truncated("incomplete packet header" if n - pos < 16 else "incomplete last packet")
                return
            chunk = chunk[pos:]

    def blocks(self) -> Iterator[Block]:
        """The file in blocks to decode in place: :meth:`pcap_blocks` or :meth:`pcapng_blocks`."""
        return self.pcap_blocks() if self.format == "pcap" else self.pcapng_blocks()

    def _pcap(self) -> Iterator[Packet]:
        frame = 0
        for _kind, buf, pos, stop, (order, ticks, linktype) in self.pcap_blocks():
            unpack = struct.Struct(order + "III").unpack_from
            while pos < stop:
                sec, frac, incl = unpack(buf, pos)
                frame += 1
                yield frame, sec + frac / ticks, linktype, buf[pos + 16:pos + 16 + incl]
                pos += 16 + incl

    # -- pcapng ---------------------------------------------------------------------------
    def pcapng_blocks(self) -> Iterator[Block]:
        """A pcapng file as runs of Enhanced Packet Blocks to decode in place, and single packets.

        Yields ``("epb", buffer, start, stop, (byte order, interfaces))``: ``buffer[start:stop]``
        holds whole EPBs of one section, each on a declared interface and with its packet inside
        the block (interfaces: ``(link type, ticks per second, offset, snaplen)`` by index); and
        ``("packet", time, link type, data)`` for Simple and obsolete Packet Blocks. Section and
        interface blocks and Decryption Secrets (into :attr:`secrets`) are read on the way, so a
        run comes after every block that precedes it in the file."""
        order = "<"
        ifaces: list[tuple[int, int, float, int]] = []  # (linktype, ticks per second, offset, snaplen)
        first = True
        last_time = 0.0  # of the last EPB: a Simple Packet Block has no time of its own
        chunk = b""
        frames = 0
        while True:
            more = self._read(CHUNK)
            chunk = chunk + more if chunk else more
            n = len(chunk)
            pos = 0
            run = -1  # start of the current run of EPBs
            last_epb = -1
            while n - pos >= 12:
                btype, blen = struct.unpack_from(order + "II", chunk, pos)
                if btype == PCAPNG_SHB:
                    bom = chunk[pos + 8:pos + 12]
                    if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                        raise CaptureError("pcapng section header has a bad byte-order magic", path=self.path,
                                           fix=FIX_NOT_CAPTURE)
                    shb_order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                    blen = struct.unpack_from(shb_order + "I", chunk, pos + 4)[0]
                    if blen < 28 or blen % 4 or blen > MAX_BLOCK:
                        raise CaptureError(f"pcapng section header has a bad length ({blen})", path=self.path,
                                           fix=FIX_NOT_CAPTURE)
                elif first:
                    raise CaptureError("pcapng file does not start with a section header", path=self.path,
                                       fix=FIX_NOT_CAPTURE)
                elif blen < 12 or blen % 4 or blen > MAX_BLOCK:
                    if run >= 0:
                        yield "epb", chunk, run, pos, (order, ifaces)
                    self.frames = frames
                    self._truncated(f"damaged block (length {blen})")
                    return
                end = pos + blen
                if end > n:
                    break
                if btype == 6 and blen >= 32:
                    iface, incl = struct.unpack_from(order + "I8xI", chunk, pos + 8)
                    if iface < len(ifaces) and incl <= blen - 32:  # the usual EPB: into the run
                        if run < 0:
                            run = pos
                        last_epb = pos
                        frames += 1
                        pos = end
                        continue
                if run >= 0:  # any other block ends the run
                    yield "epb", chunk, run, pos, (order, ifaces)
                    run = -1
                if last_epb >= 0:
                    last_time = _epb_time(chunk, last_epb, order, ifaces)
                    last_epb = -1
                body = chunk[pos + 8:end - 4]
                pos = end
                if btype == PCAPNG_SHB:
                    order, ifaces, first = shb_order, [], False
                elif btype in (6, 2):  # an EPB the run cannot take, or an obsolete Packet Block
                    if len(body) < 20:
                        continue
                    if btype == 6:
                        iface, hi, lo, incl = struct.unpack_from(order + "IIII", body)
                    else:
                        iface, _drops, hi, lo, incl = struct.unpack_from(order + "HHIII", body)
                    if iface >= len(ifaces):
                        self.notes.append(f"packet for undeclared interface {iface} skipped")
                        continue
                    linktype, per_second, offset, _snap = ifaces[iface]
                    last_time = ((hi << 32) | lo) / per_second + offset  # division: exact to the float
                    frames += 1
                    self.frames = frames
                    yield "packet", last_time, linktype, body[20:20 + incl]
                elif btype == 3:  # simple packet block: interface 0, no timestamp
                    if not ifaces or len(body) < 4:
                        continue
                    orig = struct.unpack_from(order + "I", body)[0]
                    linktype, _tick, _offset, snap = ifaces[0]
                    frames += 1
                    self.frames = frames
                    yield "packet", last_time, linktype, body[4:4 + (min(orig, snap) if snap else orig)]
                elif btype == 1:  # interface description
                    if len(body) >= 8:
                        linktype, _res, snap = struct.unpack_from(order + "HHI", body)
                        tick, offset = _if_options(body[8:], order)
                        ifaces = [*ifaces, (linktype, tick, offset, snap)]  # a new list: runs out keep theirs
                elif btype == 10 and len(body) >= 8:  # decryption secrets
                    stype, slen = struct.unpack_from(order + "II", body)
                    if stype == DSB_TLS_KEY_LOG:
                        self.secrets.append(bytes(body[8:8 + slen]))
            if run >= 0:
                yield "epb", chunk, run, pos, (order, ifaces)
            if last_epb >= 0:
                last_time = _epb_time(chunk, last_epb, order, ifaces)
            self.frames = frames
            if not more:
                if pos < n:
                    self._truncated("incomplete block header" if n - pos < 8 else
                                    "incomplete section header" if first else "incomplete last block")
                return
            chunk = chunk[pos:]

    def _pcapng(self) -> Iterator[Packet]:
        frame = 0
        for block in self.pcapng_blocks():
            if block[0] == "packet":
                frame += 1
                yield frame, block[1], block[2], block[3]
                continue
            _kind, buf, pos, stop, (order, ifaces) = block
            unpack = struct.Struct(order + "6I").unpack_from  # type, length, interface, time high, low, captured
            while pos < stop:
                _btype, blen, iface, hi, lo, incl = unpack(buf, pos)
                linktype, per_second, offset, _snap = ifaces[iface]
                frame += 1
                yield frame, ((hi << 32) | lo) / per_second + offset, linktype, buf[pos + 28:pos + 28 + incl]
                pos += blen


def _epb_time(buf: bytes, pos: int, order: str, ifaces: list[tuple[int, int, float, int]]) -> float:
    """Epoch seconds of the Enhanced Packet Block at buf[pos] (on a declared interface)."""
    iface, hi, lo = struct.unpack_from(order + "III", buf, pos + 8)
    _linktype, per_second, offset, _snap = ifaces[iface]
    return ((hi << 32) | lo) / per_second + offset


def _if_options(opts: bytes, order: str) -> tuple[int, float]:
    """Ticks per second (if_tsresol, code 9) and if_tsoffset (code 14) from an IDB's options."""
    tick, offset = 1_000_000, 0.0
    i = 0
    while i + 4 <= len(opts):
        code, length = struct.unpack_from(order + "HH", opts, i)
        if code == 0:
            break
        value = opts[i + 4:i + 4 + length]
        if code == 9 and length >= 1:
            r = value[0]
            tick = 2 ** (r & 0x7F) if r & 0x80 else 10 ** r
        elif code == 14 and length >= 8:
            offset = float(struct.unpack_from(order + "q", value)[0])
        i += 4 + ((length + 3) & ~3)
    return tick, offset


def open_capture(path: str | Path) -> PacketReader:
    """Check ``path`` and open it for reading packet by packet.

    ``path`` may be a pipe (``/dev/stdin``, ``<(zcat x.pcap.gz)``): it is read once, front to back.

    Raises
    ------
    CaptureError
        Missing file, a directory, a terminal, an empty file, a text file, an unknown format, or
        a read error (EIO); the message names the file and what to do.
    """
    p = Path(path)
    return PacketReader(p, *_sniff(p))
