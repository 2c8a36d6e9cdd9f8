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
    def pcap_blocks(self) -> Iterator[tuple[bytes, int, int]]:
        """A classic pcap file as ``(buffer, start, stop)``: ``buffer[start:stop]`` holds whole
        packet records (16-byte record header, then the packet) and nothing else.

        For readers that decode records in place instead of taking one object per packet (the
        native engine's loop); :attr:`pcap_header` holds ``(byte order, ticks per second, link
        type)`` from the first block on. Records are cut out of large reads: one read() per packet
        would cost more than the parsing; memory stays about one chunk."""
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
                yield chunk, 0, pos
            self.frames = frames
            if bad:
                self._truncated(f"implausible packet length {bad}")
                return
            if not more:
                if pos < n:
                    self._truncated("incomplete packet header" if n - pos < 16 else "incomplete last packet")
                return
            chunk = chunk[pos:]

    def _pcap(self) -> Iterator[Packet]:
        frame = 0
        for buf, pos, stop in self.pcap_blocks():
            order, ticks, linktype = self.pcap_header
            unpack = struct.Struct(order + "III").unpack_from
            while pos < stop:
                sec, frac, incl = unpack(buf, pos)
                frame += 1
                yield frame, sec + frac / ticks, linktype, buf[pos + 16:pos + 16 + incl]
                pos += 16 + incl

    # -- pcapng ---------------------------------------------------------------------------
    def _pcapng(self) -> Iterator[Packet]:
        read = self._read
        order = "<"
        ifaces: list[tuple[int, int, float, int]] = []  # (linktype, ticks per second, offset, snaplen)
        frame = 0
        last_time = 0.0
        first = True
        while True:
            h = read(8)
            if len(h) < 8:
                if h:
                    self._truncated("incomplete block header")
                break
            btype = struct.unpack(order + "I", h[:4])[0]
            if btype == PCAPNG_SHB:
                bom = read(4)
                if len(bom) < 4:
                    self._truncated("incomplete section header")
                    break
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    raise CaptureError("pcapng section header has a bad byte-order magic", path=self.path, fix=FIX_NOT_CAPTURE)
                blen = struct.unpack(order + "I", h[4:8])[0]
                if blen < 28 or blen % 4 or blen > MAX_BLOCK:
                    raise CaptureError(f"pcapng section header has a bad length ({blen})", path=self.path, fix=FIX_NOT_CAPTURE)
                body = read(blen - 12)
                if len(body) < blen - 12:
                    self._truncated("incomplete section header")
                    break
                ifaces = []
                first = False
                continue
            if first:
                raise CaptureError("pcapng file does not start with a section header", path=self.path, fix=FIX_NOT_CAPTURE)
            blen = struct.unpack(order + "I", h[4:8])[0]
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                self._truncated(f"damaged block (length {blen})")
                break
            body = read(blen - 8)
            if len(body) < blen - 8:
                self._truncated("incomplete last block")
                break
            body = body[:-4]
            if btype == 6 or btype == 2:  # enhanced / obsolete packet block
                if btype == 6:
                    if len(body) < 20:
                        continue
                    iface, hi, lo, incl, _orig = struct.unpack_from(order + "IIIII", body)
                    data = body[20:20 + incl]
                else:
                    if len(body) < 20:
                        continue
                    iface, _drops, hi, lo, incl, _orig = struct.unpack_from(order + "HHIIII", body)
                    data = body[20:20 + incl]
                if iface >= len(ifaces):
                    self.notes.append(f"packet for undeclared interface {iface} skipped")
                    continue
                linktype, per_second, offset, _snap = ifaces[iface]
                last_time = ((hi << 32) | lo) / per_second + offset  # division: exact to the float
                frame += 1
                self.frames = frame
                yield frame, last_time, linktype, data
            elif btype == 3:  # simple packet block: interface 0, no timestamp
                if not ifaces or len(body) < 4:
                    continue
                orig = struct.unpack_from(order + "I", body)[0]
                linktype, _tick, _offset, snap = ifaces[0]
                incl = min(orig, snap) if snap else orig
                frame += 1
                self.frames = frame
                yield frame, last_time, linktype, body[4:4 + incl]
            elif btype == 1:  # interface description
                if len(body) < 8:
                    continue
                linktype, _res, snap = struct.unpack_from(order + "HHI", body)
                tick, offset = _if_options(body[8:], order)
                ifaces.append((linktype, tick, offset, snap))
            elif btype == 10 and len(body) >= 8:  # decryption secrets
                stype, slen = struct.unpack_from(order + "II", body)
                if stype == DSB_TLS_KEY_LOG:
                    self.secrets.append(bytes(body[8:8 + slen]))


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
