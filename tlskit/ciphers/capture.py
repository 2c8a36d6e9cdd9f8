"""What servers actually chose, read from a capture's ``connections`` table.

A ServerHello proves the server accepts that version and suite; it says nothing about what
else the server would accept. The result is therefore a lower bound (see ``caveats``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tlskit import registry
from tlskit.ciphers._config import ServerConfig

_UNRECOGNIZED_NAME = 112
_HANDSHAKE_FAILURE = 40


def _connections(capture: Any) -> pd.DataFrame:
    conns = getattr(capture, "connections", capture)
    if not isinstance(conns, pd.DataFrame):
        raise TypeError("expected a Capture or its connections DataFrame")
    return conns


def read_capture(capture: Any, *, server: str | None = None, conn_id: int | None = None) -> ServerConfig:
    """A ServerConfig from the ServerHellos in a capture.

    Parameters
    ----------
    capture : a :class:`tlskit.capture.Capture` or its ``connections`` frame.
    server : keep connections to this server: ``"10.0.0.5"``, ``"10.0.0.5:443"`` or an SNI name.
    conn_id : keep connections to the server of this connection.
    """
    conns = _connections(capture)
    origin = str(getattr(capture, "path", "") or "connections")
    if conn_id is not None:
        row = conns.loc[conns["conn_id"] == conn_id]
        if row.empty:
            raise KeyError(f"no connection {conn_id} in {origin}")
        ip, port = row["server_ip"].iloc[0], row["server_port"].iloc[0]
        conns = conns.loc[(conns["server_ip"] == ip) & (conns["server_port"] == port)]
        origin += f" server {ip}:{port}"
    elif server:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        mask = (conns["server_ip"] == host) | (conns["sni"] == host)
        if port:
            mask &= conns["server_port"] == int(port)
        conns = conns.loc[mask.fillna(False)]
        origin += f" server {server}"
    hellos = conns.loc[conns["cipher_suite"].notna()]
    versions = frozenset(int(v) for v in hellos["version"].dropna())
    t12: list[int] = []
    t13: list[int] = []
    for code in hellos["cipher_suite"]:
        c = int(code)
        target = t13 if registry.cipher_suite(c).tls13 else t12
        if c not in target:
            target.append(c)
    no_sni = conns.loc[conns["sni"].isna()]
    sni_required: bool | None = None
    if not no_sni.empty:
        if no_sni["established"].fillna(False).any():
            sni_required = False
        elif (no_sni["alert_from"].astype(object) == "server").any() and no_sni["alert"].isin(
                [_UNRECOGNIZED_NAME, _HANDSHAKE_FAILURE]).any() and conns["sni"].notna().any():
            sni_required = True
    names = sorted({str(s) for s in hellos["sni"].dropna()})
    caveats = [f"from {len(hellos)} ServerHello(s) of {len(conns)} connection(s): only what the server chose; "
               "it may accept more (run an active probe to enumerate)"]
    return ServerConfig(versions=versions, cipher_suites=t12, tls13_suites=t13, sni_required=sni_required,
                        server_names=names, source="capture", origin=origin, caveats=caveats)


def offered_by(row: Any) -> tuple[list[int], frozenset[int]]:
    """(offered suite codes, offered versions) of one connections-table row (Series or dict).

    Versions come from supported_versions when the client sent it; otherwise only the
    ClientHello's legacy version is known to be offered (the client's minimum is not on the
    wire, and a TLS 1.2-only client refuses a TLS 1.1 ServerHello).
    """
    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    suites = [int(c) for c in (get("offered_ciphers", None) or []) if not registry.is_grease(int(c))]
    listed = [int(v) for v in (get("client_versions", None) or []) if not registry.is_grease(int(v))]
    if listed:
        return suites, frozenset(listed)
    top = get("client_max_version", None)
    if top is None or pd.isna(top):
        top = get("client_legacy_version", None)
    if top is None or pd.isna(top):
        return suites, frozenset()
    return suites, frozenset({int(top)})


__all__ = ["offered_by", "read_capture"]
