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
import warnings
from array import array
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tlskit import registry
from tlskit.capture._events import ACK, FIN, RST, SYN, Event, TcpPacket, TlsUnit
from tlskit.schema import CERTIFICATES, CONNECTIONS, MESSAGES, conform

CCM8_SUITE = 0x1305  # TLS_AES_128_CCM_8_SHA256: 8-byte AEAD tag
SHA384_SUITE = 0x1302  # TLS_AES_256_GCM_SHA384: 48-byte Finished
SSLV2_TYPES = {1: 1, 4: 2}  # SSLv2 CLIENT-HELLO / SERVER-HELLO -> handshake type codes
_SIDE_BIT = {"client": 1, "server": 2}
_CERT_FLIGHT = (1 << 11) | (1 << 12) | (1 << 14)  # Certificate, ServerKeyExchange, ServerHelloDone


def _is_tls13(version: int | None) -> bool:
    return version is not None and (version == 0x0304 or (version >> 8) in (0x7F, 0x7E, 0xFB))


class _Messages:
    """Message rows of all connections, column-wise in compact arrays (a tuple of Python
    objects per message would dominate the memory of a capture with many connections).
    Codes that may be absent are stored as -1."""

    __slots__ = ("alert_description", "alert_level", "c2s", "conn", "content_type", "decrypted", "encrypted",
                 "frame", "handshake_type", "hrr", "length", "record_version", "seq", "time")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.conn, self.seq, self.frame = array("q"), array("q"), array("q")
        self.time = array("d")
        self.c2s, self.hrr, self.encrypted, self.decrypted = array("b"), array("b"), array("b"), array("b")
        self.record_version, self.content_type, self.handshake_type = array("q"), array("q"), array("q")
        self.alert_level, self.alert_description, self.length = array("q"), array("q"), array("q")

    def add(self, conn: int, seq: int, row: list[Any]) -> None:
        """row: frame, time, direction, record_version, content_type, handshake_type, name
        override, alert_level, alert_description, encrypted, decrypted, length."""
        self.conn.append(conn)
        self.seq.append(seq)
        self.frame.append(row[0])
        self.time.append(row[1])
        self.c2s.append(row[2] == "c2s")
        self.record_version.append(-1 if row[3] is None else row[3])
        self.content_type.append(-1 if row[4] is None else row[4])
        self.handshake_type.append(-1 if row[5] is None else row[5])
        self.hrr.append(row[6] is not None)
        self.alert_level.append(-1 if row[7] is None else row[7])
        self.alert_description.append(-1 if row[8] is None else row[8])
        self.encrypted.append(bool(row[9]))
        self.decrypted.append(bool(row[10]))
        self.length.append(row[11])

    def frame_for(self, conn_ids: np.ndarray) -> pd.DataFrame:
        """The messages frame; conn_ids maps a connection's index to its conn_id."""
        ids = conn_ids[np.frombuffer(self.conn, dtype=np.int64)] if len(self.conn) else np.zeros(0, np.int64)
        order = np.argsort(ids, kind="stable")  # rows of one connection stay in arrival order

        def col(a: array, nullable: bool = True) -> pd.Series:
            v = np.frombuffer(a, dtype=np.int64)[order] if len(a) else np.zeros(0, np.int64)
            return pd.Series(v, dtype="Int64").mask(v < 0) if nullable else pd.Series(v)

        def flag(a: array) -> np.ndarray:
            return (np.frombuffer(a, dtype=np.int8)[order] if len(a) else np.zeros(0, np.int8)).astype(bool)

        df = pd.DataFrame({
            "conn_id": ids[order], "seq": col(self.seq, False), "frame": col(self.frame, False),
            "time": np.frombuffer(self.time, dtype=np.float64)[order] if len(self.time) else np.zeros(0),
            "direction": np.array(["s2c", "c2s"], dtype=object)[flag(self.c2s).astype(np.int8)],
            "record_version": col(self.record_version), "content_type": col(self.content_type),
            "handshake_type": col(self.handshake_type), "alert_level": col(self.alert_level),
            "alert_description": col(self.alert_description),
            "encrypted": flag(self.encrypted), "decrypted": flag(self.decrypted), "length": col(self.length, False),
        })
        df["content_type_name"] = _names(df["content_type"], registry.content_type_name)
        names = _names(df["handshake_type"], registry.handshake_type_name)
        df["handshake_type_name"] = names.where(~flag(self.hrr), "hello_retry_request")
        df["alert_level_name"] = _names(df["alert_level"], registry.alert_level_name)
        df["alert_description_name"] = _names(df["alert_description"], registry.alert_name)
        return df


class _Conn:
    """Everything one connection's events say, accumulated in arrival order."""

    __slots__ = (
        "alert",
        "alert_time",
        "alpn_selected",
        "app_by",
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

    def __init__(self, ev: Event, ders: dict[bytes, bytes], messages: _Messages, index: int):
        self.ders = ders  # certificate DER interning shared by all connections of one build
        self.messages = messages  # the build's message rows, tagged with this connection's index
        self.index = index
        self.nrows = 0
        self.first_frame = ev.frame
        self.start_time = ev.time
        self.end_time = ev.time
        self.first_src = (ev.src, ev.sport)
        self.first_dst = (ev.dst, ev.dport)
        self.client: tuple[str, int] | None = None
        self.client_guessed = False
        self.tls = False
        self.syn_time: float | None = None
        self.synack_time: float | None = None
        self.tcp_end: str | None = None
        self.tcp_end_by: tuple[str, int] | None = None
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
    def side(self, src: str, sport: int) -> str:
        return "client" if (src, sport) == self.client else "server"

    def ensure_client(self, unit: TlsUnit) -> None:
        if self.client is not None:
            return
        if unit.content_type == 22 and unit.body:
            mtype = unit.body[0]
            if mtype == 1:
                self.client = (unit.src, unit.sport)
                return
            if mtype in (2, 4):
                self.client = (unit.dst, unit.dport)
                return
        a, b = self.first_src, self.first_dst
        self.client = a if a[1] > b[1] else b
        self.client_guessed = True
        self.notes.append("client side guessed from the port numbers (no SYN or hello seen)")

    # -- events ---------------------------------------------------------------------------
    def tcp(self, p: TcpPacket) -> None:
        self.end_time = max(self.end_time, p.time)
        if p.flags & SYN:
            if p.flags & ACK:
                if self.synack_time is None:
                    self.synack_time = p.time
                if self.client is None:
                    self.client = (p.dst, p.dport)
            else:
                if self.syn_time is None:
                    self.syn_time = p.time
                if self.client is None or self.client_guessed:
                    self.client = (p.src, p.sport)
        if p.flags & (FIN | RST) and self.tcp_end is None:
            self.tcp_end = "rst" if p.flags & RST else "fin"
            self.tcp_end_by = (p.src, p.sport)
        if p.flags & (FIN | RST):
            who = "client" if self.client is None or (p.src, p.sport) == self.client else "server"
            self.close_frame.setdefault(who, p.frame)
        if p.retransmission:
            self.retrans += 1

    def unit(self, u: TlsUnit) -> None:
        self.end_time = max(self.end_time, u.time)
        if not self.tls:
            self.tls = True
            self.first_unit_hello = u.content_type == 22 and bool(u.body) and u.body[0] == 1 if u.body else False
        self.ensure_client(u)
        side = self.side(u.src, u.sport)
        if u.notes:
            self.notes.extend(u.notes)
        if u.starttls and not self.starttls:
            self.starttls = u.starttls
        if u.decrypted:
            self.decrypted = True
        if side == "client" and self.sh is not None and not (u.content_type == 22 and u.body and u.body[0] == 1):
            self.client_second_flight = True
        # frame, time, direction, record_version, content_type, handshake_type, name override,
        # alert_level, alert_description, encrypted, decrypted, length (names added per column later)
        row: list[Any] = [u.frame, u.time, "c2s" if side == "client" else "s2c", u.record_version,
                          u.content_type, None, None, None, None, u.encrypted, u.decrypted, u.length]
        ct = u.content_type
        completed_before = self.completed_time is not None
        if ct == 22 and u.body is not None:
            mtype = SSLV2_TYPES.get(u.body[0], u.body[0]) if u.sslv2 else u.body[0]
            row[5] = mtype
            self._handshake(u, side, mtype, row)
        elif ct == 21 and u.body is not None and len(u.body) >= 2:
            level, desc = u.body[0], u.body[1]
            row[7], row[8] = level, desc
            self.last_alert = desc
            if level == 2 and self.alert is None:
                self.alert = (desc, side, u.frame)
                self.alert_time = u.time
        elif ct == 20:
            self.ccs |= _SIDE_BIT[side]
            if side == "server":
                self.server_msgs_before_ccs = self.server_msgs
        elif u.encrypted and u.body is None and not u.decrypted:
            self._opaque(u, side)
        elif ct == 23 and self.completed_time is not None:
            self.app_by.setdefault(side, u.time)  # decrypted application data
            if self.first_app is None:
                self.first_app = u.time
        if side == "server" and self.sh is not None and not self.client_second_flight and ct in (20, 22, 23):
            self.server_flight_end = u.time
        self.last_record[side] = max(self.last_record.get(side, (0, 0, 0, False)),
                                     (u.frame, ct, u.length, u.encrypted and u.body is None))
        if ct == 23 and completed_before:
            return  # application data after completion is not listed
        self.messages.add(self.index, self.nrows, row)
        self.nrows += 1

    @property
    def _tls13(self) -> bool:
        return _is_tls13(self.version)

    def _handshake(self, u: TlsUnit, side: str, mtype: int, row: list[Any]) -> None:
        body = u.body or b""
        if side == "server":
            self.server_msgs |= 1 << mtype
        if u.sslv2:
            if mtype == 1 and self.ch is None:
                ch = _parse(_sslv2_ch, body, self, u.frame)
                self.ch = None if ch is None else _client_fields(ch)
                self.ch_time = u.time
            elif mtype == 2 and self.sh is None:
                self.sslv2_server = True
                self.version = u.record_version
                self.sh_time = u.time
            return
        if mtype == 1:
            fields = _hello_fields(body[4:], self, u.frame)
            if self.ch is None and fields is not None:
                self.ch, self.ch_time = fields, u.time
        elif mtype == 2:
            parsed = _server_hello(body[4:], self, u.frame)
            if parsed is None:
                return
            server, version, hrr = parsed
            if self.sh_time is None:
                self.sh_time = u.time
            if hrr:
                self.hrr = True
                row[6] = "hello_retry_request"
            elif self.sh is None:
                self.sh = server
                self.version = version
        elif mtype == 8:  # EncryptedExtensions (decrypted): the selected ALPN lives here in TLS 1.3
            self.alpn_selected = _ee_alpn(body[4:]) or self.alpn_selected
        elif mtype in (11, 25):
            der = _certificates(body, mtype, self._tls13, self, u.frame)
            if side == "server":
                self.server_cert_visible = True
            elif self.client_cert is not True:
                self.client_cert = bool(der)
            for pos, cert in enumerate(der):
                # the same chain arrives in every connection to a server: keep one copy
                self.certs.append((side, pos, u.frame, u.time, self.ders.setdefault(cert, cert)))
        elif mtype == 13:
            self.cert_requested = True
        elif mtype == 14:
            self.server_flight_end = u.time
        elif mtype == 16:
            self.client_cke = True
        elif mtype == 20:
            self._finished(side, u.time)
            if side == "server":
                self.server_finished_visible = True

    def _finished(self, side: str, time: float) -> None:
        if side == "client":
            self.fin_client = time
        else:
            self.fin_server = time
        if self.fin_client is not None and self.fin_server is not None and self.completed_time is None:
            self.completed_time = max(self.fin_client, self.fin_server)

    def _opaque(self, u: TlsUnit, side: str) -> None:
        """An encrypted record without keys."""
        ct = u.content_type
        if not self._tls13:
            if ct == 22 and self.ccs & _SIDE_BIT[side] and (self.fin_client if side == "client" else self.fin_server) is None:
                self._finished(side, u.time)  # the first encrypted handshake record after CCS
            elif ct == 23 and self.completed_time is not None:
                self.app_by.setdefault(side, u.time)
                if self.first_app is None:
                    self.first_app = u.time
            return
        if ct != 23:
            return
        if side == "server":
            if self.tls13_client_fin is not None and u.frame >= self.tls13_client_fin:
                self.server_after_fin.append(u.length)
            self.server_enc_seen = True
            return
        if self.server_enc_seen and self.tls13_client_fin is None and not self._alert_sized(u.length):
            self.tls13_client_fin = u.frame
            self.fin_client = u.time
            self.fin_server = self.server_flight_end
            self.completed_time = u.time
        elif self.completed_time is not None and u.frame != self.tls13_client_fin:
            self.app_by.setdefault(side, u.time)
            if self.first_app is None:
                self.first_app = u.time

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

    def row(self, conn_id: int) -> dict[str, Any]:
        client = self.client or self.first_src
        server = self.first_dst if client == self.first_src else self.first_src
        est = self.established()
        ch, sh = self.ch, self.sh
        out: dict[str, Any] = {
            "conn_id": conn_id, "first_frame": self.first_frame,
            "client_ip": client[0], "client_port": client[1], "server_ip": server[0], "server_port": server[1],
            "start_time": self.start_time, "end_time": self.end_time,
            "tcp_syn_time": self.syn_time, "tcp_synack_time": self.synack_time,
            "client_hello_time": self.ch_time, "server_hello_time": self.sh_time,
            "server_flight_end_time": self.server_flight_end,
            "handshake_end_time": self.completed_time if est else None,
            "first_app_data_time": self.first_app,
            "starttls": self.starttls, "hello_retry_request": self.hrr,
            "resumed": self.resumed(), "established": est, "decrypted": self.decrypted,
            "retransmissions": self.retrans, "notes": list(self.notes),
            "tcp_end": self.tcp_end or "open",
            "tcp_end_by": None if self.tcp_end_by is None else ("client" if self.tcp_end_by == client else "server"),
            "server_certificate_visible": self.server_cert_visible,
            "encrypted_alert_from": self.encrypted_alert_from(est),
        }
        if ch is not None:
            out.update(ch.columns)  # lists shared by every hello of its shape: conform() copies them
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


_RAW_SERVER: dict[tuple[Any, ...], tuple[_Server, int, bool]] = {}  # raw ServerHello key -> parsed


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


def _server_raw_key(body: bytes) -> tuple[tuple[Any, ...], bytes] | None:
    """(key, session id) of a structurally sound ServerHello body (same checks as
    parse_server_hello); None when it is damaged or a TLS 1.3 draft layout."""
    from tlskit.tls.handshake import HRR_RANDOM, _is_early_tls13_draft

    n = len(body)
    if n < 35 or _is_early_tls13_draft(int.from_bytes(body[:2], "big")):
        return None
    pos = 35 + body[34]
    if pos + 3 > n:
        return None
    session_id = body[35:pos]
    head = (body[:2], body[2:34] == HRR_RANDOM, body[pos:pos + 3])
    pos += 3
    exts: list[Any] = []
    if pos < n:
        if pos + 2 > n or pos + 2 + int.from_bytes(body[pos:pos + 2], "big") != n:
            return None
        pos += 2
        while pos < n:
            if pos + 4 > n:
                return None
            etype = int.from_bytes(body[pos:pos + 2], "big")
            end = pos + 4 + int.from_bytes(body[pos + 2:pos + 4], "big")
            if end > n:
                return None
            # the key share's bytes change per connection and feed no column
            exts.append((etype, None if etype == 0x0033 else body[pos + 4:end]))
            pos = end
    return (*head, tuple(exts)), session_id


_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}  # ClientHello shape -> its columns (bounded below)
_RAW_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}  # raw hello key (see _raw_key) -> its columns

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


def _raw_key(body: bytes) -> tuple[tuple[Any, ...], bytes, bytes | None] | None:
    """(key, session id, first SNI extension data) of a structurally sound ClientHello body,
    None when the full parser would reject it (same checks as parse_client_hello) or its key
    share cannot be read."""
    n = len(body)
    if n < 35:
        return None
    sid_len = body[34]
    pos = 35 + sid_len
    if sid_len > 32 or pos + 2 > n:
        return None
    session_id = body[35:pos]
    slen = int.from_bytes(body[pos:pos + 2], "big")
    suites = body[pos + 2:pos + 2 + slen]
    pos += 2 + slen
    if slen % 2 or pos + 1 > n:
        return None
    clen = body[pos]
    compression = body[pos + 1:pos + 1 + clen]
    pos += 1 + clen
    if pos > n:
        return None
    exts: list[Any] = []
    sni_data: bytes | None = None
    if pos < n:
        if pos + 2 > n:
            return None
        end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
        if end != n:  # overruns the message, or bytes after the extensions
            return None
        pos += 2
        while pos < end:
            if pos + 4 > end:
                return None
            etype = int.from_bytes(body[pos:pos + 2], "big")
            elen = int.from_bytes(body[pos + 2:pos + 4], "big")
            data = body[pos + 4:pos + 4 + elen]
            pos += 4 + elen
            if pos > end:
                return None
            if etype not in _PER_CONNECTION_EXTS:
                exts.append((etype, data))
                continue
            first = all(t != etype for t, _ in exts)
            if etype == 0x0033 and first:
                groups = _key_share_groups(data)
                if groups is None:
                    return None
                exts.append((etype, groups))
                continue
            if etype == 0x0000 and first:
                sni_data = data
            exts.append((etype, None))
    return (body[0:2], suites, compression, tuple(exts)), session_id, sni_data


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
    row.update(_described(der))  # its lists are shared by every row of this DER: conform() copies them
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


def _times(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Epoch-second floats -> tz-aware UTC, rounded to the microsecond (float precision)."""
    for c in columns:
        if c in frame.columns:
            s = pd.to_numeric(frame[c], errors="coerce").astype("float64")
            s = s.where(s.abs() < 9.2e9)  # beyond datetime64[ns] (a damaged timestamp): NaT
            frame[c] = pd.to_datetime((s * 1e6).round().astype("Int64"), unit="us", utc=True)
    return frame


def build_tables(events: Iterable[Event], *, path: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn an engine's events into the three tables.

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
    conns: dict[Any, _Conn] = {}
    ders: dict[bytes, bytes] = {}
    found = _Messages()
    for ev in events:
        key: Any = ev.stream if ev.stream >= 0 else tuple(sorted([(ev.src, ev.sport), (ev.dst, ev.dport)]))
        conn = conns.get(key)
        if conn is None:
            conn = conns[key] = _Conn(ev, ders, found, len(conns))
        if isinstance(ev, TlsUnit):
            conn.unit(ev)
        else:
            conn.tcp(ev)
        if ev.frame < conn.first_frame:
            conn.first_frame, conn.start_time = ev.frame, min(conn.start_time, ev.time)
    tls = sorted((c for c in conns.values() if c.tls), key=lambda c: c.first_frame)
    conn_ids = np.full(len(conns), -1, dtype=np.int64)
    for conn_id, c in enumerate(tls):
        conn_ids[c.index] = conn_id
    conns.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # all-NA columns while concatenating
        # messages first: their compact arrays are freed before the connection rows are built
        messages = conform(_times(found.frame_for(conn_ids), ["time"]), MESSAGES)
    found.clear()  # the connections still point at it
    # column-wise: one list per column costs far less than a dict per connection
    columns: dict[str, list[Any]] = {c.name: [] for c in CONNECTIONS.columns}
    certs: dict[str, list[Any]] = {c.name: [] for c in CERTIFICATES.columns}
    for conn_id in range(len(tls)):
        c, tls[conn_id] = tls[conn_id], None  # type: ignore[call-overload]  # free as we go
        row = c.row(conn_id)
        for name, values in columns.items():
            values.append(row.get(name))
        for cert in c.certs:
            row = _cert_row(conn_id, *cert)
            if not certs.keys() >= row.keys():
                raise ValueError(f"certificates: columns not in the schema: {sorted(row.keys() - certs.keys())}")
            for name, values in certs.items():
                values.append(row.get(name))
        del c
    n_conns, n_certs = len(tls), len(certs["conn_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # all-NA columns while concatenating
        # each table conformed as soon as it is built, so only one raw frame is alive at a time
        cdf = _times(_frame(columns, n_conns), [c.name for c in CONNECTIONS.columns if c.dtype == "datetime64[ns, UTC]"])
        del columns
        if not cdf.empty:
            cdf["handshake_duration"] = cdf["handshake_end_time"] - cdf["client_hello_time"]
        connections = conform(cdf, CONNECTIONS)
        del cdf
        xdf = _times(_frame(certs, n_certs), ["time"])
        del certs
        for col in ("not_before", "not_after"):
            if col in xdf.columns:
                xdf[col] = pd.to_datetime(xdf[col].map(_utc), utc=True)
    return messages, connections, conform(xdf, CERTIFICATES)


def _frame(columns: dict[str, list[Any]], n: int) -> pd.DataFrame:
    """The frame of column lists (none when there are no rows, as conform() expects)."""
    return pd.DataFrame(columns) if n else pd.DataFrame()


def _names(col: pd.Series, lookup: Any) -> pd.Series:
    """IANA names for a column of codes, looked up once per distinct code."""
    codes = {v: lookup(int(v)) for v in col.dropna().unique()}
    return col.map(codes)


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
