"""The one place tlskit talks to tshark and pyshark.

Everything else takes the tables this module's engine helps fill, never tshark output.

:class:`TsharkEngine` turns a capture into the events of :mod:`tlskit.capture._events` with
three tshark runs over the file, started together:

1. *detect*: a display-filter pass listing the TCP streams that carry TLS, either because
   tshark dissected it or because a segment starts like a ClientHello (TLS record header
   ``16 03 00-04`` + handshake type 1, or an SSLv2 CLIENT-HELLO) on a port tshark gives to
   another dissector (80 is HTTP to tshark). Those server ports get ``-d tcp.port==N,tls``
   and the other two runs are restarted with it. Plaintext protocols seen first on a stream
   (SMTP, IMAP, POP, FTP, XMPP, LDAP, PostgreSQL) name its STARTTLS upgrade.
2. *tls* (``-T json -x --no-duplicate-keys``): frames with handshake, alert, CCS or SSLv2
   records, with raw bytes; handshake messages come reassembled across records and segments
   by tshark, decrypted when keys are known (``tls.keylog_file``, pcapng DSB).
3. *tcp* (``-T fields``): every TCP packet of those streams (flags, payload length, sequence
   number for the retransmission rule of :class:`_Seq`), and the record headers of frames
   that hold application data only, so bulk transfers never go through JSON.

The tls and tcp runs are merged by frame number; every child runs in its own process group,
killed on error, timeout, generator close or KeyboardInterrupt.

Known limits (tshark 4.0, see tests/golden/test_engines_agree.py): a stream captured
mid-way with application data only, on a port tshark does not associate with TLS, is not
found; tshark does not dissect a retransmission of bytes the capture missed, and gives up
on handshake messages of several hundred kB.

:func:`packet_tree` gives pyshark's full Wireshark field tree of one frame and works inside
a running event loop (Jupyter) by running pyshark in a worker thread with its own loop.
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from tlskit.capture._events import FIN, RST, SYN, Event, TcpPacket, TlsUnit
from tlskit.capture._native._packet import DTLS_SKIPPED, QUIC_SKIPPED
from tlskit.errors import (
    CaptureError,
    CaptureWarning,
    TsharkError,
    TsharkNotFound,
    TsharkTooOld,
)

# Oldest tshark whose TLS dissector, field names and filter syntax this module is written
# against: 3.6 brought the `~=` (any not equal) operator used in _JSON_FILTER, and has
# `--no-duplicate-keys`, `tls.record.opaque_type` and TLS 1.3 handshake reassembly. Tested
# with 4.0.17 (Debian 12).
MIN_VERSION = (3, 6, 0)
INSTALL_HINT = (
    "install Wireshark's command-line tool: `sudo apt-get install -y tshark` (Debian/Ubuntu), "
    "`conda install -c conda-forge wireshark`, or `brew install wireshark`; or set TLSKIT_TSHARK "
    "to its path. `tlskit doctor` checks the result"
)
CAPTURE_FIX = "pass a pcap or pcapng file (optionally gzip-compressed), e.g. from tcpdump -w or Wireshark's File > Save As"

# Plaintext protocols that upgrade to TLS in-stream (STARTTLS, AUTH TLS, SSLRequest), as
# tshark names them -> the name in the tables (same vocabulary as the native engine).
_STARTTLS = {
    "smtp": "smtp", "imap": "imap", "pop": "pop3", "ftp": "ftp", "xmpp": "xmpp",
    "ldap": "ldap", "pgsql": "postgresql",
}

# A segment starting like a TLS ClientHello (record header + handshake type 1) or an SSLv2
# CLIENT-HELLO (2-byte header with the high bit set, msg type 1, version 0x0002 or 0x03xx).
_HELLO_FILTER = (
    "(tcp.len >= 6 and tcp.payload[0] == 16 and tcp.payload[1] == 03 and tcp.payload[2] <= 04"
    " and tcp.payload[5] == 01)"
    " or (tcp.len >= 5 and tcp.payload[0] & 80 and tcp.payload[2] == 01"
    " and (tcp.payload[3:2] == 00:02 or tcp.payload[3] == 03))"
)
_TCP_FIELDS = (
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.len", "tcp.seq_raw", "tcp.stream",
    "tls.record.content_type", "tls.record.opaque_type", "tls.record.version", "tls.record.length",
)
# Frames the JSON pass reads: any record that is not opaque application data (handshake,
# alert, CCS, SSLv2, or a TLS 1.3 record tshark decrypted). Frames holding only application
# data records (bulk transfer) come from the cheap fields pass instead: their records are
# opaque, and -T json -x would print each one's bytes in hex several times.
_JSON_FILTER = (
    "tls.record.content_type ~= 23 or tls.record.version == 0x0002"
    " or (tls.record.opaque_type and tls.record.content_type) or tls.ignored_unknown_record"
)
_JSON_LAYERS = (
    "frame frame.number frame.time_epoch frame.protocols ip ipv6 tcp "
    "tls tls.record tls.handshake tls.alert_message"
)
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
}


# ----------------------------------------------------------------------------- the binary


def find_tshark() -> Path:
    """Path of the tshark binary (``$TLSKIT_TSHARK`` first, then ``PATH``)."""
    override = os.environ.get("TLSKIT_TSHARK")
    if override:
        if Path(override).is_file() and os.access(override, os.X_OK):
            return Path(override)
        raise TsharkNotFound("TLSKIT_TSHARK points to no executable file", path=override, fix=INSTALL_HINT)
    found = shutil.which("tshark")
    if not found:
        raise TsharkNotFound("tshark was not found on PATH", fix=INSTALL_HINT)
    return Path(found)


def tshark_version(tshark: Path | None = None) -> tuple[int, int, int]:
    """Version of tshark as a tuple; raises TsharkNotFound if it cannot run."""
    binary = tshark or find_tshark()
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TsharkNotFound(f"tshark could not run ({exc})", path=binary, fix=INSTALL_HINT) from exc
    m = re.search(r"TShark \(Wireshark\) (\d+)\.(\d+)\.(\d+)", out)
    if not m:
        raise TsharkNotFound("tshark did not report a version", path=binary, fix=INSTALL_HINT)
    return int(m[1]), int(m[2]), int(m[3])


def check_tshark() -> tuple[Path, tuple[int, int, int]]:
    """The tshark to use and its version; raises if missing or older than MIN_VERSION."""
    binary = find_tshark()
    version = tshark_version(binary)
    if version < MIN_VERSION:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_VERSION))
        raise TsharkTooOld(f"tshark {have} is older than the {need} tlskit needs", path=binary, fix=INSTALL_HINT)
    return binary, version


# ----------------------------------------------------------------------------- processes


class _Proc:
    """A tshark child in its own process group, stderr to a temp file (no pipe to fill up)."""

    def __init__(self, argv: list[str], *, path: Path, timeout: float | None) -> None:
        self.argv = argv
        self.path = path
        self.timed_out = False
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child; closed in close())
        try:
            self.proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: one killpg stops tshark and dumpcap
            )
        except OSError as exc:
            self._err.close()
            raise TsharkNotFound(f"tshark could not start ({exc})", path=argv[0], fix=INSTALL_HINT) from exc
        self._timer: threading.Timer | None = None
        if timeout is not None:
            self._timer = threading.Timer(timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        self.timed_out = True
        self.kill()

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def finish(self) -> tuple[int, str]:
        """Wait for the exit; return (exit code, tshark's complaint condensed to one line)."""
        if self._timer:
            self._timer.cancel()
        rc = self.proc.wait()
        self._err.seek(0)
        return rc, _condense(self._err.read().decode("utf-8", "replace"))

    def close(self) -> None:
        """Kill the whole group if still running and release pipes (safe to call twice)."""
        if self._timer:
            self._timer.cancel()
        self.kill()
        if self.proc.stdout:
            self.proc.stdout.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._err.close()


def _condense(stderr: str) -> str:
    """tshark's own message as one line, without the 'running as root' banner."""
    lines = [
        ln.strip().removeprefix("tshark: ")
        for ln in stderr.splitlines()
        if ln.strip() and "could be dangerous" not in ln and not ln.startswith("Running as user")
    ]
    return " ".join(lines)[:500]


def _is_truncation(message: str) -> bool:
    """tshark stopped at a damaged or cut-off packet after reading the ones before it."""
    return "cut short" in message or "damaged or corrupt" in message or "truncated" in message.lower()


# ----------------------------------------------------------------------------- inputs


def check_capture_file(path: str | Path) -> Path:
    """The capture path, after checking it is a readable, non-empty pcap/pcapng (gzip allowed).

    Raises :class:`CaptureError` naming the file and what to do otherwise.
    """
    p = Path(path)
    if not p.exists():
        raise CaptureError("no such file", path=p, fix="check the path (relative paths start at the notebook's folder)")
    if p.is_dir():
        raise CaptureError("is a directory, not a capture file", path=p, fix=CAPTURE_FIX)
    if not p.is_file():  # a pipe or <(...) cannot be read again: tshark reads a capture once per pass
        raise CaptureError(
            "is a pipe or device, not a file; tshark reads a capture several times", path=p,
            fix="save it to a file first (e.g. `cat > capture.pcap`) and pass that, or use engine='native' (--engine native)",
        )
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
            if head[:2] == b"\x1f\x8b":
                fh.seek(0)
                try:
                    with gzip.GzipFile(fileobj=fh) as gz:
                        head = gz.read(4)
                except (OSError, EOFError) as exc:
                    raise CaptureError(f"damaged gzip file ({exc})", path=p, fix=CAPTURE_FIX) from exc
    except PermissionError as exc:
        raise CaptureError("cannot be read (permission denied)", path=p, fix="check the file's permissions") from exc
    if not head:
        raise CaptureError("is empty (0 bytes)", path=p, fix="capture again; the capture tool may have been stopped before writing")
    if head not in _PCAP_MAGIC:
        raise CaptureError("is not a pcap or pcapng capture (unknown file header)", path=p, fix=CAPTURE_FIX)
    return p


def check_keylog_file(keylog: str | Path) -> Path:
    """The key log path, after :func:`tlskit.tls.keylog.read_keylog` accepted it.

    Junk lines are skipped with a :class:`CaptureWarning` (tshark ignores them too); a
    missing file or one with no usable line raises :class:`KeylogError`.
    """
    from tlskit.tls.keylog import read_keylog

    read_keylog(keylog)
    return Path(keylog)


# ----------------------------------------------------------------------------- the engine


class TsharkEngine:
    """Events of a capture, read with tshark (see the module docstring for the passes).

    Parameters
    ----------
    path
        pcap or pcapng file, optionally gzip-compressed. pcapng Decryption Secrets Blocks are
        used by tshark automatically.
    keylog
        Optional SSLKEYLOGFILE; passed as ``-o tls.keylog_file:PATH``.
    timeout
        Seconds after which the tshark children are killed and :class:`CaptureError` raised;
        None waits as long as the file takes.
    """

    name = "tshark"

    def __init__(
        self, path: str | Path, keylog: str | Path | None = None, *, timeout: float | None = None
    ) -> None:
        self.path = Path(path)
        self.keylog = Path(keylog) if keylog is not None else None
        self.timeout = timeout
        self.binary: Path | None = None
        self.decode_ports: list[int] = []  # server ports given `-d tcp.port==N,tls` (after events())
        self.starttls: dict[int, str] = {}  # tcp.stream -> plaintext protocol seen before TLS
        self.notes: list[str] = []  # file-level remarks, read by load() after events()
        # DTLS / QUIC datagrams seen (not analysed), under the native engine's keys; read by load()
        self.skipped: Counter[str] = Counter()

    # -- passes

    def _base(self) -> list[str]:
        assert self.binary is not None
        argv = [str(self.binary), "-n", "-r", str(self.path), "-o", "tcp.analyze_sequence_numbers:TRUE"]
        if self.keylog is not None:
            argv += ["-o", f"tls.keylog_file:{self.keylog}"]
        for port in self.decode_ports:
            argv += ["-d", f"tcp.port=={port},tls"]
        return argv

    def _detect(self) -> set[int]:
        """Streams carrying TLS; fills self.decode_ports with ports tshark did not dissect."""
        argv = [
            *self._base(),
            "-Y", f"tls or ({_HELLO_FILTER}) or {' or '.join(_STARTTLS)} or dtls or quic.header_form == 1",
            "-T", "fields", "-E", "occurrence=f",
            "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "frame.protocols", "-e", "quic.header_form",
        ]
        streams: set[int] = set()
        ports: set[int] = set()
        proc = _Proc(argv, path=self.path, timeout=self.timeout)
        try:
            for raw in proc.stdout:
                parts = raw.decode("ascii", "replace").rstrip("\n").split("\t")
                if len(parts) >= 4 and not parts[0]:  # UDP: counted, as the native engine does
                    udp_chain = parts[2].split(":")
                    if "dtls" in udp_chain:
                        self.skipped[DTLS_SKIPPED] += 1
                    elif "quic" in udp_chain and parts[3] == "1":  # long header (handshake packets)
                        self.skipped[QUIC_SKIPPED] += 1
                    continue
                if len(parts) < 3 or not parts[0]:
                    continue
                stream, chain = int(parts[0]), parts[2].split(":")
                if "tls" in chain:
                    streams.add(stream)
                    continue
                before = [_STARTTLS[p] for p in chain if p in _STARTTLS]
                if before:  # plaintext that may upgrade; the stream counts once TLS shows up
                    self.starttls.setdefault(stream, before[0])
                else:  # a hello tshark did not dissect as TLS: decode-as on its server port
                    streams.add(stream)
                    ports.add(int(parts[1]))
            rc, message = proc.finish()
        finally:
            proc.close()
        self._check_exit(proc, rc, message)
        self.decode_ports = sorted(ports)
        return streams

    def _check_exit(self, proc: _Proc, rc: int, message: str) -> None:
        if proc.timed_out:
            raise CaptureError(
                f"tshark did not finish within {self.timeout:g} s", path=self.path,
                fix="raise timeout=, or use engine='native' for large captures",
            )
        if rc != 0 and not _is_truncation(message):
            raise CaptureError(f"tshark failed: {message or f'exit status {rc}'}", path=self.path, fix=CAPTURE_FIX)

    def _tcp_packets(self, proc: _Proc, streams: set[int]) -> Iterator[tuple[int, int, Event]]:
        """TCP packets of TLS streams, and the units of frames holding only application data."""
        seen: dict[tuple[int, str, int], _Seq] = {}
        # Like the native engine, only packets that matter to the tables are passed on: a
        # stream's first and last, SYN/FIN/RST and retransmissions. The last plain packet of
        # each stream waits here and comes out at the end (events stay ordered per stream).
        held: dict[int, TcpPacket | None] = {}
        for raw in proc.stdout:
            f = [v.rsplit(",", 1)[-1] for v in raw.decode("ascii", "replace").rstrip("\n").split("\t")]
            if len(f) < len(_TCP_FIELDS) or not f[11] or not f[6]:
                continue
            stream = int(f[11])
            if stream not in streams:
                continue
            frame, src, sport = int(f[0]), f[2] or f[4], int(f[6])
            flags, length = int(f[8], 16) & 0xFF, int(f[9] or 0)
            direction = seen.get((stream, src, sport))
            if direction is None:
                direction = seen[(stream, src, sport)] = _Seq()
            packet = TcpPacket(
                frame=frame,
                time=float(f[1]),
                src=src,
                sport=sport,
                dst=f[3] or f[5],
                dport=int(f[7]),
                flags=flags,
                payload_len=length,
                retransmission=direction.retransmission(int(f[10] or 0), length, bool(flags & SYN), bool(flags & FIN)),
                stream=stream,
            )
            if stream not in held or packet.retransmission or flags & (SYN | FIN | RST):
                held[stream] = None
                yield frame, 0, packet
            else:
                held[stream] = packet
            if f[14]:  # TLS records: emitted here only when the JSON pass skips this frame
                yield from self._app_data_units(raw, packet)
        for last in sorted((p for p in held.values() if p is not None), key=lambda p: p.frame):
            yield last.frame, 0, last

    def _app_data_units(self, raw: bytes, packet: TcpPacket) -> Iterator[tuple[int, int, Event]]:
        f = raw.decode("ascii", "replace").rstrip("\n").split("\t")
        types, opaque, versions, lengths = (f[i].split(",") if f[i] else [] for i in (12, 13, 14, 15))
        if any(t != "23" for t in types) or "0x0002" in versions or (opaque and types):
            return  # the JSON pass reads this frame (see _JSON_FILTER)
        for version, length in zip(versions, lengths, strict=False):
            yield packet.frame, 1, TlsUnit(
                frame=packet.frame, time=packet.time, src=packet.src, sport=packet.sport,
                dst=packet.dst, dport=packet.dport, content_type=23, record_version=int(version, 16),
                length=int(length), body=None, encrypted=True,
                starttls=self.starttls.get(packet.stream), stream=packet.stream,
            )

    def _tls_units(self, proc: _Proc) -> Iterator[tuple[int, int, Event]]:
        streams: dict[int, _Stream] = {}
        for packet in _json_packets(proc.stdout):
            layers = packet.get("_source", {}).get("layers", {})
            for unit in _units_of(layers, streams, self.starttls):
                yield unit.frame, 1, unit
        # remarks no later unit could carry become file-level notes (load() shows them as warnings)
        self.notes.extend(note for state in streams.values() for note in state.notes)

    def events(self) -> Iterator[Event]:
        """Yield TcpPacket and TlsUnit events in frame order (a TCP packet before its units)."""
        self.binary, _ = check_tshark()
        check_capture_file(self.path)
        if self.keylog is not None:
            with warnings.catch_warnings():  # load() already reported junk lines once
                warnings.simplefilter("ignore", CaptureWarning)
                check_keylog_file(self.keylog)
        # The three passes start together: on small files tshark's start-up dominates. The
        # TLS and TCP passes are redone only when detection finds ports that need decode-as
        # (until detection ends they wait on their full pipes).
        tls, tcp = self._start_passes()
        try:
            streams = self._detect()
            if self.decode_ports:
                tls.close()
                tcp.close()
                tls, tcp = self._start_passes()
            merged: Iterable[tuple[int, int, Event]] = heapq.merge(
                self._tcp_packets(tcp, streams), self._tls_units(tls), key=lambda t: (t[0], t[1])
            )
            count = 0
            for _, _, event in merged:
                count += 1
                yield event
            problems = []
            for proc in (tls, tcp):
                rc, message = proc.finish()
                self._check_exit(proc, rc, message)
                if _is_truncation(message):
                    problems.append(message)
            if problems and not count:  # damaged before anything usable: not a partial result
                raise CaptureError(f"tshark could not read it: {problems[0]}", path=self.path, fix=CAPTURE_FIX)
            if problems:
                warnings.warn(
                    f"{self.path}: {problems[0]} The packets before that point were read.",
                    CaptureWarning, stacklevel=2,
                )
        finally:
            tls.close()
            tcp.close()

    def _start_passes(self) -> tuple[_Proc, _Proc]:
        tls = _Proc(
            [*self._base(), "-Y", _JSON_FILTER, "-T", "json", "-x", "--no-duplicate-keys", "-j", _JSON_LAYERS],
            path=self.path, timeout=self.timeout,
        )
        try:
            tcp = _Proc(
                [*self._base(), "-Y", "tcp and not icmp and not icmpv6", "-T", "fields", "-E", "occurrence=a",
                 *[arg for field in _TCP_FIELDS for arg in ("-e", field)]],
                path=self.path, timeout=self.timeout,
            )
        except BaseException:
            tls.close()
            raise
        return tls, tcp


class _Seq:
    """One direction's sequence space, to tell retransmitted bytes from new ones.

    A segment is a retransmission when its bytes (or its SYN) were already seen: it starts
    before the in-order point, or repeats a segment waiting beyond a gap. A retransmission
    that fills a gap the capture missed is new data. (tshark's own tcp.analysis flags also
    count retransmitted FINs and miss overlapping resends; this follows the schema's meaning
    of `retransmissions`, the same rule as the native engine.)
    """

    __slots__ = ("ahead", "isn", "max_end", "next")

    def __init__(self) -> None:
        self.next: int | None = None  # next in-order sequence number
        self.isn: int | None = None
        self.max_end: int | None = None  # highest sequence number (+SYN/FIN) sent so far
        self.ahead: dict[int, int] = {}  # out-of-order segments: seq -> length

    def retransmission(self, seq: int, length: int, syn: bool, fin: bool = False) -> bool:
        # a bare FIN behind what this side already sent was sent before
        again = bool(
            fin and not length and self.max_end is not None
            and 0 < (self.max_end - seq) & 0xFFFFFFFF < 0x80000000
        )
        end = (seq + length + (1 if syn or fin else 0)) & 0xFFFFFFFF
        if self.max_end is None or (end - self.max_end) & 0xFFFFFFFF < 0x80000000:
            self.max_end = end
        if syn:
            again = self.isn == seq
            self.isn, self.next = seq, (seq + 1) & 0xFFFFFFFF
            return again
        if not length:
            return again
        if self.next is None:
            self.next = seq
        rel = (seq - self.next + 0x80000000) % 0x100000000 - 0x80000000
        if rel < 0:
            if rel + length > 0:
                self._advance((seq + length) & 0xFFFFFFFF)
            return True
        if rel > 0:
            again = self.ahead.get(seq, -1) >= length
            self.ahead[seq] = max(length, self.ahead.get(seq, 0))
            if len(self.ahead) > 64:  # the capture lost bytes for good: resume after the gap
                first = min(self.ahead, key=lambda s: (s - (self.next or 0)) % 0x100000000)
                self.next = first
                self._drain()
            return again
        self._advance((seq + length) & 0xFFFFFFFF)
        return False

    def _advance(self, end: int) -> None:
        self.next = end
        self._drain()

    def _drain(self) -> None:
        moved = True
        while moved and self.ahead and self.next is not None:
            moved = False
            for s in list(self.ahead):
                rel = (s - self.next + 0x80000000) % 0x100000000 - 0x80000000
                if rel <= 0:
                    length = self.ahead.pop(s)
                    if rel + length > 0:
                        self.next = (s + length) & 0xFFFFFFFF
                    moved = True


def _json_packets(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Packets of tshark's ``-T json`` array one at a time (it pretty-prints with 2-space indent)."""
    buf: list[bytes] = []
    inside = False
    for line in stream:
        if not inside:
            if line.rstrip() == b"  {":
                inside, buf = True, [b"{"]
            continue
        if line.rstrip() in (b"  }", b"  },"):
            buf.append(b"}")
            inside = False
            yield json.loads(b"".join(buf))
        else:
            buf.append(line)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _raw_hex(value: Any) -> list[str]:
    """Hex strings of a ``*_raw`` entry: [hex, pos, len, mask, type] or a list of those."""
    if not value:
        return []
    if isinstance(value[0], str):
        return [value[0]]
    return [v[0] for v in value if isinstance(v, list) and v and isinstance(v[0], str)]


def _last(value: Any) -> str | None:
    values = _as_list(value)
    return str(values[-1]) if values else None


class _Stream:
    """What the record layer needs to know about one TCP stream while reading tshark's output."""

    __slots__ = ("ccs", "notes", "tls13")

    def __init__(self) -> None:
        self.ccs: set[tuple[str, int]] = set()  # senders whose ChangeCipherSpec was seen
        self.tls13 = False  # ServerHello (or HRR) chose TLS 1.3: CCS is only a compat message
        self.notes: list[str] = []  # remarks waiting for the stream's next unit


def _units_of(layers: dict[str, Any], streams: dict[int, _Stream], starttls: dict[int, str]) -> list[TlsUnit]:
    """TlsUnits of one frame from its tshark JSON layers, in the order the bytes arrived."""
    frame_l = layers.get("frame") or {}
    if isinstance(frame_l, list):
        frame_l = frame_l[0]
    tcp_l = layers.get("tcp")
    if isinstance(tcp_l, list):
        tcp_l = tcp_l[-1]
    ip_l = layers.get("ipv6") or layers.get("ip")
    if isinstance(ip_l, list):
        ip_l = ip_l[-1]
    if not isinstance(tcp_l, dict) or not isinstance(ip_l, dict):
        return []
    v6 = "ipv6" in layers
    ctx = _Ctx(
        frame=int(frame_l["frame.number"]),
        time=float(frame_l["frame.time_epoch"]),
        src=_last(ip_l.get("ipv6.src" if v6 else "ip.src")) or "",
        sport=int(_last(tcp_l.get("tcp.srcport")) or 0),
        dst=_last(ip_l.get("ipv6.dst" if v6 else "ip.dst")) or "",
        dport=int(_last(tcp_l.get("tcp.dstport")) or 0),
        stream=int(_last(tcp_l.get("tcp.stream")) or -1),
    )
    ctx.starttls = starttls.get(ctx.stream)
    state = streams.setdefault(ctx.stream, _Stream())
    units: list[TlsUnit] = []
    for tls_l in _as_list(layers.get("tls")):
        if not isinstance(tls_l, dict):
            continue  # "Transport Layer Security" with no record: a segment of a later record
        if "Ignored Unknown Record" in tls_l:  # bytes that are no record header: tshark skips the rest
            state.notes.append(
                f"garbled TLS record at frame {ctx.frame}; tshark skipped the rest of that segment"
            )
        raws = _raw_hex(tls_l.get("tls.record_raw"))
        for i, rec in enumerate(_as_list(tls_l.get("tls.record"))):
            if isinstance(rec, dict):
                wire = bytes.fromhex(raws[i]) if i < len(raws) else b""
                units.extend(_record_units(rec, wire, state, ctx))
    if units and state.notes:
        units[0].notes, state.notes = state.notes, []
    return units


class _Ctx:
    """Where a frame's units come from (filled once per frame)."""

    __slots__ = ("dport", "dst", "frame", "sport", "src", "starttls", "stream", "time")

    def __init__(self, *, frame: int, time: float, src: str, sport: int, dst: str, dport: int, stream: int) -> None:
        self.frame, self.time, self.stream = frame, time, stream
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.starttls: str | None = None

    def unit(self, ct: int, version: int, length: int, body: bytes | None, **kw: Any) -> TlsUnit:
        return TlsUnit(
            frame=self.frame, time=self.time, src=self.src, sport=self.sport, dst=self.dst,
            dport=self.dport, content_type=ct, record_version=version, length=length, body=body,
            starttls=self.starttls, stream=self.stream, **kw,
        )


def _record_units(rec: dict[str, Any], wire: bytes, state: _Stream, ctx: _Ctx) -> list[TlsUnit]:
    """Units of one record as tshark dissected it (see _events.TlsUnit for the fields)."""
    version = int(str(rec.get("tls.record.version", "0")), 16)
    length = int(rec.get("tls.record.length", 0) or 0)
    if version == 0x0002:
        return _sslv2_units(rec, wire, length, ctx)
    if "tls.record.content_type" not in rec and "tls.record.opaque_type" not in rec:
        return []  # "Ignored Unknown Record" and the like: not a record tshark could frame
    opaque = "tls.record.opaque_type" in rec  # TLS 1.3 protected record (inner type if decrypted)
    ct = int(rec.get("tls.record.content_type", rec.get("tls.record.opaque_type", 23)))
    sender = (ctx.src, ctx.sport)
    after_ccs = sender in state.ccs and not state.tls13
    if ct == 20 and not opaque:
        if not state.tls13:
            state.ccs.add(sender)
        return [ctx.unit(20, version, length, wire[5:6] or b"\x01")]
    if ct == 22:
        # tshark lists every piece of handshake data in the record; the pieces it parsed (a
        # dict with a type) are whole messages, reassembled across records when they span
        # several; fragments and undecryptable ciphertext come as "".
        parsed = [
            bytes.fromhex(raw)
            for raw, hs in zip(_raw_hex(rec.get("tls.handshake_raw")), _as_list(rec.get("tls.handshake")), strict=False)
            if isinstance(hs, dict) and "tls.handshake.type" in hs
        ]
        whole = [b for b in parsed if len(b) >= 4]
        for body in whole:
            if body[0] == 2:
                state.tls13 = state.tls13 or _tls13_server_hello(body)
        if whole:
            # After a ChangeCipherSpec a message was decrypted unless its bytes are on the wire
            # (a second ClientHello after a HelloRetryRequest the capture missed).
            return [
                ctx.unit(22, version, len(b) - 4, b, encrypted=hidden, decrypted=hidden)
                for b in whole
                for hidden in [opaque or (after_ccs and b[-16:] not in wire)]
            ]
        if opaque or after_ccs:
            return [ctx.unit(23 if opaque else 22, version, length, None, encrypted=True)]
        return []
    if ct == 21:
        alerts = [a for a in _as_list(rec.get("tls.alert_message")) if isinstance(a, dict) and "tls.alert_message.level" in a]
        bodies = [bytes.fromhex(h)[:2] for h in _raw_hex(rec.get("tls.alert_message_raw"))]
        secret = opaque or after_ccs
        if alerts and len(bodies) >= len(alerts):
            return [ctx.unit(21, version, 2, b, encrypted=secret, decrypted=secret) for b in bodies[: len(alerts)]]
        return [ctx.unit(23 if opaque else 21, version, length, None, encrypted=True)]
    # Application data, heartbeat, unknown types: opaque; decrypted when tshark shows the inner type.
    inner = opaque and "tls.record.content_type" in rec
    return [ctx.unit(ct, version, length, None, encrypted=ct == 23 or opaque or after_ccs, decrypted=inner)]


def _sslv2_units(rec: dict[str, Any], wire: bytes, length: int, ctx: _Ctx) -> list[TlsUnit]:
    """SSLv2 records: CLIENT-HELLO and SERVER-HELLO with their message bytes, the rest opaque."""
    header = 2 if wire[:1] and wire[0] & 0x80 else 3
    if len(wire) >= header:  # tshark leaves the length out of encrypted SSLv2 records
        length = int.from_bytes(wire[:2], "big") & (0x7FFF if header == 2 else 0x3FFF)
    msg = wire[header : header + length]
    mtype = int(rec.get("tls.handshake.type", -1))
    if mtype == 1 and len(msg) >= 3:  # version the client asks for (0x0002, or 0x03xx v3-capable)
        return [ctx.unit(22, int.from_bytes(msg[1:3], "big"), len(msg), msg, sslv2=True)]
    if mtype == 4 and len(msg) >= 5:
        return [ctx.unit(22, int.from_bytes(msg[3:5], "big"), len(msg), msg, sslv2=True)]
    return [ctx.unit(23, 0x0002, length, None, encrypted=True, sslv2=True)]


def _tls13_server_hello(message: bytes) -> bool:
    """A ServerHello (or HelloRetryRequest) choosing TLS 1.3 or one of its drafts."""
    from tlskit.tls.handshake import HandshakeError, parse_server_hello

    try:
        sh = parse_server_hello(message[4:])
    except HandshakeError:
        return False
    version = sh.supported_version or sh.legacy_version
    return version == 0x0304 or (version >> 8) in (0x7F, 0x7E, 0xFB)


# ----------------------------------------------------------------------------- drill-down


def packet_tree(path: str | Path, frame: int, keylog: str | Path | None = None) -> dict[str, Any]:
    """pyshark's full Wireshark field tree of one frame, as nested dicts.

    Works in a plain script and inside a running event loop (a Jupyter kernel): pyshark is
    driven from a worker thread with its own asyncio loop, so it never touches the caller's.
    The capture is closed and its tshark killed before returning, also on error.

    Returns
    -------
    dict
        ``{"frame": n, "layers": {layer name: {field: value or [values], ...}}}``, layers in
        dissection order (eth, ip, tcp, tls, ...); field names are Wireshark's display-filter
        names (``tls.handshake.type``).
    """
    check_tshark()
    p = check_capture_file(path)
    if keylog is not None:
        check_keylog_file(keylog)
    if frame < 1:
        raise CaptureError(f"frame numbers start at 1, got {frame}", path=p, fix="pass a frame from the messages table")
    box: dict[str, Any] = {}
    worker = threading.Thread(target=_tree_in_thread, args=(p, frame, keylog, box), daemon=True, name="tlskit-pyshark")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return dict(box["tree"])


def _tree_in_thread(path: Path, frame: int, keylog: str | Path | None, box: dict[str, Any]) -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    capture = None
    try:
        import pyshark

        prefs = {"tls.keylog_file": str(keylog)} if keylog is not None else {}
        capture = pyshark.FileCapture(
            str(path), display_filter=f"frame.number == {frame}", override_prefs=prefs,
            eventloop=loop, tshark_path=str(find_tshark()), keep_packets=False,
        )
        try:
            packet = next(iter(capture))
        except StopIteration:
            raise CaptureError(f"has no frame {frame}", path=path, fix="pass a frame number that exists in the capture") from None
        layers: dict[str, dict[str, Any]] = {}
        for layer in packet.layers:
            name, n = layer.layer_name, 2
            while name in layers:  # a second TLS layer (records reassembled + in this segment)
                name, n = f"{layer.layer_name}#{n}", n + 1
            layers[name] = _layer_fields(layer)
        box["tree"] = {"frame": frame, "layers": layers}
    except TsharkError as exc:
        box["error"] = exc
    except CaptureError as exc:
        box["error"] = exc
    except Exception as exc:  # pyshark raises its own types (TSharkCrashException, ...)
        box["error"] = CaptureError(f"pyshark could not read frame {frame} ({type(exc).__name__}: {exc})", path=path, fix=CAPTURE_FIX)
    finally:
        if capture is not None:
            with contextlib.suppress(Exception):
                capture.close()
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _layer_fields(layer: Any) -> dict[str, Any]:
    """A pyshark layer as {Wireshark field name: shown value, or a list when repeated}."""
    out: dict[str, Any] = {}
    for name in layer.field_names:
        container = layer.get_field(name)
        for f in getattr(container, "all_fields", [container]):
            key = getattr(f, "name", None) or f"{layer.layer_name}.{name}"
            value = f.showname_value if getattr(f, "showname_value", None) is not None else f.show
            if key in out:
                prev = out[key]
                out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                out[key] = value
    return out


__all__ = [
    "INSTALL_HINT",
    "MIN_VERSION",
    "TsharkEngine",
    "check_capture_file",
    "check_keylog_file",
    "check_tshark",
    "find_tshark",
    "packet_tree",
    "tshark_version",
]
