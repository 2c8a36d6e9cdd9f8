"""What differs between a working and a failing handshake, and which clients fail.

Incidents come as "it worked yesterday" and "only some clients fail". `compare_connections`
sets two handshakes side by side and lists the differences that matter, most decisive first;
`group_connections` groups a capture's connections by client fingerprint and outcome.
Both read only the tables (tlskit.schema); nothing here re-reads a capture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tlskit import registry


@dataclass(frozen=True)
class Aspect:
    """One thing to compare, in order of how decisive a difference in it usually is."""

    name: str
    weight: int  # higher: more likely to decide a handshake's outcome
    side: str  # whose configuration it reflects: client, server, or both
    get: Callable[[pd.Series, pd.DataFrame], Any]
    show: Callable[[Any], str]


def _names(fn: Callable[[int], str]) -> Callable[[Any], str]:
    def show(values: Any) -> str:
        if values is None or (not isinstance(values, (list, tuple)) and pd.isna(values)):
            return "—"
        if isinstance(values, (list, tuple)):
            return ", ".join(fn(int(v)) for v in values) if values else "(none)"
        return fn(int(values))
    return show


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)


def _col(name: str) -> Callable[[pd.Series, pd.DataFrame], Any]:
    return lambda row, certs: row.get(name)


def _chain(side: str) -> Callable[[pd.Series, pd.DataFrame], Any]:
    def get(row: pd.Series, certs: pd.DataFrame) -> Any:
        chain = certs[(certs["conn_id"] == row["conn_id"]) & (certs["side"] == side)].sort_values("position")
        return [f"{r.subject_cn or r.subject} (SHA-256 {str(r.sha256)[:12]}…)" for r in chain.itertuples()]
    return get


def _leaf(side: str, column: str) -> Callable[[pd.Series, pd.DataFrame], Any]:
    def get(row: pd.Series, certs: pd.DataFrame) -> Any:
        chain = certs[(certs["conn_id"] == row["conn_id"]) & (certs["side"] == side) & (certs["position"] == 0)]
        if chain.empty:
            return None
        value = chain.iloc[0][column]
        return f"{value:%Y-%m-%d %H:%M} UTC" if isinstance(value, pd.Timestamp) else value
    return get


def _outcome(row: pd.Series, certs: pd.DataFrame) -> str:
    if bool(row.get("established")) is True:
        return "established"
    alert = row.get("alert_name")
    if isinstance(alert, str):
        return f"failed: {alert} from {row.get('alert_from')}"
    return f"failed: TCP {row.get('tcp_end')} by {row.get('tcp_end_by')}"


def _duration(row: pd.Series, certs: pd.DataFrame) -> Any:
    value = row.get("handshake_duration")
    return None if value is None or pd.isna(value) else f"{value.total_seconds() * 1000:.1f} ms"


ASPECTS: tuple[Aspect, ...] = (
    Aspect("outcome", 100, "both", _outcome, _text),
    Aspect("offered versions", 90, "client", lambda r, c: r.get("client_versions") or [r.get("client_legacy_version")], _names(registry.version_name)),
    Aspect("selected version", 88, "server", _col("version"), _names(registry.version_name)),
    Aspect("offered cipher suites", 85, "client", _col("offered_ciphers"), _names(registry.cipher_suite_name)),
    Aspect("selected cipher suite", 84, "server", _col("cipher_suite"), _names(registry.cipher_suite_name)),
    Aspect("SNI", 80, "client", _col("sni"), _text),
    Aspect("server certificate chain", 75, "server", _chain("server"), _text),
    Aspect("server certificate valid until", 74, "server", _leaf("server", "not_after"), _text),
    Aspect("server key", 72, "server", lambda r, c: _leaf("server", "key_type")(r, c) and
           f"{_leaf('server', 'key_type')(r, c)} {_leaf('server', 'key_size')(r, c)}", _text),
    Aspect("certificate requested", 70, "server", _col("certificate_requested"), _text),
    Aspect("client certificate sent", 69, "client", _col("client_certificate_sent"), _text),
    Aspect("client certificate chain", 68, "client", _chain("client"), _text),
    Aspect("offered groups", 60, "client", _col("offered_groups"), _names(registry.group_name)),
    Aspect("key shares", 58, "client", _col("offered_key_shares"), _names(registry.group_name)),
    Aspect("signature algorithms", 55, "client", _col("offered_sig_algs"), _names(registry.signature_scheme_name)),
    Aspect("ALPN offered", 50, "client", _col("alpn_offered"), _text),
    Aspect("ALPN selected", 49, "server", _col("alpn_selected"), _text),
    Aspect("HelloRetryRequest", 45, "server", _col("hello_retry_request"), _text),
    Aspect("resumed", 44, "both", _col("resumed"), _text),
    Aspect("client extensions", 40, "client", _col("offered_extensions"), _names(registry.extension_name)),
    Aspect("server extensions", 39, "server", _col("server_extensions"), _names(registry.extension_name)),
    Aspect("JA4", 30, "client", _col("ja4"), _text),
    Aspect("JA3", 29, "client", _col("ja3"), _text),
    Aspect("JA3S", 28, "server", _col("ja3s"), _text),
    Aspect("handshake duration", 10, "both", _duration, _text),
)


def _row(source: Any, conn_id: int | None) -> tuple[pd.Series, pd.DataFrame]:
    connections = source.connections
    certs = source.certificates
    if conn_id is None:
        if len(connections) != 1:
            raise ValueError(f"the capture has {len(connections)} connections: say which (conn_id)")
        return connections.iloc[0], certs
    match = connections[connections["conn_id"] == conn_id]
    if match.empty:
        raise ValueError(f"no connection {conn_id} in the capture")
    return match.iloc[0], certs


def compare_connections(a: Any, b: Any, *, a_conn: int | None = None, b_conn: int | None = None,
                        all_aspects: bool = False) -> pd.DataFrame:
    """Set two handshakes side by side and list what differs, most decisive first.

    Parameters
    ----------
    a, b : Captures (or anything with ``connections`` and ``certificates`` frames); they may be
        the same capture.
    a_conn, b_conn : connection ids in ``a`` and ``b`` (optional when a capture has one).
    all_aspects : also list the aspects that are equal.

    Returns
    -------
    DataFrame with columns ``aspect``, ``a``, ``b``, ``differs`` (bool), ``side`` (whose
    configuration the aspect reflects), ``weight``; differing aspects first, by weight.
    """
    row_a, certs_a = _row(a, a_conn)
    row_b, certs_b = _row(b, b_conn)
    rows = []
    for aspect in ASPECTS:
        va, vb = aspect.show(aspect.get(row_a, certs_a)), aspect.show(aspect.get(row_b, certs_b))
        if va != vb or all_aspects:
            rows.append({"aspect": aspect.name, "a": va, "b": vb, "differs": va != vb,
                         "side": aspect.side, "weight": aspect.weight})
    frame = pd.DataFrame(rows, columns=["aspect", "a", "b", "differs", "side", "weight"])
    return frame.sort_values(["differs", "weight"], ascending=[False, False], kind="stable").reset_index(drop=True)


def group_connections(capture: Any, *, by: str = "ja4", diagnosis: pd.DataFrame | None = None) -> pd.DataFrame:
    """Group a capture's connections by client fingerprint and outcome.

    Parameters
    ----------
    capture : a Capture (or anything with a ``connections`` frame).
    by : the fingerprint column (``ja4``, ``ja3``) or any connections column (``sni``, ``client_ip``).
    diagnosis : a tlskit.diagnose frame; when given, outcomes are its causes.

    Returns
    -------
    DataFrame with one row per fingerprint: ``fingerprint``, ``connections``, ``ok``, ``failed``,
    ``outcomes`` (dict outcome -> count), ``example_conn`` and ``finding`` (one sentence when a
    fingerprint only fails or only succeeds while others differ).
    """
    conns = capture.connections
    if by not in conns.columns:
        raise ValueError(f"no column {by!r} in connections")
    if diagnosis is not None:
        outcome = conns["conn_id"].map(dict(zip(diagnosis["conn_id"], diagnosis["cause"].astype(str), strict=False)))
    else:
        outcome = conns["established"].map({True: "ok", False: "failed"}).fillna("failed")
    frame = pd.DataFrame({"fingerprint": conns[by].astype("string").fillna("(none)"), "outcome": outcome,
                          "conn_id": conns["conn_id"]})
    rows = []
    for fp, group in frame.groupby("fingerprint", sort=False):
        counts = group["outcome"].value_counts().to_dict()
        ok = int(counts.get("ok", 0) + counts.get("established", 0))
        rows.append({"fingerprint": fp, "connections": len(group), "ok": ok, "failed": len(group) - ok,
                     "outcomes": counts, "example_conn": int(group["conn_id"].iloc[0])})
    out = pd.DataFrame(rows, columns=["fingerprint", "connections", "ok", "failed", "outcomes", "example_conn"])
    mixed = len(out) > 1 and (out["failed"] > 0).any() and (out["ok"] > 0).any()
    out["finding"] = [
        (f"all {r.connections} connections from {by} {r.fingerprint} fail" if r.ok == 0 else
         f"all {r.connections} connections from {by} {r.fingerprint} succeed" if r.failed == 0 else
         f"{r.failed} of {r.connections} fail") if mixed else ""
        for r in out.itertuples()
    ]
    return out.sort_values(["failed", "connections"], ascending=False, kind="stable").reset_index(drop=True)
