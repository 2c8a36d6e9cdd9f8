"""Column names, dtypes and meanings of every table tlskit produces: the one place they live.

Engines (tshark, native) fill ``MESSAGES``, ``CONNECTIONS`` and ``CERTIFICATES``; diagnosis
adds ``DIAGNOSIS``. Raw protocol codes are kept as integers and a ``*_name`` column carries
the IANA name from :mod:`tlskit.registry`. Times are tz-aware UTC; durations are
``timedelta64[ns]``. Lists (offered suites, SANs) are Python lists in ``object`` columns;
rows with equal lists may share one list object (every connection of a client program offers
the same suites), so treat cells as read-only and copy before changing one.

``conform(frame, TABLE)`` coerces a frame to the declared columns, order and dtypes, so
nothing downstream depends on which engine ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

UTC_TIME = "datetime64[ns, UTC]"
DURATION = "timedelta64[ns]"
LIST = "object"  # a Python list per cell (never NaN: an empty list when nothing was seen)
BYTES = "object"  # bytes per cell, or None

DIRECTIONS = ["c2s", "s2c"]  # client→server, server→client
SIDES = ["client", "server"]
TCP_ENDS = ["fin", "rst", "open"]  # open: no FIN/RST seen before the capture ended


@dataclass(frozen=True)
class Column:
    name: str
    dtype: Any  # a pandas dtype string or CategoricalDtype
    meaning: str


@dataclass(frozen=True)
class Table:
    name: str
    meaning: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, Any]:
        return {c.name: c.dtype for c in self.columns}

    def describe(self) -> pd.DataFrame:
        """The schema as a frame (column, dtype, meaning), for docs and notebooks."""
        return pd.DataFrame(
            [(c.name, str(c.dtype), c.meaning) for c in self.columns],
            columns=["column", "dtype", "meaning"],
        )


def _cat(values: list[str]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(values, ordered=False)


MESSAGES = Table(
    "messages",
    "One row per TLS handshake message, ChangeCipherSpec and alert, and per encrypted record "
    "seen before the handshake completed (application data after completion is not listed). "
    "Ordered by connection, then by the order the bytes arrived.",
    (
        Column("conn_id", "UInt32", "Connection id (row of `connections`)."),
        Column("seq", "UInt32", "Position of this message within its connection, from 0."),
        Column("frame", "UInt32", "Frame number (1-based) holding the message's last byte."),
        Column("time", UTC_TIME, "Capture timestamp of that frame."),
        Column("direction", _cat(DIRECTIONS), "c2s: client→server; s2c: server→client."),
        Column("record_version", "UInt16", "Record-layer version field (e.g. 0x0303)."),
        Column("content_type", "UInt8", "Record content type: 20 CCS, 21 alert, 22 handshake, 23 application data (as seen on the wire or after decryption)."),
        Column("content_type_name", "string", "IANA name of content_type."),
        Column("handshake_type", "UInt8", "Handshake message type (1 ClientHello, 2 ServerHello, 11 Certificate, ...); <NA> for non-handshake rows and opaque records."),
        Column("handshake_type_name", "string", "IANA name of handshake_type (hello_retry_request for an HRR)."),
        Column("alert_level", "UInt8", "Alert level (1 warning, 2 fatal); <NA> when not an alert or still encrypted."),
        Column("alert_level_name", "string", "warning / fatal."),
        Column("alert_description", "UInt8", "Alert description code."),
        Column("alert_description_name", "string", "IANA name of the alert (handshake_failure, ...)."),
        Column("encrypted", "boolean", "The record was encrypted on the wire."),
        Column("decrypted", "boolean", "Its content was recovered with a key log."),
        Column("length", "UInt32", "Handshake message body length for handshake rows; record length otherwise."),
    ),
)

CONNECTIONS = Table(
    "connections",
    "One row per TCP connection that carried TLS, in order of its first packet.",
    (
        Column("conn_id", "UInt32", "Connection id, 0.. in order of the first packet."),
        Column("first_frame", "UInt32", "First frame of the TCP connection in the capture."),
        Column("client_ip", "string", "Client address (the side that sent SYN, else ClientHello)."),
        Column("client_port", "UInt16", "Client TCP port."),
        Column("server_ip", "string", "Server address."),
        Column("server_port", "UInt16", "Server TCP port."),
        Column("start_time", UTC_TIME, "Time of the first packet of the connection."),
        Column("end_time", UTC_TIME, "Time of the last packet of the connection."),
        Column("tcp_syn_time", UTC_TIME, "Client SYN (NaT if the capture started mid-connection)."),
        Column("tcp_synack_time", UTC_TIME, "Server SYN-ACK."),
        Column("client_hello_time", UTC_TIME, "ClientHello completed."),
        Column("server_hello_time", UTC_TIME, "ServerHello (or HelloRetryRequest) completed."),
        Column("server_flight_end_time", UTC_TIME, "Last server handshake record before the client's second flight (ServerHelloDone, or the last encrypted server record in TLS 1.3)."),
        Column("handshake_end_time", UTC_TIME, "Handshake completed (last Finished); NaT if not established."),
        Column("first_app_data_time", UTC_TIME, "First application-data record after completion."),
        Column("handshake_duration", DURATION, "ClientHello to handshake completion."),
        Column("starttls", "string", "Protocol upgraded with STARTTLS (smtp, imap, ftp, xmpp, pop3, ...), else <NA>."),
        Column("sni", "string", "server_name from the ClientHello, <NA> when not sent."),
        Column("alpn_offered", LIST, "ALPN protocols offered by the client."),
        Column("alpn_selected", "string", "ALPN protocol the server selected."),
        Column("client_legacy_version", "UInt16", "ClientHello.legacy_version (client_version)."),
        Column("client_versions", LIST, "supported_versions offered (codes, GREASE dropped); empty when the extension is absent."),
        Column("client_max_version", "UInt16", "Highest version the client offered (supported_versions, else legacy_version)."),
        Column("offered_ciphers", LIST, "Cipher suite codes offered, in order, GREASE dropped."),
        Column("offered_cipher_names", LIST, "IANA names of offered_ciphers."),
        Column("offered_grease", "UInt8", "GREASE values dropped from the cipher suite list."),
        Column("offered_extensions", LIST, "Extension types in ClientHello order, GREASE dropped."),
        Column("offered_groups", LIST, "supported_groups codes, GREASE dropped."),
        Column("offered_sig_algs", LIST, "signature_algorithms codes, GREASE dropped."),
        Column("offered_key_shares", LIST, "key_share groups, GREASE dropped."),
        Column("version", "UInt16", "Negotiated version (TLS 1.3 from supported_versions, not 0x0303); <NA> without ServerHello."),
        Column("version_name", "string", "Readable negotiated version (TLSv1.2, TLSv1.3, SSLv3, ...)."),
        Column("cipher_suite", "UInt16", "Cipher suite selected by the server."),
        Column("cipher_suite_name", "string", "IANA name of cipher_suite."),
        Column("server_extensions", LIST, "Extension types in ServerHello order."),
        Column("hello_retry_request", "boolean", "The server answered with a HelloRetryRequest."),
        Column("resumed", "boolean", "Abbreviated handshake (session id or ticket in TLS 1.2, accepted PSK in TLS 1.3)."),
        Column("certificate_requested", "boolean", "The server sent CertificateRequest (mutual TLS); <NA> when hidden by encryption."),
        Column("client_certificate_sent", "boolean", "True: the client sent a non-empty Certificate; False: an empty one or none when asked; <NA>: not asked or not visible."),
        Column("server_certificate_visible", "boolean", "The server's Certificate message was read (cleartext or decrypted)."),
        Column("alert", "UInt8", "First fatal alert description code (<NA> when none was seen in clear)."),
        Column("alert_name", "string", "IANA name of alert."),
        Column("alert_from", _cat(SIDES), "Which side sent that alert."),
        Column("alert_frame", "UInt32", "Frame of that alert."),
        Column("last_alert", "UInt8", "Last alert of any level seen (Zeek's last_alert)."),
        Column("last_alert_name", "string", "IANA name of last_alert."),
        Column("encrypted_alert_from", _cat(SIDES), "A side that sent an alert-sized encrypted record and closed (TLS 1.3 without keys)."),
        Column("tcp_end", _cat(TCP_ENDS), "How TCP ended: fin, rst, or open (capture ended first)."),
        Column("tcp_end_by", _cat(SIDES), "Which side sent the first FIN or RST."),
        Column("retransmissions", "UInt32", "TCP segments retransmitted (their bytes are counted once)."),
        Column("established", "boolean", "Both Finished messages exchanged (handshake completed)."),
        Column("decrypted", "boolean", "A key log (file or embedded) decrypted this handshake."),
        Column("partial", "boolean", "The capture misses the connection's start or its TLS handshake is cut off."),
        Column("ja3", "string", "JA3 (MD5 of ja3_string)."),
        Column("ja3_string", "string", "JA3 full string."),
        Column("ja3s", "string", "JA3S (MD5 of ja3s_string)."),
        Column("ja3s_string", "string", "JA3S full string."),
        Column("ja4", "string", "JA4 fingerprint of the ClientHello (FoxIO, BSD-3)."),
        Column("notes", LIST, "Per-connection parsing remarks (mid-stream start, garbled record at frame N, ...)."),
    ),
)

CERTIFICATES = Table(
    "certificates",
    "One row per certificate per chain, as sent (server chain and client chain).",
    (
        Column("conn_id", "UInt32", "Connection id."),
        Column("side", _cat(SIDES), "Who sent the chain."),
        Column("position", "UInt8", "Position in the chain as sent: 0 is the leaf."),
        Column("frame", "UInt32", "Frame of the Certificate message."),
        Column("time", UTC_TIME, "Time of that frame (the moment validity is judged at)."),
        Column("subject", "string", "Subject DN (RFC 4514)."),
        Column("issuer", "string", "Issuer DN (RFC 4514)."),
        Column("subject_cn", "string", "Subject common name."),
        Column("san_dns", LIST, "subjectAltName DNS names."),
        Column("san_ip", LIST, "subjectAltName IP addresses."),
        Column("serial", "string", "Serial number, lowercase hex."),
        Column("not_before", UTC_TIME, "Validity start."),
        Column("not_after", UTC_TIME, "Validity end."),
        Column("sha256", "string", "SHA-256 fingerprint of the DER, lowercase hex."),
        Column("key_type", "string", "RSA, EC, Ed25519, Ed448, DSA, ..."),
        Column("key_size", "UInt16", "Key size in bits."),
        Column("signature_algorithm", "string", "Signature algorithm (e.g. sha256WithRSAEncryption)."),
        Column("is_ca", "boolean", "basicConstraints CA flag."),
        Column("self_signed", "boolean", "Subject equals issuer and the signature verifies with its own key."),
        Column("der", BYTES, "The certificate, DER bytes."),
        Column("parse_error", "string", "Why the DER could not be parsed, else <NA>."),
    ),
)

CAUSES = [
    "ok",
    "protocol_mismatch",
    "cipher_mismatch",
    "hostname_mismatch",
    "incomplete_chain",
    "unknown_ca",
    "expired_certificate",
    "sni_missing",
    "sni_unrecognized",
    "client_certificate",
    "connection_reset",
    "undetermined",
]

DIAGNOSIS = Table(
    "diagnosis",
    "One row per TLS connection: the cause of its outcome, the evidence and the fix.",
    (
        Column("conn_id", "UInt32", "Connection id."),
        Column("client", "string", "Client address."),
        Column("client_port", "UInt16", "Client port."),
        Column("server", "string", "Server address."),
        Column("server_port", "UInt16", "Server port."),
        Column("sni", "string", "server_name sent, <NA> if none."),
        Column("version", "string", "Negotiated version name, <NA> if none."),
        Column("cipher", "string", "Selected cipher suite name, <NA> if none."),
        Column("established", "boolean", "Handshake completed."),
        Column("alert", "string", "First fatal alert (IANA name), <NA> if none."),
        Column("alert_from", _cat(SIDES), "Side that sent it."),
        Column("cause", _cat(CAUSES), "Why the handshake ended as it did (fixed vocabulary)."),
        Column("confidence", "Float64", "0..1: how firmly the evidence decides the cause (the rule's confidence, lowered when its evidence is indirect)."),
        Column("rule", "string", "Id of the rule that decided (see tlskit.diagnose.RULES and rules_table())."),
        Column("fault", _cat(SIDES), "Side whose configuration should change; <NA> when none is at fault (ok) or the capture cannot tell."),
        Column("summary", "string", "One sentence."),
        Column("remediation", "string", "What to change and on which side."),
        Column("evidence", LIST, "Facts that decided it, each naming frames."),
        Column("hop", _cat(["inbound", "outbound", "other"]), "inbound: client app → router; outbound: message processor → backend (from roles=, else inferred)."),
        Column("fix_on", "string", "The party whose settings to change (client application, router, message processor, backend)."),
        Column("hop_inferred", "boolean", "The hop was inferred from the capture, not from given roles."),
    ),
)

TABLES = {t.name: t for t in (MESSAGES, CONNECTIONS, CERTIFICATES, DIAGNOSIS)}


def empty(table: Table) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in table.columns})


def conform(frame: pd.DataFrame | list[dict[str, Any]], table: Table) -> pd.DataFrame:
    """Return a new frame with exactly the table's columns, in order, with declared dtypes.

    Missing columns are filled with <NA> (empty lists for list columns); extra columns are an
    error, so a typo in an engine cannot silently add a column.
    """
    df = pd.DataFrame(frame) if not isinstance(frame, pd.DataFrame) else frame.copy()
    extra = set(df.columns) - set(table.names)
    if extra:
        raise ValueError(f"{table.name}: columns not in the schema: {sorted(extra)}")
    if df.empty and len(df.columns) == 0:
        return empty(table)
    out = {}
    n = len(df)
    for c in table.columns:
        if c.name in df.columns:
            col = df[c.name]
        elif c.dtype == LIST and c.name not in ("der",):
            col = pd.Series([[] for _ in range(n)], index=df.index, dtype=object)
        else:
            col = pd.Series([None] * n, index=df.index, dtype=object)
        out[c.name] = _coerce(col, c)
    return pd.DataFrame(out, index=pd.RangeIndex(n)) if n else empty(table)


def check(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Return `frame` itself after checking it has exactly the table's columns, in order, with
    the declared dtypes (for engines that build typed columns; :func:`conform` converts).

    Raises
    ------
    ValueError
        A column is missing, extra, out of order or of another dtype.
    """
    if len(frame) == 0:
        return empty(table)
    if list(frame.columns) != table.names:
        raise ValueError(f"{table.name}: columns {list(frame.columns)} are not the schema's {table.names}")
    wrong = [f"{c.name} ({frame[c.name].dtype}, not {c.dtype})" for c in table.columns
             if not _same_dtype(frame[c.name].dtype, c.dtype)]
    if wrong:
        raise ValueError(f"{table.name}: wrong dtypes: {', '.join(wrong)}")
    return frame


_INTS = {"UInt8": np.uint8, "UInt16": np.uint16, "UInt32": np.uint32, "Int64": np.int64}


def typed(values: list[Any], dtype: Any) -> Any:
    """Python values of one column (None where missing) as a pandas array of `dtype`.

    The fast way for engines that collect rows as Python lists: ints, bools, epoch-second
    floats (for UTC_TIME), strings and category labels are converted in one pass each, without
    boxing every value through pandas' object machinery. Lists are kept as they are (cells
    with equal lists may share one list: treat cells as read-only). Anything else (or values
    of an unexpected type) goes the general way, through :func:`conform`.
    """
    n = len(values)
    try:
        if isinstance(dtype, str) and dtype in _INTS:
            v = np.fromiter((-1 if x is None else x for x in values), dtype=np.int64, count=n)
            return int_array(v, dtype)
        if dtype == "boolean":
            mask = np.fromiter((x is None for x in values), dtype=bool, count=n)
            data = np.fromiter((bool(x) for x in values), dtype=bool, count=n)
            return pd.arrays.BooleanArray(data, mask)
        if dtype == UTC_TIME:
            return utc_array(np.fromiter((np.nan if x is None else x for x in values), dtype=np.float64, count=n))
        if dtype == "string":  # each distinct string converted once (names, fingerprints repeat)
            objects = np.empty(n, dtype=object)
            objects[:] = values
            codes, distinct = pd.factorize(objects)
            return pd.array(distinct, dtype="string").take(codes, allow_fill=True)
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.Categorical(values, dtype=dtype)
        if dtype == LIST:
            out = np.empty(n, dtype=object)
            out[:] = [x if type(x) is list else [] if x is None else list(x) for x in values]
            return out
    except (TypeError, ValueError, OverflowError):
        pass
    return _coerce(pd.Series(values, dtype=object), Column("", dtype, ""))


def int_array(values: np.ndarray, dtype: str) -> Any:
    """Integers (negative = missing) as a nullable integer array of `dtype`."""
    mask = values < 0
    return pd.arrays.IntegerArray(np.where(mask, 0, values).astype(_INTS[dtype]), mask)


def utc_array(seconds: np.ndarray) -> Any:
    """Epoch seconds (NaN = missing) as UTC_TIME, rounded to the microsecond (float precision);
    values beyond datetime64[ns] (a damaged timestamp) become NaT."""
    bad = ~(np.abs(seconds) < 9.2e9)
    us = np.round(np.where(bad, 0.0, seconds) * 1e6).astype(np.int64)
    ns = (us * 1000).view("datetime64[ns]")
    ns[bad] = np.datetime64("NaT")
    return pd.DatetimeIndex(ns).tz_localize("UTC").array


def _same_dtype(have: Any, want: Any) -> bool:
    """Exactly the declared dtype: "string" is the NA-valued one (pandas also calls its
    NaN-valued "str" dtype equal to the name "string"), categories in the declared order
    (unordered categoricals compare equal whatever the order)."""
    want = pd.api.types.pandas_dtype(want)
    if isinstance(want, pd.CategoricalDtype):
        return isinstance(have, pd.CategoricalDtype) and list(have.categories) == list(want.categories)
    return bool(have == want)


def _coerce(col: pd.Series, c: Column) -> pd.Series:
    col = col.reset_index(drop=True)
    if c.dtype != "object" and _same_dtype(col.dtype, c.dtype):
        return col  # already right (an engine that builds typed columns)
    # integer -> nullable integer, bool -> boolean: cast directly; the general path below boxes
    # every value as a Python object (slow, and a large transient copy for big tables)
    if (isinstance(c.dtype, str) and c.dtype[:3] in ("UIn", "Int") and pd.api.types.is_integer_dtype(col.dtype)) or (
        c.dtype == "boolean" and pd.api.types.is_bool_dtype(col.dtype)
    ):
        return col.astype(c.dtype)
    if c.dtype == UTC_TIME:
        return pd.to_datetime(col, utc=True).astype(UTC_TIME)
    if c.dtype == DURATION:
        # all-NaT records arrive as datetime64 NaT, which to_timedelta refuses: pass them as None
        return pd.to_timedelta(col.astype(object).where(col.notna(), None)).astype(DURATION)
    if c.dtype == "object":
        if c.name == "der":
            return col.astype(object)
        # lists stay the objects they are (equal lists may be shared; cells are read-only)
        return col.map(lambda v: v if type(v) is list else list(v) if isinstance(v, (list, tuple)) else [])
    if isinstance(c.dtype, pd.CategoricalDtype):
        return col.astype(object).where(col.notna(), None).astype(c.dtype)
    if c.dtype == "boolean":
        return col.astype(object).where(col.notna(), None).astype("boolean")
    if c.dtype == "string":
        return col.astype(object).where(col.notna(), None).astype("string")
    return col.astype(object).where(col.notna(), None).astype(c.dtype)


__all__ = [
    "CAUSES",
    "CERTIFICATES",
    "CONNECTIONS",
    "DIAGNOSIS",
    "DIRECTIONS",
    "MESSAGES",
    "SIDES",
    "TABLES",
    "TCP_ENDS",
    "Column",
    "Table",
    "check",
    "conform",
    "empty",
    "int_array",
    "typed",
    "utc_array",
]
