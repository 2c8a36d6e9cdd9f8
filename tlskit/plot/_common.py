"""What the figures share: reading the tables off a capture, cause colours, readable names.

Figures only read the ``messages`` / ``connections`` (/ ``certificates``) tables and an
optional diagnosis frame; they never re-read the capture file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd

from tlskit.errors import TlskitError
from tlskit.schema import CAUSES


class CaptureTables(Protocol):
    """What a figure needs from a capture: the tables of :mod:`tlskit.schema`."""

    messages: pd.DataFrame
    connections: pd.DataFrame


# One colour per cause, fixed so the same cause looks the same in every figure. "ok" is green,
# causes a client-side config change fixes are warm, server-side ones cool; undetermined is grey.
CAUSE_COLORS: dict[str, str] = {
    "ok": "#2e7d32",
    "protocol_mismatch": "#6a1b9a",
    "cipher_mismatch": "#ad1457",
    "hostname_mismatch": "#ef6c00",
    "incomplete_chain": "#1565c0",
    "unknown_ca": "#00838f",
    "expired_certificate": "#8d6e63",
    "sni_missing": "#f9a825",
    "sni_unrecognized": "#9e9d24",
    "client_certificate": "#4527a0",
    "connection_reset": "#c62828",
    "undetermined": "#757575",
}
assert set(CAUSE_COLORS) == set(CAUSES)  # a new cause in the schema needs a colour here

CAUSE_LABELS: dict[str, str] = {
    "ok": "handshake OK",
    "protocol_mismatch": "protocol version mismatch",
    "cipher_mismatch": "no shared cipher suite",
    "hostname_mismatch": "certificate does not match the host name",
    "incomplete_chain": "incomplete certificate chain",
    "unknown_ca": "certificate from an untrusted CA",
    "expired_certificate": "expired certificate",
    "sni_missing": "SNI missing",
    "sni_unrecognized": "SNI not recognised by the server",
    "client_certificate": "client certificate missing or rejected",
    "connection_reset": "connection reset",
    "undetermined": "cause undetermined",
}


def cause_label(cause: str) -> str:
    return CAUSE_LABELS.get(cause, cause.replace("_", " "))


ALERT_RED = "#d32f2f"
WARNING_ORANGE = "#f57c00"
ENCRYPTED_GREY = "#616161"
CLIENT_BLUE = "#1f4e79"
SERVER_BROWN = "#5d4037"


def tables(capture: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(messages, connections)`` of ``capture``, or raise a TlskitError saying what is wrong."""
    messages = getattr(capture, "messages", None)
    connections = getattr(capture, "connections", None)
    if not isinstance(messages, pd.DataFrame) or not isinstance(connections, pd.DataFrame):
        raise TlskitError(
            f"expected a capture with .messages and .connections tables, got {type(capture).__name__}",
            fix="pass the object tlskit.load(path) returns",
        )
    return messages, connections


def certificates(capture: Any) -> pd.DataFrame | None:
    certs = getattr(capture, "certificates", None)
    return certs if isinstance(certs, pd.DataFrame) else None


def connection_row(connections: pd.DataFrame, conn_id: int) -> pd.Series:
    rows = connections[connections["conn_id"] == conn_id]
    if rows.empty:
        known = connections["conn_id"].tolist()
        shown = ", ".join(str(c) for c in known[:10]) + (" ..." if len(known) > 10 else "")
        raise TlskitError(
            f"no connection with conn_id {conn_id} in this capture",
            fix=f"choose one of: {shown or 'none (the capture holds no TLS connection)'}",
        )
    return rows.iloc[0]


def diagnosis_by_conn(diagnosis: pd.DataFrame | None) -> dict[int, Mapping[str, Any]]:
    """Diagnosis rows keyed by conn_id (empty when no diagnosis was given)."""
    if diagnosis is None or diagnosis.empty:
        return {}
    return {int(r["conn_id"]): r for _, r in diagnosis.iterrows()}


def causes(connections: pd.DataFrame, diagnosis: pd.DataFrame | None) -> pd.Series:
    """Cause per connection (index aligned with ``connections``).

    From the diagnosis when given; otherwise only what the tables prove: ``ok`` for an
    established handshake, ``connection_reset`` for a reset without any alert (clear or
    encrypted), else
    ``undetermined`` (naming a cause is the diagnosis' job, not the plot's).
    """
    by_conn = diagnosis_by_conn(diagnosis)
    out = []
    for _, c in connections.iterrows():
        d = by_conn.get(int(c["conn_id"]))
        if d is not None and not _na(d["cause"]):
            out.append(str(d["cause"]))
        elif _true(c["established"]):
            out.append("ok")
        elif c["tcp_end"] == "rst" and _na(c["alert"]) and _na(c["encrypted_alert_from"]):
            out.append("connection_reset")
        else:
            out.append("undetermined")
    return pd.Series(out, index=connections.index, dtype="string")


def alert_times_of(capture: Any, conns: pd.DataFrame) -> dict[int, pd.Timestamp]:
    """Time of each connection's first fatal alert (its ``alert_frame`` looked up in ``messages``)."""
    messages = capture.messages
    out: dict[int, pd.Timestamp] = {}
    with_alert = conns[conns["alert_frame"].notna()]
    if with_alert.empty or messages.empty:
        return out
    keyed = messages.drop_duplicates(["conn_id", "frame"]).set_index(["conn_id", "frame"])["time"]
    for _, c in with_alert.iterrows():
        key = (c["conn_id"], c["alert_frame"])
        if key in keyed.index:
            out[int(c["conn_id"])] = keyed.loc[key]
    return out


def _na(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _true(value: Any) -> bool:
    return not _na(value) and bool(value)


def short_version(name: Any) -> str:
    """``TLSv1.3`` -> ``TLS1.3`` (labels are short; SSLv3 stays SSLv3)."""
    if _na(name):
        return "?"
    return str(name).replace("TLSv", "TLS")


_AEAD = re.compile(r"-(GCM|CCM|CCM-8|POLY1305)-SHA\d+$")


def short_cipher(name: Any, code: Any = None) -> str:
    """A compact cipher suite name in OpenSSL's spirit.

    ``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`` -> ``ECDHE-RSA-AES128-GCM``;
    ``TLS_AES_128_GCM_SHA256`` -> ``AES128-GCM``. Unknown suites show their hex code.
    """
    if _na(name) or str(name).startswith("unknown("):
        return f"0x{int(code):04X}" if not _na(code) else "?"
    s = str(name).removeprefix("TLS_").removeprefix("SSL_").replace("_WITH_", "_")
    s = re.sub(r"(AES|CAMELLIA|ARIA)_(\d{3})", r"\1\2", s)
    s = s.replace("CHACHA20_POLY1305", "CHACHA20-POLY1305").replace("_", "-")
    return _AEAD.sub(r"-\1", s)


def camel(name: Any) -> str:
    """``server_key_exchange`` -> ``ServerKeyExchange``."""
    if _na(name):
        return "?"
    return "".join(part[:1].upper() + part[1:] for part in str(name).split("_"))


def fmt_duration(seconds: float) -> str:
    """Human scale: ``850 µs``, ``12.3 ms``, ``1.20 s``, ``2 min 5 s``."""
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s == 0:
        return "0 ms"
    if s < 1e-3:
        return f"{sign}{s * 1e6:.0f} µs"
    if s < 1:
        return f"{sign}{s * 1e3:.1f} ms"
    if s < 120:
        return f"{sign}{s:.2f} s"
    return f"{sign}{int(s // 60)} min {int(s % 60)} s"


def endpoint(ip: Any, port: Any) -> str:
    if _na(ip):
        return "?"
    ip = str(ip)
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port}" if not _na(port) else host


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
