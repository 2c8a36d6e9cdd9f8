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

Packet = tuple[int, float, int, bytes]  # frame (1-based), epoch seconds, link type, bytes


def _sniff(path: Path) -> tuple[BinaryIO, str]:
    """Open path, transparently gunzipping, after checking it is a plausible capture."""
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
    head = raw.read(4)
    raw.seek(0)
    if not head:
        raw.close()
        raise CaptureError("the file is empty (0 bytes)", path=path, fix="capture again; the capture tool may have been stopped before it wrote anything")
    stream: BinaryIO = raw
    if head[:2] == GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        try:
            head = stream.read(4)
            stream.seek(0)
        except (OSError, EOFError, zlib.error) as exc:
            raw.close()
            raise CaptureError(f"gzip data is damaged ({exc})", path=path, fix="re-copy or re-compress the file") from exc
        if not head:
            raw.close()
            raise CaptureError("the gzip file holds no data", path=path, fix="capture again")
    if len(head) < 4:
        stream.close()
        raise CaptureError("the file is too short to be a capture", path=path, fix=FIX_NOT_CAPTURE)
    magic = struct.unpack("<I", head)[0]
    if magic in PCAP_MAGICS or magic == PCAPNG_SHB:
        return stream, "pcapng" if magic == PCAPNG_SHB else "pcap"
    stream.close()
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        what = "this is a text file, not a packet capture"
        with open(path, "rb") as f:
            first = f.read(200).decode("ascii", "replace")
        if "CLIENT_RANDOM" in first or "SECRET" in first:
            what = "this is a TLS key log, not a packet capture"
            return_fix = "pass it as keylog=..., and the capture file as the path"
            raise CaptureError(what, path=path, fix=return_fix)
        raise CaptureError(what, path=path, fix=FIX_NOT_CAPTURE)
    raise CaptureError(f"unknown file format (magic 0x{magic:08x})", path=path, fix=FIX_NOT_CAPTURE)


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
        self.secrets: list[bytes] = []  # key-log lines from pcapng DSBs, in file order
        self.notes: list[str] = []
        self.frames = 0
        self.format = fmt

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
        warnings.warn(
            CaptureWarning(f"{self.path}: {what} after frame {self.frames}; the packets before it were read "
                           "(the capture was probably cut off while being written or copied)"),
            stacklevel=4,
        )

    def _read(self, n: int) -> bytes:
        if not self._gzip:
            return bytes(self._f.read(n))
        if self._broken:
            return b""
        # piece by piece, so that a damaged or cut-off gzip stream loses nothing before the damage
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
            self.notes.append(f"compressed data ends early or is damaged ({exc})")
        return b"".join(parts)

    # -- pcap -----------------------------------------------------------------------------
    def _pcap(self) -> Iterator[Packet]:
        read = self._read
        header = read(24)
        if len(header) < 24:
            raise CaptureError("the pcap file header is incomplete", path=self.path, fix=FIX_NOT_CAPTURE)
        order, ticks = PCAP_MAGICS[struct.unpack("<I", header[:4])[0]]
        linktype = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
        unpack = struct.Struct(order + "IIII").unpack_from
        frame = 0
        chunk = b""
        pos = 0
        # Read in large chunks and cut packets out of them: two read() calls per packet
        # cost more than the parsing; memory stays one chunk plus one packet.
        while True:
            if pos + 16 > len(chunk):
                chunk = chunk[pos:] + read(CHUNK)
                pos = 0
                if len(chunk) < 16:
                    if chunk:
                        self._truncated("incomplete packet header")
                    break
            sec, frac, incl, _orig = unpack(chunk, pos)
            if incl > MAX_BLOCK:
                self._truncated(f"implausible packet length {incl}")
                break
            end = pos + 16 + incl
            if end > len(chunk):
                chunk = chunk[pos:] + read(max(CHUNK, incl + 16))
                pos, end = 0, 16 + incl
                if end > len(chunk):
                    self._truncated("incomplete last packet")
                    break
            frame += 1
            self.frames = frame
            yield frame, sec + frac / ticks, linktype, chunk[pos + 16:end]
            pos = end

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

    Raises
    ------
    CaptureError
        Missing file, a directory, an empty file, a text file or an unknown format; the
        message names the file and what to do.
    """
    p = Path(path)
    return PacketReader(p, *_sniff(p))
