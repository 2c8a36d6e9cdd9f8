"""Hand-built tables for the plot tests: synthetic handshakes shaped like real TLS stacks' ones.

Each builder returns rows for ``messages`` and ``connections`` of one connection, with times in
milliseconds after ``t0``; :func:`capture` conforms them to :mod:`tlskit.schema`. The message
sequences follow RFC 5246 / RFC 8446 flights as OpenSSL sends them (TLS 1.3 middlebox-compat
ChangeCipherSpec included), so the figures are exercised on realistic shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tlskit.schema import CERTIFICATES, CONNECTIONS, DIAGNOSIS, MESSAGES, conform

T0 = pd.Timestamp("2026-03-01 12:00:00", tz="UTC")
HS = {1: "client_hello", 2: "server_hello", 11: "certificate", 12: "server_key_exchange",
      14: "server_hello_done", 16: "client_key_exchange", 20: "finished", 13: "certificate_request",
      8: "encrypted_extensions", 15: "certificate_verify", 4: "new_session_ticket"}
CT = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
SUITES_17 = [0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B,
             0xC02F, 0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027]


@dataclass
class Capture:
    messages: pd.DataFrame
    connections: pd.DataFrame
    certificates: pd.DataFrame


def _ts(ms: float, t0: pd.Timestamp = T0) -> pd.Timestamp:
    return t0 + pd.Timedelta(milliseconds=ms)


class Conn:
    """Accumulates one connection's message rows."""

    def __init__(self, conn_id: int, t0: pd.Timestamp = T0, **conn: Any) -> None:
        self.conn_id, self.t0, self.rows, self.frame = conn_id, t0, [], 3 + conn_id * 100
        self.conn = {"conn_id": conn_id, "first_frame": conn_id * 100 + 1, "client_ip": "10.0.0.5",
                     "client_port": 50000 + conn_id, "server_ip": "10.0.0.10", "server_port": 443,
                     "start_time": t0, "tcp_syn_time": t0, "tcp_synack_time": _ts(0.4, t0),
                     "tcp_end": "fin", "tcp_end_by": "client", "retransmissions": 0,
                     "established": False, "decrypted": False, "partial": False,
                     "sni": "api.example.com", "offered_ciphers": SUITES_17,
                     "client_legacy_version": 0x0303, "client_max_version": 0x0304,
                     "hello_retry_request": False, "resumed": False, **conn}

    def msg(self, ms: float, direction: str, ct: int, hs: int | None = None, *, length: int = 100,
            encrypted: bool = False, decrypted: bool = False, alert: tuple[int, int] | None = None,
            hs_name: str | None = None) -> Conn:
        self.frame += 1
        row: dict[str, Any] = {"conn_id": self.conn_id, "seq": len(self.rows), "frame": self.frame,
                               "time": _ts(ms, self.t0), "direction": direction, "record_version": 0x0303,
                               "content_type": ct, "content_type_name": CT[ct], "length": length,
                               "encrypted": encrypted, "decrypted": decrypted}
        if hs is not None:
            row |= {"handshake_type": hs, "handshake_type_name": hs_name or HS[hs]}
        if alert is not None:
            names = {40: "handshake_failure", 48: "unknown_ca", 0: "close_notify", 70: "protocol_version",
                     112: "unrecognized_name", 46: "certificate_unknown"}
            row |= {"alert_level": alert[0], "alert_level_name": {1: "warning", 2: "fatal"}[alert[0]],
                    "alert_description": alert[1], "alert_description_name": names[alert[1]]}
        self.rows.append(row)
        return self

    def close(self, ms: float, **conn: Any) -> Conn:
        self.conn |= {"end_time": _ts(ms, self.t0), **conn}
        times: dict[Any, pd.Timestamp] = {}
        for r in self.rows:  # the first of each (ClientHello before an HRR, HRR as ServerHello)
            times.setdefault(r.get("handshake_type"), r["time"])
        self.conn.setdefault("client_hello_time", times.get(1))
        self.conn.setdefault("server_hello_time", times.get(2))
        return self


def tls12_ok(conn_id: int = 0, t0: pd.Timestamp = T0) -> Conn:
    c = Conn(conn_id, t0, version=0x0303, version_name="TLSv1.2", cipher_suite=0xC02F,
             cipher_suite_name="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", established=True)
    c.msg(1, "c2s", 22, 1, length=508).msg(3, "s2c", 22, 2, length=61).msg(3, "s2c", 22, 11, length=2100)
    c.msg(3, "s2c", 22, 12, length=300).msg(3, "s2c", 22, 14, length=0)
    c.msg(5, "c2s", 22, 16, length=37).msg(5, "c2s", 20).msg(5, "c2s", 22, 20, length=40, encrypted=True)
    c.msg(7, "s2c", 20).msg(7, "s2c", 22, 20, length=40, encrypted=True)
    return c.close(60, server_flight_end_time=_ts(3, t0), handshake_end_time=_ts(7, t0),
                   first_app_data_time=_ts(8, t0), handshake_duration=pd.Timedelta(milliseconds=6))


def tls12_handshake_failure(conn_id: int = 1, t0: pd.Timestamp = T0) -> Conn:
    c = Conn(conn_id, t0, client_max_version=0x0303, offered_ciphers=[0x002F, 0x0035, 0x000A])
    c.msg(1, "c2s", 22, 1, length=120).msg(2, "s2c", 21, alert=(2, 40), length=2)
    return c.close(2.5, tcp_end="fin", tcp_end_by="server", alert=40, alert_name="handshake_failure",
                   alert_from="server", alert_frame=c.rows[-1]["frame"], last_alert=40,
                   last_alert_name="handshake_failure")


def tls13_hrr_ok(conn_id: int = 2, t0: pd.Timestamp = T0) -> Conn:
    c = Conn(conn_id, t0, version=0x0304, version_name="TLSv1.3", cipher_suite=0x1302,
             cipher_suite_name="TLS_AES_256_GCM_SHA384", established=True, hello_retry_request=True)
    c.msg(1, "c2s", 22, 1, length=250).msg(2, "s2c", 22, 2, length=88, hs_name="hello_retry_request")
    c.msg(2, "s2c", 20).msg(3, "c2s", 20).msg(3, "c2s", 22, 1, length=282)
    c.msg(5, "s2c", 22, 2, length=118).msg(5, "s2c", 23, length=2380, encrypted=True)
    c.msg(6, "c2s", 23, length=53, encrypted=True)
    return c.close(40, server_flight_end_time=_ts(5, t0), handshake_end_time=_ts(6, t0),
                   first_app_data_time=_ts(6.5, t0), handshake_duration=pd.Timedelta(milliseconds=5),
                   server_hello_time=_ts(2, t0))


def tls13_encrypted_alert_after_gap(conn_id: int = 3, t0: pd.Timestamp = T0) -> Conn:
    """Server flight, then 30 s of silence (client waits on a prompt), then an encrypted alert and RST."""
    c = Conn(conn_id, t0, version=0x0304, version_name="TLSv1.3", cipher_suite=0x1301,
             cipher_suite_name="TLS_AES_128_GCM_SHA256", retransmissions=3)
    c.msg(1, "c2s", 22, 1, length=250).msg(3, "s2c", 22, 2, length=118).msg(3, "s2c", 20)
    c.msg(3, "s2c", 23, length=2380, encrypted=True).msg(30_003, "c2s", 20)
    c.msg(30_003, "c2s", 23, length=19, encrypted=True)
    return c.close(30_004, tcp_end="rst", tcp_end_by="client", encrypted_alert_from="client",
                   server_flight_end_time=_ts(3, t0))


def tls12_unknown_ca(conn_id: int = 4, t0: pd.Timestamp = T0) -> Conn:
    c = Conn(conn_id, t0, version=0x0303, version_name="TLSv1.2", cipher_suite=0xC030,
             cipher_suite_name="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", sni="legacy.example.net")
    c.msg(1, "c2s", 22, 1, length=300).msg(4, "s2c", 22, 2, length=61).msg(4, "s2c", 22, 11, length=1800)
    c.msg(4, "s2c", 22, 12, length=300).msg(4, "s2c", 22, 14, length=0)
    c.msg(5, "c2s", 21, alert=(2, 48), length=2)
    return c.close(5.5, tcp_end="fin", tcp_end_by="client", alert=48, alert_name="unknown_ca",
                   alert_from="client", alert_frame=c.rows[-1]["frame"], server_flight_end_time=_ts(4, t0))


def capture(*conns: Conn, certificates: list[dict[str, Any]] | None = None) -> Capture:
    msgs = [r for c in conns for r in c.rows]
    return Capture(conform(msgs, MESSAGES), conform([c.conn for c in conns], CONNECTIONS),
                   conform(certificates or [], CERTIFICATES))


def diagnosis(cap: Capture, causes: dict[int, str]) -> pd.DataFrame:
    rows = [{"conn_id": cid, "cause": cause, "summary": f"Synthetic summary for {cause}.",
             "established": cause == "ok"} for cid, cause in causes.items()]
    return conform(rows, DIAGNOSIS)
