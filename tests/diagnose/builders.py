"""Hand-built capture tables for rule tests: rows conforming to tlskit.schema, no capture file.

Each helper returns schema rows with realistic defaults (a client at 10.0.0.1 offering TLS 1.3
and 1.2 to api.example.com on 10.0.0.2:443); tests override only what a case is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tlskit.schema import CERTIFICATES, CONNECTIONS, MESSAGES, conform

T0 = pd.Timestamp("2024-03-01 12:00:00", tz="UTC")
NAMES = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
}
ALERTS = {0: "close_notify", 10: "unexpected_message", 51: "decrypt_error", 71: "insufficient_security",
          40: "handshake_failure", 42: "bad_certificate", 45: "certificate_expired",
          46: "certificate_unknown", 48: "unknown_ca", 70: "protocol_version", 112: "unrecognized_name",
          116: "certificate_required", 80: "internal_error"}


@dataclass
class FakeCapture:
    """The three tables a Capture carries (what tlskit.diagnose reads)."""

    connections: pd.DataFrame
    messages: pd.DataFrame
    certificates: pd.DataFrame


def connection(conn_id: int = 0, **kw: Any) -> dict[str, Any]:
    ciphers = kw.pop("offered_ciphers", [0x1301, 0x1302, 0xC02F, 0xC030, 0x00FF])
    row: dict[str, Any] = {
        "conn_id": conn_id,
        "first_frame": 1 + 10 * conn_id,
        "client_ip": "10.0.0.1",
        "client_port": 50000 + conn_id,
        "server_ip": "10.0.0.2",
        "server_port": 443,
        "start_time": T0,
        "end_time": T0 + pd.Timedelta(seconds=1),
        "client_hello_time": T0,
        "sni": "api.example.com",
        "client_legacy_version": 0x0303,
        "client_versions": [0x0304, 0x0303],
        "client_max_version": 0x0304,
        "offered_ciphers": ciphers,
        "offered_cipher_names": [NAMES[c] for c in ciphers],
        "established": False,
        "decrypted": False,
        "partial": False,
        "tcp_end": "fin",
        "tcp_end_by": "server",
    }
    row.update(kw)
    if "alert" in kw and kw["alert"] is not None:
        row.setdefault("alert_name", ALERTS[kw["alert"]])
    if "cipher_suite" in kw and kw["cipher_suite"] is not None:
        row.setdefault("cipher_suite_name", NAMES[kw["cipher_suite"]])
    if "version" in kw and kw["version"] is not None:
        row.setdefault("version_name", {0x0303: "TLSv1.2", 0x0304: "TLSv1.3", 0x0301: "TLSv1.0"}[kw["version"]])
    return row


def message(conn_id: int, seq: int, frame: int, direction: str, **kw: Any) -> dict[str, Any]:
    row = {"conn_id": conn_id, "seq": seq, "frame": frame, "time": T0 + pd.Timedelta(milliseconds=frame),
           "direction": direction, "record_version": 0x0303, "encrypted": False, "decrypted": False}
    row.update(kw)
    return row


def hello_flight(conn_id: int = 0, *, server_hello: bool = True, certificate: bool = True, start: int = 4) -> list[dict[str, Any]]:
    """ClientHello at frame ``start``, then ServerHello and Certificate at the next frames."""
    rows = [message(conn_id, 0, start, "c2s", content_type=22, handshake_type=1)]
    if server_hello:
        rows.append(message(conn_id, 1, start + 2, "s2c", content_type=22, handshake_type=2))
        if certificate:
            rows.append(message(conn_id, 2, start + 2, "s2c", content_type=22, handshake_type=11))
    return rows


def alert_message(conn_id: int, seq: int, frame: int, direction: str, code: int) -> dict[str, Any]:
    return message(conn_id, seq, frame, direction, content_type=21, alert_level=2 if code else 1,
                   alert_description=code)


def certificate(conn_id: int = 0, position: int = 0, *, side: str = "server", frame: int = 6, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "conn_id": conn_id,
        "side": side,
        "position": position,
        "frame": frame,
        "time": T0 + pd.Timedelta(milliseconds=frame),
        "subject": "CN=api.example.com",
        "issuer": "CN=Example Issuing CA,O=Example",
        "subject_cn": "api.example.com",
        "san_dns": ["api.example.com"],
        "san_ip": [],
        "not_before": pd.Timestamp("2024-01-01", tz="UTC"),
        "not_after": pd.Timestamp("2025-01-01", tz="UTC"),
        "sha256": f"{conn_id:02x}{position:02x}" + "0" * 60,
        "is_ca": False,
        "self_signed": False,
    }
    row.update(kw)
    return row


def capture(conns: Sequence[dict[str, Any]], messages: Sequence[dict[str, Any]] = (),
            certs: Sequence[dict[str, Any]] = ()) -> FakeCapture:
    return FakeCapture(conform(list(conns), CONNECTIONS), conform(list(messages), MESSAGES),
                       conform(list(certs), CERTIFICATES))
