"""One connection's protocol judgements, from what an engine reports about it.

Both engines report the same calls (:mod:`tlskit.capture._events`) to a :class:`Connection`
(made by :class:`tlskit.capture._builder.TableBuilder`), so every protocol judgement lives
here once: who the client is, whether the handshake completed, resumption, the first fatal
alert, TLS 1.3 encrypted alerts, timing.

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

from typing import TYPE_CHECKING, Any

from tlskit import registry
from tlskit.capture._events import ACK, FIN, RST, SYN
from tlskit.capture._handshake_fields import (
    Hello,
    Server,
    certificate_ders,
    client_fields,
    ee_alpn,
    hello_fields,
    parse,
    server_hello,
    sslv2_client_hello,
)

if TYPE_CHECKING:
    from tlskit.capture._builder import TableBuilder

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


class Connection:
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
        self.ch: Hello | None = None  # the columns its ClientHello fills
        self.sh: Server | None = None
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
        messages.add(messages.pack(self.index, self.nrows, is_client, record_version, ct, mtype, hrr, level, desc,
                                   encrypted, decrypted, length, frame, time))
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
                ch = parse(sslv2_client_hello, body, self.notes, frame)
                self.ch = None if ch is None else client_fields(ch)
                self.ch_time = time
            elif mtype == 2 and self.sh is None:
                self.sslv2_server = True
                self.version = record_version
                self.sh_time = time
            return False
        if mtype == 1:
            fields = hello_fields(body[4:], self.notes, frame)
            if self.ch is None and fields is not None:
                self.ch, self.ch_time = fields, time
        elif mtype == 2:
            parsed = server_hello(body[4:], self.notes, frame)
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
            self.alpn_selected = ee_alpn(body[4:]) or self.alpn_selected
        elif mtype in (11, 25):
            der = certificate_ders(body, mtype, self._tls13, self.notes, frame)
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


__all__ = ["Connection"]
