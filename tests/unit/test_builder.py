"""build_tables: the protocol judgements, on hand-made event streams (no engine involved)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.unit._native_pcap import alert, certificate, client_hello, hs, self_signed, server_hello
from tlskit.capture._builder import build_tables
from tlskit.capture._events import ACK, FIN, RST, SYN, Event, TcpPacket, TlsUnit
from tlskit.schema import CERTIFICATES, CONNECTIONS, MESSAGES

C, S = ("10.1.1.1", 40000), ("10.2.2.2", 443)


class Script:
    """Builds one connection's events; `c(...)`/`s(...)` add client/server units."""

    def __init__(self, stream: int = 0, t: float = 1_700_000_000.0, syn: bool = True):
        self.events: list[Event] = []
        self.frame = 0
        self.t = t
        self.stream = stream
        if syn:
            self.tcp("c", SYN)
            self.tcp("s", SYN | ACK)

    def _next(self) -> tuple[int, float]:
        self.frame += 1
        self.t += 0.01
        return self.frame, self.t

    def tcp(self, side: str, flags: int, retrans: bool = False) -> Script:
        f, t = self._next()
        a, b = (C, S) if side == "c" else (S, C)
        self.events.append(TcpPacket(f, t, a[0], a[1], b[0], b[1], flags, 0, retrans, self.stream))
        return self

    def unit(self, side: str, ct: int, body: bytes | None = None, length: int | None = None,
             encrypted: bool = False, decrypted: bool = False) -> Script:
        f, t = self._next()
        a, b = (C, S) if side == "c" else (S, C)
        n = length if length is not None else (len(body) - 4 if ct == 22 and body else len(body or b""))
        self.events.append(TlsUnit(f, t, a[0], a[1], b[0], b[1], ct, 0x0303, n, body, encrypted, decrypted,
                                   stream=self.stream))
        return self

    def c(self, *a: object, **k: object) -> Script:
        return self.unit("c", *a, **k)  # type: ignore[arg-type]

    def s(self, *a: object, **k: object) -> Script:
        return self.unit("s", *a, **k)  # type: ignore[arg-type]


def tables(*scripts: Script) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    events = [e for s in scripts for e in s.events]
    return build_tables(iter(events))


def tls12(script: Script, *, cert: bytes | None = None, cr: bool = False) -> Script:
    script.c(22, client_hello(alpn=("h2", "http/1.1")))
    script.s(22, server_hello())
    script.s(22, certificate([cert or self_signed()]))
    if cr:
        script.s(22, hs(13, b"\x01\x01\x00\x02\x04\x03\x00\x00"))
    return script.s(22, hs(14, b""))


def test_schema_and_established_tls12() -> None:
    sc = tls12(Script())
    sc.c(22, hs(16, b"\x00" * 10)).c(20, b"\x01").c(22, None, 40, encrypted=True)
    sc.s(20, b"\x01").s(22, None, 40, encrypted=True).c(23, None, 100, encrypted=True).tcp("c", FIN | ACK)
    m, c, x = tables(sc)
    assert list(m.columns) == MESSAGES.names and list(c.columns) == CONNECTIONS.names
    assert list(x.columns) == CERTIFICATES.names
    row = c.iloc[0]
    assert row.established and not row.resumed and not row.hello_retry_request
    assert row.alpn_offered == ["h2", "http/1.1"]
    assert row.certificate_requested is False or row.certificate_requested == False  # noqa: E712
    assert pd.isna(row.client_certificate_sent)
    assert row.handshake_end_time == pd.Timestamp(1_700_000_000.11, unit="s", tz="UTC").round("us")
    assert row.first_app_data_time == pd.Timestamp(1_700_000_000.12, unit="s", tz="UTC").round("us")
    assert row.handshake_duration == pd.Timedelta(milliseconds=80)
    assert row.server_flight_end_time == pd.Timestamp(1_700_000_000.06, unit="s", tz="UTC").round("us")
    assert len(m) == 9 and 23 not in set(m["content_type"])  # application data after completion is left out
    assert list(x["position"]) == [0] and x.iloc[0].subject_cn == "example.com"
    assert row.ja3 and len(row.ja3) == 32 and row.ja4.startswith("t12d")


def test_fatal_alert_and_who_sent_it() -> None:
    sc = Script().c(22, client_hello()).s(21, alert(2, 40)).tcp("s", RST | ACK)
    _m, c, _x = tables(sc)
    row = c.iloc[0]
    assert (row.alert, row.alert_name, row.alert_from, row.alert_frame) == (40, "handshake_failure", "server", 4)
    assert not row.established and row.tcp_end == "rst" and row.tcp_end_by == "server"
    assert pd.isna(row.version)


def test_tls13_without_keys_established_from_record_shapes() -> None:
    sc = Script().c(22, client_hello(versions=(0x0304,))).s(22, server_hello(0x1301, 0x0304))
    sc.s(20, b"\x01").s(23, None, 2000, encrypted=True).c(20, b"\x01").c(23, None, 53, encrypted=True)
    sc.s(23, None, 250, encrypted=True).c(23, None, 19, encrypted=True).tcp("c", FIN | ACK)
    m, c, _x = tables(sc)
    row = c.iloc[0]
    assert row.version_name == "TLSv1.3" and row.established
    assert pd.isna(row.certificate_requested) and not row.server_certificate_visible
    assert pd.isna(row.encrypted_alert_from)  # a close_notify after success is not a failure
    assert len(m) == 6  # records after the client's Finished are application data: not listed


def test_tls13_client_rejects_certificate_encrypted_alert() -> None:
    sc = Script().c(22, client_hello(versions=(0x0304,))).s(22, server_hello(0x1301, 0x0304))
    sc.s(23, None, 2500, encrypted=True).c(20, b"\x01").c(23, None, 19, encrypted=True).tcp("c", FIN | ACK)
    _m, c, _x = tables(sc)
    row = c.iloc[0]
    assert not row.established
    assert row.encrypted_alert_from == "client"
    assert pd.isna(row.alert)  # never guessed


def test_tls13_server_refuses_client_flight() -> None:
    sc = Script().c(22, client_hello(versions=(0x0304,))).s(22, server_hello(0x1301, 0x0304))
    sc.s(23, None, 2500, encrypted=True).c(23, None, 900, encrypted=True).s(23, None, 19, encrypted=True)
    sc.tcp("s", FIN | ACK)
    _m, c, _x = tables(sc)
    assert not c.iloc[0].established and c.iloc[0].encrypted_alert_from == "server"


def test_hello_retry_request_and_psk_resumption() -> None:
    hrr = server_hello(0x1301, 0x0304, random=bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"))
    sc = Script().c(22, client_hello(versions=(0x0304,))).s(22, hrr).c(22, client_hello(versions=(0x0304,)))
    sc.s(22, server_hello(0x1301, 0x0304, psk=True))
    m, c, _x = tables(sc)
    assert c.iloc[0].hello_retry_request and c.iloc[0].resumed
    assert list(m["handshake_type_name"]) == ["client_hello", "hello_retry_request", "client_hello", "server_hello"]


def test_tls12_session_id_resumption() -> None:
    sid = b"\x42" * 32
    sc = Script().c(22, client_hello(session_id=sid)).s(22, server_hello(session_id=sid)).s(20, b"\x01")
    sc.s(22, None, 40, encrypted=True).c(20, b"\x01").c(22, None, 40, encrypted=True)
    _m, c, _x = tables(sc)
    assert c.iloc[0].resumed and c.iloc[0].established


def test_client_certificate_requested_and_empty() -> None:
    sc = tls12(Script(), cr=True).c(22, certificate([])).c(22, hs(16, b"\x00" * 4)).c(20, b"\x01")
    sc.s(21, alert(2, 116))
    _m, c, x = tables(sc)
    row = c.iloc[0]
    assert row.certificate_requested and row.client_certificate_sent == False  # noqa: E712
    assert row.alert_name == "certificate_required" and len(x) == 1


def test_conn_ids_follow_first_packet_and_only_tls_connections() -> None:
    late = Script(stream=0, t=1_700_000_010.0).c(22, client_hello("late.example"))
    early = Script(stream=1, t=1_700_000_000.0).c(22, client_hello("early.example"))
    plain = Script(stream=2, t=1_699_999_999.0)  # TCP only: no TLS
    for e in early.events:
        e.frame += 100
    for e in late.events:
        e.frame += 200
    _m, c, _x = tables(late, early, plain)
    assert list(c["sni"]) == ["early.example", "late.example"]
    assert list(c["conn_id"]) == [0, 1]


def test_client_from_hello_when_no_syn_and_retransmissions() -> None:
    sc = Script(syn=False).s(22, server_hello()).tcp("s", ACK, retrans=True).tcp("s", ACK, retrans=True)
    _m, c, _x = tables(sc)
    row = c.iloc[0]
    assert (row.client_ip, row.server_port) == ("10.1.1.1", 443)
    assert row.retransmissions == 2 and row.partial


@pytest.mark.parametrize("bad", [b"\x01\x00\x00\x05abcde", b"\x02\x00\x00\x01x"])
def test_malformed_hello_is_a_note_not_an_exception(bad: bytes) -> None:
    sc = Script().c(22, bad)
    _m, c, _x = tables(sc)
    assert any("malformed" in n for n in c.iloc[0].notes)


def test_garbage_certificate_is_a_row_with_parse_error() -> None:
    sc = Script().c(22, client_hello()).s(22, server_hello()).s(22, certificate([b"\x30\x03\x02\x01\x00"]))
    _m, _c, x = tables(sc)
    assert len(x) == 1 and pd.notna(x.iloc[0].parse_error) and x.iloc[0].der == b"\x30\x03\x02\x01\x00"


def test_repeated_hello_shapes_keep_per_connection_values() -> None:
    """Hellos that differ only in random, session id and SNI share their parsed shape (a cache);
    each connection still gets its own SNI, session-id resumption and fingerprints."""
    sid = b"\x05" * 32
    a = Script(0).c(22, client_hello(sni="a.example", random=b"\x01" * 32)).s(22, server_hello(random=b"\x02" * 32))
    b = Script(1, t=1_700_000_100.0).c(22, client_hello(sni="b.example", session_id=sid, random=b"\x03" * 32))
    b.s(22, server_hello(session_id=sid, random=b"\x04" * 32))
    c = Script(2, t=1_700_000_200.0).c(22, client_hello(sni=None, random=b"\x05" * 32))
    d = Script(3, t=1_700_000_300.0).c(22, client_hello(sni="d.example")[:-3])  # cut short: damaged
    _m, conns, _x = tables(a, b, c, d)
    assert conns["sni"].tolist()[:2] == ["a.example", "b.example"] and pd.isna(conns.loc[2, "sni"])
    assert conns["resumed"].tolist()[:2] == [False, True]
    assert conns.loc[0, "ja3"] == conns.loc[1, "ja3"] and conns.loc[0, "ja4"] == conns.loc[1, "ja4"]
    assert conns.loc[2, "ja4"] != conns.loc[0, "ja4"]  # no SNI: "i" instead of "d"
    assert conns.loc[0, "offered_ciphers"] == [0x1301, 0xC02F, 0x009C]
    # one list per hello shape, shared by its rows (a copy per row would dominate memory on big captures)
    assert conns.loc[0, "offered_ciphers"] is conns.loc[1, "offered_ciphers"]
    assert conns.loc[2, "offered_ciphers"] == [0x1301, 0xC02F, 0x009C]
    assert pd.isna(conns.loc[3, "sni"]) and any("ClientHello" in n for n in conns.loc[3, "notes"])
