"""Events -> the `messages`, `connections` and `certificates` tables.

Both engines hand this module the same kind of events (:mod:`tlskit.capture._events`), so
every protocol judgement lives here once: who the client is, whether the handshake
completed, resumption, the first fatal alert, TLS 1.3 encrypted alerts, timing, JA3/JA4.

Rules that decide columns (each models how TLS stacks behave, not any one capture):

- client: the sender of the SYN (or receiver of the SYN-ACK); else the ClientHello sender;
  else the ServerHello receiver; else the endpoint with the higher port (noted).
- established, TLS <= 1.2: each side sent ChangeCipherSpec and then its (encrypted)
  Finished. With keys (TLS 1.3): both Finished messages read. TLS 1.3 without keys: the
  client sent, after the server's first encrypted record, an encrypted record that is not
  alert-sized (its Finished), and the server did not answer it only with an alert-sized
  record and a close.
- alert-sized (TLS 1.3, no keys): an application-data record shorter than the smallest
  Finished record of the suite (hash + 1 inner type byte + AEAD tag: 49 bytes for SHA-256
  suites, 65 for TLS_AES_256_GCM_SHA384, 41 with CCM_8's 8-byte tag). An alert is
  2 + 1 + 16 = 19 bytes, more when a stack pads records (JSSE sends 35); an empty client
  Certificate (25) is also short, which is why only the side's *last* record before it
  closes counts as its alert. TLS <= 1.2 alerts sent after ChangeCipherSpec keep their
  record type 21, so they are recognised as alerts though their content stays unknown.
- a fatal alert after both Finished but before any application data (TLS 1.3 servers
  check the client's certificate only after its Finished) means not established.
- encrypted_alert_from: the handshake did not complete and a side's last record before its
  FIN/RST was an encrypted alert (by the rule above).
- resumed: TLS 1.3, the ServerHello accepted a PSK; TLS <= 1.2, the server echoed the
  client's non-empty session id, or went from ServerHello to ChangeCipherSpec without a
  Certificate / ServerKeyExchange / ServerHelloDone (ticket resumption).
- last_alert (as Zeek): the last alert of any level whose content was seen (cleartext or
  decrypted); alert / alert_from / alert_frame: the first fatal one.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import struct
from array import array
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tlskit import registry
from tlskit.capture._events import ACK, FIN, RST, SYN, Event, TlsUnit
from tlskit.schema import (
    CERTIFICATES,
    CONNECTIONS,
    MESSAGES,
    UTC_TIME,
    Column,
    check,
    conform,
    int_array,
    typed,
    utc_array,
)

CCM8_SUITE = 0x1305  # TLS_AES_128_CCM_8_SHA256: 8-byte AEAD tag
SHA384_SUITE = 0x1302  # TLS_AES_256_GCM_SHA384: 48-byte Finished
SSLV2_TYPES = {1: 1, 4: 2}  # SSLv2 CLIENT-HELLO / SERVER-HELLO -> handshake type codes
_SIDE_BIT = {"client": 1, "server": 2}
_CERT_FLIGHT = (1 << 11) | (1 << 12) | (1 << 14)  # Certificate, ServerKeyExchange, ServerHelloDone
_NO_RECORD = (0, 0, 0, False)
_NO_NOTES: list[str] = []  # shared by every row without notes (cells are read-only)
_NO_LIST: list[Any] = []
_NO_DICT: dict[str, Any] = {}


def _is_tls13(version: int | None) -> bool:
    return version is not None and (version == 0x0304 or (version >> 8) in (0x7F, 0x7E, 0xFB))


# the integer fields of a message row (32-bit), in the order _Messages.rows holds them
_MESSAGE_FIELDS = ("conn", "seq", "c2s", "record_version", "content_type", "handshake_type", "hrr",
                   "alert_level", "alert_description", "encrypted", "decrypted", "length")


class _Messages:
    """Message rows of all connections in two compact arrays (a tuple of Python objects per
    message would dominate the memory of a capture with many connections): the integer fields
    of each row one after the other (:data:`_MESSAGE_FIELDS`; -1 where a code does not apply),
    the frame numbers and the times. One ``extend`` per row: appending to a dozen arrays costs more."""

    __slots__ = ("frames", "rows", "times")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rows = array("i")
        self.frames = array("I")  # frame numbers: UInt32 as in the schema
        self.times = array("d")

    def __len__(self) -> int:
        return len(self.times)

    def frame_for(self, conn_ids: np.ndarray) -> pd.DataFrame:
        """The messages frame, in its schema dtypes; conn_ids maps a connection's index to its conn_id."""
        n = len(self.times)
        table = (np.frombuffer(self.rows, dtype=np.int32) if n else np.zeros(0, np.int32)).reshape(n, len(_MESSAGE_FIELDS))
        ids = conn_ids[table[:, 0]]
        order = np.argsort(ids, kind="stable")  # rows of one connection stay in arrival order

        def field(name: str) -> np.ndarray:  # one column at a time: no sorted copy of the whole table
            if name == "frame":
                return (np.frombuffer(self.frames, dtype=np.uint32) if n else np.zeros(0, np.uint32))[order].astype(np.int64)
            return table[:, _MESSAGE_FIELDS.index(name)][order].astype(np.int64)  # widened for int_array's -1 test

        dtypes = MESSAGES.dtypes
        columns: dict[str, Any] = {"conn_id": int_array(ids[order], "UInt32")}
        del ids
        for name in ("seq", "frame"):
            columns[name] = int_array(field(name), "UInt32")
        columns["time"] = utc_array((np.frombuffer(self.times, dtype=np.float64) if n else np.zeros(0))[order])
        columns["direction"] = pd.Categorical.from_codes((field("c2s") == 0).astype(np.int8),
                                                         dtype=dtypes["direction"])  # c2s, s2c
        hrr = field("hrr").astype(bool)
        lookups = {"content_type": registry.content_type_name, "handshake_type": registry.handshake_type_name,
                   "alert_level": registry.alert_level_name, "alert_description": registry.alert_name}
        for name in ("record_version", "content_type", "handshake_type", "alert_level", "alert_description"):
            codes = field(name)
            columns[name] = int_array(codes, dtypes[name])
            if name in lookups:
                names = _names(codes, lookups[name])
                if name == "handshake_type":
                    names[hrr] = "hello_retry_request"
                columns[f"{name}_name"] = names
        for name in ("encrypted", "decrypted"):
            columns[name] = pd.arrays.BooleanArray(field(name).astype(bool), np.zeros(n, dtype=bool))
        columns["length"] = int_array(field("length"), "UInt32")
        return pd.DataFrame({name: columns[name] for name in MESSAGES.names})


class _Conn:
    """Everything one connection's events say, accumulated in arrival order."""

    __slots__ = (
        "alert",
        "alert_time",
        "alpn_selected",
        "app_by",
        "builder",
        "ccs",
        "cert_requested",
        "certs",
        "ch",
        "ch_time",
        "client",
        "client_cert",
        "client_cke",
        "client_guessed",
        "client_second_flight",
        "close_frame",
        "completed_time",
        "decrypted",
        "ders",
        "end_time",
        "fin_client",
        "fin_server",
        "first_app",
        "first_dst",
        "first_frame",
        "first_src",
        "first_unit_hello",
        "hrr",
        "index",
        "last_alert",
        "last_record",
        "messages",
        "notes",
        "nrows",
        "position",
        "retrans",
        "server_after_fin",
        "server_cert_visible",
        "server_enc_seen",
        "server_finished_visible",
        "server_flight_end",
        "server_msgs",
        "server_msgs_before_ccs",
        "sh",
        "sh_time",
        "sslv2_server",
        "start_time",
        "starttls",
        "syn_time",
        "synack_time",
        "tcp_end",
        "tcp_end_by",
        "tls",
        "tls13_client_fin",
        "version",
    )

    def __init__(self, builder: TableBuilder, index: int, frame: int, time: float,
                 first_src: tuple[str, int], first_dst: tuple[str, int]):
        self.builder = builder
        self.ders = builder.ders  # certificate DER interning shared by all connections of one build
        self.messages = builder.messages  # the build's message rows, tagged with this connection's index
        self.index = index
        self.nrows = 0
        self.position: int | None = None  # its row, once closed
        self.first_frame = frame
        self.start_time = time
        self.end_time = time
        self.first_src = first_src  # side 0: the sender of the connection's first packet
        self.first_dst = first_dst  # side 1
        self.client: int | None = None  # the client's side (0 or 1), once known
        self.client_guessed = False
        self.tls = False
        self.syn_time: float | None = None
        self.synack_time: float | None = None
        self.tcp_end: str | None = None
        self.tcp_end_by: int | None = None  # side
        self.close_frame: dict[str, int] = {}
        self.retrans = 0
        self.certs: list[tuple[str, int, int, float, bytes]] = []
        self.notes: list[str] = []
        self.ch: _Hello | None = None  # the columns its ClientHello fills
        self.sh: _Server | None = None
        self.ch_time: float | None = None
        self.sh_time: float | None = None
        self.hrr = False
        self.version: int | None = None
        self.sslv2_server = False
        self.ccs = 0  # bit per side (_SIDE_BIT) that sent ChangeCipherSpec
        self.fin_client: float | None = None  # when each side's Finished was seen
        self.fin_server: float | None = None
        self.completed_time: float | None = None
        self.first_app: float | None = None
        self.app_by: dict[str, float] = {}  # side -> its first application data after completion
        self.server_flight_end: float | None = None
        self.client_second_flight = False
        self.server_msgs = 0  # bit per handshake type the server sent (ints, not sets: 50k connections)
        self.server_msgs_before_ccs = 0
        self.cert_requested = False
        self.client_cert: bool | None = None
        self.server_cert_visible = False
        self.server_finished_visible = False
        self.client_cke = False
        self.alert: tuple[int, str, int] | None = None
        self.alert_time = 0.0
        self.last_alert: int | None = None
        self.last_record: dict[str, tuple[int, int, int, bool]] = {}  # side -> frame, ct, len, enc
        self.server_enc_seen = False
        self.tls13_client_fin: int | None = None  # frame of the client's Finished-sized record
        self.server_after_fin: list[int] = []  # lengths of server records after it
        self.decrypted = False
        self.starttls: str | None = None
        self.alpn_selected: str | None = None
        self.first_unit_hello = False

    # -- sides ----------------------------------------------------------------------------
    def _ensure_client(self, side: int, ct: int, body: bytes | None) -> None:
        if ct == 22 and body:
            mtype = body[0]
            if mtype == 1:
                self.client = side
                return
            if mtype in (2, 4):
                self.client = 1 - side
                return
        self.client = 0 if self.first_src[1] > self.first_dst[1] else 1
        self.client_guessed = True
        self.notes.append("client side guessed from the port numbers (no SYN or hello seen)")

    # -- what the engine reports, in capture order --------------------------------------------
    def tcp(self, side: int, frame: int, time: float, flags: int, payload_len: int = 0,
            retransmission: bool = False) -> None:
        """A TCP packet of interest (see _events.TcpPacket) sent by ``side`` (0 or 1)."""
        if self.position is not None:  # a trailing packet after both sides ended
            self.builder.late(self.position, time, retransmission)
            return
        if time > self.end_time:
            self.end_time = time
        if flags & SYN:
            if flags & ACK:
                if self.synack_time is None:
                    self.synack_time = time
                if self.client is None:
                    self.client = 1 - side
            else:
                if self.syn_time is None:
                    self.syn_time = time
                if self.client is None or self.client_guessed:
                    self.client = side
        if flags & (FIN | RST):
            if self.tcp_end is None:
                self.tcp_end = "rst" if flags & RST else "fin"
                self.tcp_end_by = side
            self.close_frame.setdefault("client" if self.client is None or side == self.client else "server", frame)
        if retransmission:
            self.retrans += 1

    def unit(self, side: int, frame: int, time: float, ct: int, record_version: int, length: int,
             body: bytes | None, encrypted: bool = False, decrypted: bool = False, sslv2: bool = False,
             notes: list[str] | None = None) -> None:
        """A TLS unit (see _events.TlsUnit) sent by ``side`` (0 or 1)."""
        if self.position is not None:
            return  # not sent by the engines (a direction parses nothing once both ended); never fail a load
        if time > self.end_time:
            self.end_time = time
        if not self.tls:
            self.tls = True
            self.first_unit_hello = ct == 22 and bool(body) and body[0] == 1 if body else False
        if self.client is None:
            self._ensure_client(side, ct, body)
        is_client = side == self.client
        who = "client" if is_client else "server"
        if notes:
            self.notes.extend(notes)
        if decrypted:
            self.decrypted = True
        if is_client and self.sh is not None and not (ct == 22 and body and body[0] == 1):
            self.client_second_flight = True
        mtype = level = desc = -1
        hrr = False
        completed_before = self.completed_time is not None
        if ct == 22 and body is not None:
            mtype = SSLV2_TYPES.get(body[0], body[0]) if sslv2 else body[0]
            hrr = self._handshake(frame, time, record_version, body, sslv2, who, mtype)
        elif ct == 21 and body is not None and len(body) >= 2:
            level, desc = body[0], body[1]
            self.last_alert = desc
            if level == 2 and self.alert is None:
                self.alert = (desc, who, frame)
                self.alert_time = time
        elif ct == 20:
            self.ccs |= _SIDE_BIT[who]
            if not is_client:
                self.server_msgs_before_ccs = self.server_msgs
        elif encrypted and body is None and not decrypted:
            self._opaque(frame, time, ct, length, who)
        elif ct == 23 and self.completed_time is not None:
            self.app_by.setdefault(who, time)  # decrypted application data
            if self.first_app is None:
                self.first_app = time
        if not is_client and self.sh is not None and not self.client_second_flight and ct in (20, 22, 23):
            self.server_flight_end = time
        last = (frame, ct, length, encrypted and body is None)
        if last > self.last_record.get(who, _NO_RECORD):
            self.last_record[who] = last
        if ct == 23 and completed_before:
            return  # application data after completion is not listed
        messages = self.messages
        messages.rows.extend((self.index, self.nrows, is_client, record_version, ct, mtype, hrr, level, desc,
                              encrypted, decrypted, length))
        messages.frames.append(frame)
        messages.times.append(time)
        self.nrows += 1

    def close(self) -> None:
        """Both sides ended (FIN or RST each), or nothing more will come: the connection becomes
        a row now and its state is dropped. Trailing TCP packets (the last ACK, a retransmitted
        FIN) may still be reported with tcp(): they move the end time and the retransmission count."""
        if self.position is not None:
            return
        self.position = self.builder.finish(self)
        # drop the state (shared empties: after close nothing writes them, see tcp() and unit())
        self.ch = self.sh = None
        self.certs = self.server_after_fin = _NO_LIST
        self.notes = _NO_NOTES
        self.close_frame = self.app_by = self.last_record = _NO_DICT

    @property
    def _tls13(self) -> bool:
        return _is_tls13(self.version)

    def _handshake(self, frame: int, time: float, record_version: int, body: bytes, sslv2: bool, side: str,
                   mtype: int) -> bool:
        """Read one handshake message; True when it is a HelloRetryRequest."""
        if side == "server":
            self.server_msgs |= 1 << mtype
        if sslv2:
            if mtype == 1 and self.ch is None:
                ch = _parse(_sslv2_ch, body, self, frame)
                self.ch = None if ch is None else _client_fields(ch)
                self.ch_time = time
            elif mtype == 2 and self.sh is None:
                self.sslv2_server = True
                self.version = record_version
                self.sh_time = time
            return False
        if mtype == 1:
            fields = _hello_fields(body[4:], self, frame)
            if self.ch is None and fields is not None:
                self.ch, self.ch_time = fields, time
        elif mtype == 2:
            parsed = _server_hello(body[4:], self, frame)
            if parsed is None:
                return False
            server, version, hrr = parsed
            if self.sh_time is None:
                self.sh_time = time
            if hrr:
                self.hrr = True
                return True
            if self.sh is None:
                self.sh = server
                self.version = version
        elif mtype == 8:  # EncryptedExtensions (decrypted): the selected ALPN lives here in TLS 1.3
            self.alpn_selected = _ee_alpn(body[4:]) or self.alpn_selected
        elif mtype in (11, 25):
            der = _certificates(body, mtype, self._tls13, self, frame)
            if side == "server":
                self.server_cert_visible = True
            elif self.client_cert is not True:
                self.client_cert = bool(der)
            for pos, cert in enumerate(der):
                # the same chain arrives in every connection to a server: keep one copy
                self.certs.append((side, pos, frame, time, self.ders.setdefault(cert, cert)))
        elif mtype == 13:
            self.cert_requested = True
        elif mtype == 14:
            self.server_flight_end = time
        elif mtype == 16:
            self.client_cke = True
        elif mtype == 20:
            self._finished(side, time)
            if side == "server":
                self.server_finished_visible = True
        return False

    def _finished(self, side: str, time: float) -> None:
        if side == "client":
            self.fin_client = time
        else:
            self.fin_server = time
        if self.fin_client is not None and self.fin_server is not None and self.completed_time is None:
            self.completed_time = max(self.fin_client, self.fin_server)

    def _opaque(self, frame: int, time: float, ct: int, length: int, side: str) -> None:
        """An encrypted record without keys."""
        if not self._tls13:
            if ct == 22 and self.ccs & _SIDE_BIT[side] and (self.fin_client if side == "client" else self.fin_server) is None:
                self._finished(side, time)  # the first encrypted handshake record after CCS
            elif ct == 23 and self.completed_time is not None:
                self.app_by.setdefault(side, time)
                if self.first_app is None:
                    self.first_app = time
            return
        if ct != 23:
            return
        if side == "server":
            if self.tls13_client_fin is not None and frame >= self.tls13_client_fin:
                self.server_after_fin.append(length)
            self.server_enc_seen = True
            return
        if self.server_enc_seen and self.tls13_client_fin is None and not self._alert_sized(length):
            self.tls13_client_fin = frame
            self.fin_client = time
            self.fin_server = self.server_flight_end
            self.completed_time = time
        elif self.completed_time is not None and frame != self.tls13_client_fin:
            self.app_by.setdefault(side, time)
            if self.first_app is None:
                self.first_app = time

    def _alert_sized(self, length: int) -> bool:
        """Shorter than the smallest Finished record this suite can carry."""
        suite = self.sh.cipher_suite if self.sh is not None else 0
        hash_len = 48 if suite == SHA384_SUITE else 32
        tag = 8 if suite == CCM8_SUITE else 16
        return length < hash_len + 1 + tag

    # -- result ---------------------------------------------------------------------------
    def established(self) -> bool:
        if self.completed_time is None:
            return False
        if self.alert is not None:
            sender_app = self.app_by.get(self.alert[1])
            if sender_app is None or self.alert_time <= sender_app:
                return False  # refused right after the Finished messages, before sending any data
        if self._tls13 and not self.server_finished_visible and self.tls13_client_fin is not None:
            # the server refused the client's flight: only an alert-sized record, then it closed
            refused = (self.server_after_fin and all(self._alert_sized(n) for n in self.server_after_fin)
                       and "server" in self.close_frame)
            return not refused
        return True

    def resumed(self) -> bool:
        if self.sh is None:
            return False
        if self._tls13:
            return bool(self.sh.psk_accepted)
        if self.ch is not None and self.ch.session_id and self.sh.session_id == self.ch.session_id:
            return True
        return bool(self.ccs & _SIDE_BIT["server"]) and not self.server_msgs_before_ccs & _CERT_FLIGHT

    def encrypted_alert_from(self, established: bool) -> str | None:
        if established:
            return None
        for side in sorted(self.close_frame, key=self.close_frame.__getitem__):
            last = self.last_record.get(side)
            if last is None or not last[3]:
                continue
            _frame, ct, length, _enc = last
            if (ct == 21 and not self._tls13) or (ct == 23 and self._tls13 and self._alert_sized(length)):
                return side
        return None

    def row(self) -> dict[str, Any]:
        """The connection's columns (conn_id is given when the table is made)."""
        client_side = self.client or 0
        client, server = (self.first_src, self.first_dst) if client_side == 0 else (self.first_dst, self.first_src)
        est = self.established()
        ch, sh = self.ch, self.sh
        out: dict[str, Any] = {
            "first_frame": self.first_frame,
            "client_ip": client[0], "client_port": client[1], "server_ip": server[0], "server_port": server[1],
            "start_time": self.start_time, "end_time": self.end_time,
            "tcp_syn_time": self.syn_time, "tcp_synack_time": self.synack_time,
            "client_hello_time": self.ch_time, "server_hello_time": self.sh_time,
            "server_flight_end_time": self.server_flight_end,
            "handshake_end_time": self.completed_time if est else None,
            "first_app_data_time": self.first_app,
            "starttls": self.starttls, "hello_retry_request": self.hrr,
            "resumed": self.resumed(), "established": est, "decrypted": self.decrypted,
            "retransmissions": self.retrans, "notes": self.notes or _NO_NOTES,
            "tcp_end": self.tcp_end or "open",
            "tcp_end_by": None if self.tcp_end_by is None else ("client" if self.tcp_end_by == client_side else "server"),
            "server_certificate_visible": self.server_cert_visible,
            "encrypted_alert_from": self.encrypted_alert_from(est),
        }
        if ch is not None:
            out.update(ch.columns)  # lists shared by every hello of its shape (cells are read-only)
            out["sni"] = ch.sni
        if sh is not None:
            out.update(sh.columns)
            out["alpn_selected"] = sh.alpn or self.alpn_selected
        if self.version is not None:
            out.update(version=self.version, version_name=registry.version_name(self.version))
        # what encryption hid stays <NA>
        hidden = self._tls13 and not self.server_finished_visible
        if self.cert_requested:
            out["certificate_requested"] = True
        elif not hidden and (self.server_msgs & (1 << 14) or self.resumed() or self.server_finished_visible):
            out["certificate_requested"] = False
        if self.client_cert is not None:
            out["client_certificate_sent"] = self.client_cert
        elif self.cert_requested and (self.client_cke or (self.fin_client is not None and not hidden)):
            out["client_certificate_sent"] = False
        if self.alert is not None:
            desc, side, frame = self.alert
            out.update(alert=desc, alert_name=registry.alert_name(desc), alert_from=side, alert_frame=frame)
        if self.last_alert is not None:
            out.update(last_alert=self.last_alert, last_alert_name=registry.alert_name(self.last_alert))
        cut_off = not est and self.tcp_end is None and self.alert is None
        out["partial"] = ch is None or (self.syn_time is None and not self.first_unit_hello) or cut_off
        return out


class _Hello(NamedTuple):
    """What a connection keeps of its ClientHello."""

    columns: dict[str, Any]  # shared by every hello of the same shape; never modified
    sni: str | None
    session_id: bytes


class _Server(NamedTuple):
    """What a connection keeps of its ServerHello."""

    columns: dict[str, Any]  # cipher_suite(_name), server_extensions, ja3s(_string); shared
    cipher_suite: int
    session_id: bytes
    psk_accepted: bool
    alpn: str | None


_SERVER_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}


def _server_fields(sh: Any) -> _Server:
    """The ServerHello as the few values the tables need; its columns computed once per
    (version, suite, extensions), which a server repeats on every connection."""
    types = tuple(sh.extension_types)
    shape = (sh.legacy_version, sh.cipher_suite, types)
    known = _SERVER_SHAPES.get(shape)
    if known is None:
        from tlskit.tls.fingerprint import ja3s

        if len(_SERVER_SHAPES) >= 4096:
            _SERVER_SHAPES.clear()
        known = _SERVER_SHAPES[shape] = dict(
            cipher_suite=sh.cipher_suite, cipher_suite_name=registry.cipher_suite_name(sh.cipher_suite),
            server_extensions=list(types))
        known["ja3s_string"], known["ja3s"] = _safe(ja3s, sh)
    return _Server(known, sh.cipher_suite, sh.session_id, sh.psk_accepted, sh.alpn)


_RAW_SERVER: dict[bytes, tuple[_Server, int, bool]] = {}  # raw ServerHello key -> parsed


def _server_hello(body: bytes, conn: _Conn, frame: int) -> tuple[_Server, int, bool] | None:
    """(server hello, selected version, is HelloRetryRequest) of a ServerHello body, None when
    it is damaged (noted). A server answers with the same bytes apart from random, session id
    and key share, so a hello seen before is not parsed again."""
    found = _server_raw_key(body)
    known = None if found is None else _RAW_SERVER.get(found[0])
    if known is None:
        sh = _parse(_sh, body, conn, frame)
        if sh is None:
            return None
        parsed = (_server_fields(sh), sh.selected_version, sh.is_hello_retry_request)
        if found is not None:
            if len(_RAW_SERVER) >= 4096:
                _RAW_SERVER.clear()
            _RAW_SERVER[found[0]] = parsed
        return parsed
    server, version, hrr = known
    return server._replace(session_id=found[1]), version, hrr  # type: ignore[index]


def _server_raw_key(body: bytes) -> tuple[bytes, bytes] | None:
    """(key, session id) of a structurally sound ServerHello body (same checks as
    parse_server_hello); None when it is damaged or a TLS 1.3 draft layout. The key: the body
    without the random (but whether it is the HelloRetryRequest one), the session id and the
    key share's bytes, which change per connection and feed no column."""
    from tlskit.tls.handshake import HRR_RANDOM, _is_early_tls13_draft

    n = len(body)
    if n < 35 or _is_early_tls13_draft((body[0] << 8) | body[1]):
        return None
    pos = 35 + body[34]
    if pos + 3 > n:
        return None
    session_id = body[35:pos]
    parts = [body[:2], b"\x01" if body[2:34] == HRR_RANDOM else b"\x00", body[pos:pos + 3]]
    pos += 3
    if pos < n:
        if pos + 2 > n or pos + 2 + ((body[pos] << 8) | body[pos + 1]) != n:
            return None
        pos = mark = pos + 2
        while pos < n:
            if pos + 4 > n:
                return None
            etype, elen = _EXT_HEAD(body, pos)
            end = pos + 4 + elen
            if end > n:
                return None
            if etype == 0x0033:
                parts += (body[mark:pos], b"\x00\x33\xff\xff")
                mark = end
            pos = end
        parts.append(body[mark:n])
    return b"".join(parts), session_id


_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}  # ClientHello shape -> its columns (bounded below)
_RAW_SHAPES: dict[bytes, dict[str, Any]] = {}  # raw hello key (see _raw_key) -> its columns

# Extensions whose bytes change per connection and feed no shape column (SNI and the key
# share are read per connection; the key share's groups are part of the key).
_PER_CONNECTION_EXTS = frozenset({0x0000, 0x0015, 0x0023, 0x0029, 0x0033, 0xFE0D})


def _hello_fields(body: bytes, conn: _Conn, frame: int) -> _Hello | None:
    """The connection columns of a ClientHello body (after the handshake header), or None
    when it is damaged (noted on the connection).

    A client program sends byte-identical hellos apart from the random, session id, SNI,
    key shares, padding and tickets. Hellos whose other bytes were seen before reuse that
    hello's columns without a full parse (the costliest step for short connections)."""
    found = _raw_key(body)
    if found is None:
        ch = _parse(_ch, body, conn, frame)
        return None if ch is None else _client_fields(ch)
    key, session_id, sni_data = found
    known = _RAW_SHAPES.get(key)
    if known is None:
        ch = _parse(_ch, body, conn, frame)
        if ch is None:
            return None
        fields = _client_fields(ch)
        if len(_RAW_SHAPES) >= 4096:
            _RAW_SHAPES.clear()
        _RAW_SHAPES[key] = fields.columns
        return fields
    return _Hello(known, None if sni_data is None else _lenient_sni(sni_data), session_id)


def _raw_key(body: bytes) -> tuple[bytes, bytes, bytes | None] | None:
    """(key, session id, first SNI extension data) of a structurally sound ClientHello body,
    None when the full parser would reject it (same checks as parse_client_hello) or its key
    share cannot be read.

    The key is the body without what changes per connection: legacy_version, the suites and
    compression methods, then the extensions as on the wire, except that per-connection ones
    (:data:`_PER_CONNECTION_EXTS`) keep only their type (the key share: its groups). One bytes
    object: cheaper to hash and compare than a tuple of the parts."""
    n = len(body)
    if n < 35:
        return None
    sid_len = body[34]
    pos = 35 + sid_len
    if sid_len > 32 or pos + 2 > n:
        return None
    session_id = body[35:pos]
    slen = (body[pos] << 8) | body[pos + 1]
    cpos = pos + 2 + slen
    if slen % 2 or cpos + 1 > n:
        return None
    epos = cpos + 1 + body[cpos]
    if epos > n:
        return None
    parts = [body[0:2], body[pos:epos]]
    sni_data: bytes | None = None
    if epos < n:
        if epos + 2 > n:
            return None
        end = epos + 2 + ((body[epos] << 8) | body[epos + 1])
        if end != n:  # overruns the message, or bytes after the extensions
            return None
        pos = mark = epos + 2
        seen: set[int] = set()
        while pos < end:
            if pos + 4 > end:
                return None
            etype, elen = _EXT_HEAD(body, pos)
            nxt = pos + 4 + elen
            if nxt > end:
                return None
            if etype in _PER_CONNECTION_EXTS:
                parts.append(body[mark:pos])  # the stable extensions before this one, as they are
                first = etype not in seen
                seen.add(etype)
                if etype == 0x0033 and first:
                    groups = _key_share_groups(body[pos + 4:nxt])
                    if groups is None:
                        return None
                    parts.append(b"\x00\x33\xff\xfe" + b"".join(g.to_bytes(2, "big") for g in groups) + b"\xff\xfe")
                else:
                    if etype == 0x0000 and first:
                        sni_data = body[pos + 4:nxt]
                    parts.append(body[pos:pos + 2] + b"\xff\xff")
                mark = nxt
            pos = nxt
        parts.append(body[mark:end])
    return b"".join(parts), session_id, sni_data


_EXT_HEAD = struct.Struct("!HH").unpack_from  # extension type, length


def _key_share_groups(data: bytes) -> tuple[int, ...] | None:
    """Groups of a ClientHello key_share extension; None when it is damaged."""
    if len(data) < 2 or 2 + int.from_bytes(data[:2], "big") != len(data):
        return None
    groups = []
    pos = 2
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        groups.append(int.from_bytes(data[pos:pos + 2], "big"))
        pos += 4 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return tuple(groups) if pos == len(data) else None


def _lenient_sni(data: bytes) -> str | None:
    """The host name of a server_name extension, as parse_client_hello reads it."""
    n = len(data)
    if n >= 5 and ((data[0] << 8) | data[1]) == n - 2 and data[2] == 0:  # one well-formed list, host_name first
        end = 5 + ((data[3] << 8) | data[4])
        if end <= n:
            return data[5:end].decode("ascii", errors="replace")
    from tlskit.tls.handshake import EXT_SERVER_NAME, _lenient, _sni

    return _lenient(((EXT_SERVER_NAME, data),), EXT_SERVER_NAME, _sni, None, [], "ClientHello")


def _client_fields(ch: Any) -> _Hello:
    """The connection columns a ClientHello fills, computed once so the parsed message (with
    every extension's bytes) need not be kept until the tables are built.

    One client program sends the same hello shape (suites, extensions, groups, ...) on every
    connection; only the random, session id, key shares and SNI change. The columns and
    fingerprints of a shape are computed once and shared."""
    g = _degrease  # browsers pick fresh GREASE values per connection; no column depends on which
    shape = (ch.legacy_version, g(ch.cipher_suites), g(ch.extension_types), g(ch.supported_groups),
             ch.ec_point_formats, g(ch.signature_algorithms), ch.alpn_raw, g(ch.supported_versions),
             g(ch.key_share_groups), ch.sni is not None, ch.sslv2)
    known = _SHAPES.get(shape)
    if known is None:
        if len(_SHAPES) >= 4096:
            _SHAPES.clear()
        known = _SHAPES[shape] = _shape_fields(ch)
    return _Hello(known, ch.sni, ch.session_id)


def _degrease(codes: Iterable[int]) -> tuple[int, ...]:
    return tuple(0x0A0A if registry.is_grease(c) else c for c in codes)


def _shape_fields(ch: Any) -> dict[str, Any]:
    from tlskit.tls.fingerprint import ja3, ja4

    suites = [s for s in ch.cipher_suites if not registry.is_grease(s)]
    if ch.sslv2:
        suites = [s for s in suites if s <= 0xFFFF]
    out: dict[str, Any] = dict(
        alpn_offered=list(ch.alpn), client_legacy_version=ch.legacy_version,
        client_versions=[v for v in ch.supported_versions if not registry.is_grease(v)],
        client_max_version=ch.max_version, offered_ciphers=suites,
        offered_cipher_names=[registry.cipher_suite_name(s) for s in suites],
        offered_grease=sum(1 for s in ch.cipher_suites if registry.is_grease(s)),
        offered_extensions=[e for e in ch.extension_types if not registry.is_grease(e)],
        offered_groups=[g for g in ch.supported_groups if not registry.is_grease(g)],
        offered_sig_algs=[a for a in ch.signature_algorithms if not registry.is_grease(a)],
        offered_key_shares=[g for g in ch.key_share_groups if not registry.is_grease(g)],
    )
    out["ja3_string"], out["ja3"] = _safe(ja3, ch)
    out["ja4"] = _safe(ja4, ch)
    return out


def _safe(fn: Any, hello: Any) -> Any:
    try:
        return fn(hello)
    except (ValueError, KeyError, IndexError):
        return (None, None) if fn.__name__ in ("ja3", "ja3s") else None


def _ch(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_client_hello

    return parse_client_hello(body)


def _sslv2_ch(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_sslv2_client_hello

    return parse_sslv2_client_hello(body)


def _sh(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_server_hello

    return parse_server_hello(body)


def _parse(fn: Any, body: bytes, conn: _Conn, frame: int) -> Any:
    from tlskit.tls.handshake import HandshakeError

    try:
        return fn(body)
    except HandshakeError as exc:
        conn.notes.append(f"frame {frame}: {exc}")
        return None


def _ee_alpn(body: bytes) -> str | None:
    """The ALPN protocol in an EncryptedExtensions body, if any."""
    if len(body) < 2:
        return None
    end = min(len(body), 2 + int.from_bytes(body[:2], "big"))
    i = 2
    while i + 4 <= end:
        etype, elen = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
        data = body[i + 4:i + 4 + elen]
        if etype == 16 and len(data) >= 3:
            return data[3:3 + data[2]].decode("utf-8", "replace")
        i += 4 + elen
    return None


def _certificates(msg: bytes, mtype: int, tls13: bool, conn: _Conn, frame: int) -> list[bytes]:
    from tlskit.tls.handshake import HandshakeError, parse_certificate, parse_compressed_certificate

    try:
        if mtype == 25:
            cc = parse_compressed_certificate(msg[4:])
            if cc.message is None:
                conn.notes.append(f"frame {frame}: compressed certificate not expanded ({cc.note})")
                return []
            inner = cc.message
            return list(parse_certificate(inner[4:] if inner[:1] == b"\x0b" else inner, True))
        return list(parse_certificate(msg[4:], tls13))
    except HandshakeError as exc:
        conn.notes.append(f"frame {frame}: {exc}")
        return []


def _cert_row(conn_id: int, side: str, pos: int, frame: int, time: float, der: bytes) -> dict[str, Any]:
    row: dict[str, Any] = {"conn_id": conn_id, "side": side, "position": pos, "frame": frame, "time": time}
    row.update(_described(der))  # its lists are shared by every row of this DER (cells are read-only)
    row["der"] = der
    return row


@functools.lru_cache(maxsize=4096)
def _described(der: bytes) -> dict[str, Any]:
    """x509.describe, once per distinct certificate: a busy server sends the same chain to
    every client, and parsing it is the costliest step of building the tables.
    Callers copy the result (``row.update``), never modify it."""
    try:
        from tlskit.x509 import describe
    except ImportError:
        describe = _describe
    try:
        return dict(describe(der))
    except Exception as exc:  # hostile DER: a row that says why, never a crash
        return {"parse_error": f"{type(exc).__name__}: {exc}"}


def _describe(der: bytes) -> dict[str, Any]:
    """Minimal certificate description, used until tlskit.x509 is available."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    out: dict[str, Any] = {"der": der, "sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        out["parse_error"] = str(exc)
        return out
    key = cert.public_key()
    kinds = [(rsa.RSAPublicKey, "RSA"), (ec.EllipticCurvePublicKey, "EC"), (ed25519.Ed25519PublicKey, "Ed25519"),
             (ed448.Ed448PublicKey, "Ed448"), (dsa.DSAPublicKey, "DSA")]
    out["key_type"] = next((name for cls, name in kinds if isinstance(key, cls)), type(key).__name__)
    out["key_size"] = getattr(key, "key_size", None)
    out.update(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
               serial=format(cert.serial_number, "x"), not_before=cert.not_valid_before_utc,
               not_after=cert.not_valid_after_utc)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    out["subject_cn"] = str(cn[0].value) if cn else None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        out["san_dns"] = san.get_values_for_type(x509.DNSName)
        out["san_ip"] = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        out["is_ca"] = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        out["is_ca"] = False
    with contextlib.suppress(ValueError):
        out["signature_algorithm"] = cert.signature_algorithm_oid._name
    out["self_signed"] = cert.subject == cert.issuer
    return out


class _Rows:
    """Finished rows of one table, column-wise: integers, flags and times in compact typed
    arrays (missing: -1 / NaN), everything else (strings, lists, categories) in lists. A
    Python object per cell would dominate memory on a capture with many connections."""

    def __init__(self, columns: Iterable[Column]):
        cols = list(columns)
        self.ints = [c.name for c in cols if c.dtype in _INT_DTYPES]
        self.bools = [c.name for c in cols if c.dtype == "boolean"]
        self.times = [c.name for c in cols if c.dtype == UTC_TIME]
        self.dtypes = {c.name: c.dtype for c in cols}
        self.int_values, self.bool_values, self.time_values = array("q"), array("b"), array("d")
        self.objects: dict[str, list[Any]] = {
            c.name: [] for c in cols if c.name not in self.ints + self.bools + self.times}
        self.count = 0
        self.appends = [(values.append, name) for name, values in self.objects.items()]

    def add(self, row: dict[str, Any]) -> None:
        """One row; columns it does not name are missing."""
        get = row.get
        self.int_values.extend([-1 if (v := get(name)) is None else v for name in self.ints])
        self.bool_values.extend([-1 if (v := get(name)) is None else v for name in self.bools])
        self.time_values.extend([_NAN if (v := get(name)) is None else v for name in self.times])
        for append, name in self.appends:
            append(get(name))
        self.count += 1

    def amend(self, position: int, end_time: float, retransmission: bool) -> None:
        """A trailing packet: a later end_time, one more retransmission (connection rows only)."""
        i = position * len(self.times) + self.times.index("end_time")
        if end_time > self.time_values[i]:
            self.time_values[i] = end_time
        if retransmission:
            self.int_values[position * len(self.ints) + self.ints.index("retransmissions")] += 1

    def ints_of(self, name: str) -> np.ndarray:
        """One integer column in row order (-1: missing)."""
        n = self.count
        values = np.frombuffer(self.int_values, dtype=np.int64) if n else np.zeros(0, np.int64)
        return values.reshape(n, len(self.ints))[:, self.ints.index(name)]

    def columns(self, order: np.ndarray) -> dict[str, Any]:
        """Every column as a typed array, rows in `order`; the stored rows are released."""
        n = self.count
        out: dict[str, Any] = {}
        for names, store, kind in ((self.ints, self.int_values, np.int64), (self.bools, self.bool_values, np.int8),
                                   (self.times, self.time_values, np.float64)):
            table = (np.frombuffer(store, dtype=kind) if n else np.zeros(0, kind)).reshape(n, len(names))
            for k, name in enumerate(names):
                values = table[:, k][order]
                if kind is np.int64:
                    out[name] = int_array(values, self.dtypes[name])
                elif kind is np.int8:
                    out[name] = pd.arrays.BooleanArray(values == 1, values < 0)
                else:
                    out[name] = utc_array(values)
        self.int_values, self.bool_values, self.time_values = array("q"), array("b"), array("d")
        take = _taker(order)
        for name in list(self.objects):
            out[name] = typed(take(self.objects.pop(name)), self.dtypes[name])
        return out


_NAN = float("nan")
_INT_DTYPES = ("UInt8", "UInt16", "UInt32", "Int64")


class TableBuilder:
    """The rows of one load, filled by an engine as it reads.

    For each TCP connection that carries TLS the engine calls :meth:`open`, then the returned
    connection's ``tcp()`` / ``unit()`` in capture order (sides are 0 for the sender of the
    connection's first packet, 1 for the other), and ``close()`` once nothing more will come.
    A closed connection becomes rows at once and its state is dropped, so memory follows the
    connections still open, not the file. :meth:`tables` makes the three frames.
    """

    def __init__(self) -> None:
        self.ders: dict[bytes, bytes] = {}  # one copy of each certificate
        self.messages = _Messages()
        self.opened = 0
        self.rows = _Rows(c for c in CONNECTIONS.columns if c.name not in ("conn_id", "handshake_duration"))
        self.index = array("q")  # per row: the connection's open() order
        self.cert_rows: list[tuple[int, str, int, int, float, bytes]] = []  # (index, side, position, frame, time, der)

    def open(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int) -> _Conn:
        """A connection whose first packet (``frame``) went from src:sport to dst:dport."""
        conn = _Conn(self, self.opened, frame, time, (src, sport), (dst, dport))
        self.opened += 1
        return conn

    def finish(self, conn: _Conn) -> int:
        """Turn a connection into its row; returns the row's position (-1: not TLS, no row)."""
        if not conn.tls:
            return -1
        self.rows.add(conn.row())
        self.index.append(conn.index)
        if conn.certs:
            self.cert_rows.extend((conn.index, *cert) for cert in conn.certs)
        return self.rows.count - 1

    def late(self, position: int, time: float, retransmission: bool) -> None:
        """A TCP packet of a connection already turned into row `position`."""
        if position >= 0:
            self.rows.amend(position, time, retransmission)

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(messages, connections, certificates); conn_id in order of each connection's first packet."""
        n = len(self.index)
        first = self.rows.ints_of("first_frame")
        index = np.frombuffer(self.index, dtype=np.int64) if n else np.zeros(0, np.int64)
        order = np.lexsort((index, first))  # rows by first packet; ties in open() order
        conn_ids = np.full(self.opened, -1, dtype=np.int64)
        conn_ids[index[order]] = np.arange(n)
        # messages first: their compact arrays are freed before the other frames are made
        messages = check(self.messages.frame_for(conn_ids), MESSAGES)
        self.messages.clear()
        columns: dict[str, Any] = {"conn_id": int_array(np.arange(n), "UInt32"), **self.rows.columns(order)}
        columns["handshake_duration"] = (pd.Series(columns["handshake_end_time"])
                                         - pd.Series(columns["client_hello_time"])).array
        connections = check(pd.DataFrame({name: columns[name] for name in CONNECTIONS.names}), CONNECTIONS)
        del columns
        rows = sorted(self.cert_rows, key=lambda r: conn_ids[r[0]])  # stable: chain order kept
        self.cert_rows = []
        certs: dict[str, list[Any]] = {c.name: [] for c in CERTIFICATES.columns}
        for index_, side, pos, frame, time, der in rows:
            row = _cert_row(int(conn_ids[index_]), side, pos, frame, time, der)
            if not certs.keys() >= row.keys():
                raise ValueError(f"certificates: columns not in the schema: {sorted(row.keys() - certs.keys())}")
            for name, values in certs.items():
                values.append(row.get(name))
        n_certs = len(rows)
        del rows
        for col in ("not_before", "not_after"):
            certs[col] = [_utc(v) for v in certs[col]]
        xdtypes = CERTIFICATES.dtypes
        xcols = {name: values if name in ("not_before", "not_after", "der") else typed(values, xdtypes[name])
                 for name, values in certs.items()}
        return messages, connections, conform(pd.DataFrame(xcols) if n_certs else pd.DataFrame(), CERTIFICATES)


def _taker(order: np.ndarray) -> Any:
    """A function reordering a list by `order` (in C: operator.itemgetter)."""
    positions = order.tolist()
    if len(positions) > 1:
        return lambda values: list(operator.itemgetter(*positions)(values))
    return lambda values: [values[i] for i in positions]


def build_tables(events: Iterable[Event], *, path: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn an engine's events into the three tables (the tshark engine's way in; the native
    engine drives a :class:`TableBuilder` directly, without event objects).

    Parameters
    ----------
    events
        TcpPacket / TlsUnit events, in capture order within each connection.
    path
        The capture file, for messages only.

    Returns
    -------
    (messages, connections, certificates)
        Frames conforming to :data:`tlskit.schema.MESSAGES` (conn_id, seq, frame, time,
        direction, record_version, content_type(_name), handshake_type(_name), alert_level(_name),
        alert_description(_name), encrypted, decrypted, length),
        :data:`tlskit.schema.CONNECTIONS` (one row per TCP connection that carried TLS,
        conn_id in order of first packet) and :data:`tlskit.schema.CERTIFICATES`.
    """
    builder = TableBuilder()
    conns: dict[Any, _Conn] = {}
    for ev in events:
        key: Any = ev.stream if ev.stream >= 0 else tuple(sorted([(ev.src, ev.sport), (ev.dst, ev.dport)]))
        conn = conns.get(key)
        if conn is None:
            conn = conns[key] = builder.open(ev.frame, ev.time, ev.src, ev.sport, ev.dst, ev.dport)
        side = 0 if (ev.src, ev.sport) == conn.first_src else 1
        if isinstance(ev, TlsUnit):
            if ev.starttls and not conn.starttls:
                conn.starttls = ev.starttls
            conn.unit(side, ev.frame, ev.time, ev.content_type, -1 if ev.record_version is None else ev.record_version,
                      ev.length, ev.body, bool(ev.encrypted), bool(ev.decrypted), ev.sslv2, ev.notes)
        else:
            conn.tcp(side, ev.frame, ev.time, ev.flags, ev.payload_len, ev.retransmission)
        if ev.frame < conn.first_frame:  # an engine may hold a connection's first packets back
            conn.first_frame, conn.start_time = ev.frame, min(conn.start_time, ev.time)
    for conn in conns.values():
        conn.close()
    conns.clear()
    return builder.tables()


def _names(codes: np.ndarray, lookup: Any) -> Any:
    """IANA names (a string array) for codes (negative: missing), looked up once per distinct code."""
    distinct, where = np.unique(codes, return_inverse=True)
    names = pd.array([lookup(int(c)) if c >= 0 else None for c in distinct], dtype="string")
    return names.take(where.reshape(-1))


@functools.lru_cache(maxsize=8192)
def _utc(v: Any) -> Any:
    """A certificate date as a UTC Timestamp; dates pandas cannot hold (RFC 5280's
    99991231235959Z "no expiry") are clamped to the representable range."""
    if not isinstance(v, datetime):
        return v
    if v.tzinfo is None:
        v = v.replace(tzinfo=timezone.utc)
    if v >= pd.Timestamp.max.tz_localize("UTC"):
        return pd.Timestamp.max.tz_localize("UTC")
    if v <= pd.Timestamp.min.tz_localize("UTC"):
        return pd.Timestamp.min.tz_localize("UTC")
    return pd.Timestamp(v)


__all__ = ["build_tables"]
