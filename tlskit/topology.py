"""Which hop is it? Label connections inbound (client app → router) or outbound (message
processor → backend), the guide's first step, and name the party whose settings to change.

With roles (addresses or CIDR blocks of the router, message processors and backends, given as
a dict or a small JSON/TOML topology file) the labels are exact. Without roles, `label_hops`
infers what a capture can show — an address that accepts TLS connections and also opens them
is a proxy in the middle (router or message processor) — and says that it inferred.

Topology file (TOML or JSON, same keys)::

    router = ["10.30.0.10"]
    message_processor = ["10.40.0.5", "10.40.0.6"]
    backend = ["10.50.0.0/24"]
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.errors import ConfigError

ROLES = ("client", "router", "message_processor", "backend")
HOPS = ["inbound", "outbound", "other"]

# Who to change, by hop and by the side at fault (the guide's parties).
PARTIES = {
    ("inbound", "client"): "the client application",
    ("inbound", "server"): "the router (nginx: ssl_protocols / ssl_ciphers, the virtual host's keystore)",
    ("outbound", "client"): "the message processor (TargetEndpoint <SSLInfo>, its truststore / keystore)",
    ("outbound", "server"): "the backend server",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Roles:
    """Addresses (or networks) of each party."""

    router: tuple[Network, ...] = ()
    message_processor: tuple[Network, ...] = ()
    backend: tuple[Network, ...] = ()
    client: tuple[Network, ...] = ()
    source: str = "given"

    def role_of(self, address: Any) -> str | None:
        if address is None or (not isinstance(address, str) and pd.isna(address)):
            return None
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return None
        for role in ("router", "message_processor", "backend", "client"):
            if any(ip in net for net in getattr(self, role)):
                return role
        return None


@dataclass(frozen=True)
class _Inference:
    proxies: frozenset[str]
    notes: list[str] = field(default_factory=list)


def _networks(values: Iterable[str], where: str) -> tuple[Network, ...]:
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{value!r} is not an IP address or CIDR block ({where})",
                              fix="list addresses like 10.0.0.5 or networks like 10.0.0.0/24") from exc
    return tuple(out)


def read_roles(spec: Roles | Mapping[str, Any] | str | Path) -> Roles:
    """Roles from a Roles, a dict ``{role: [addresses]}``, or a JSON/TOML topology file."""
    if isinstance(spec, Roles):
        return spec
    source = "given"
    mapping: Mapping[str, Any]
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        if not path.is_file():
            what = "this is a directory, not a topology file" if path.is_dir() else "no such topology file"
            raise ConfigError(what, path=path, fix="pass a JSON or TOML file with router/"
                              "message_processor/backend address lists, or a dict")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the topology ({exc})", path=path,
                              fix="pass a UTF-8 JSON or TOML text file") from exc
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import tomllib

                data = tomllib.loads(text)
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"cannot parse the topology ({exc})", path=path,
                              fix="write it as TOML (router = [\"10.0.0.1\"]) or JSON") from exc
        source = str(path)
        mapping = data.get("roles", data) if isinstance(data, dict) else data
    else:
        mapping = spec
    if not isinstance(mapping, Mapping) or not all(isinstance(v, str | list | tuple) for v in mapping.values()):
        raise ConfigError("the topology must map each role to a list of addresses",
                          path=None if source == "given" else source,
                          fix='write e.g. {"router": ["10.0.0.1"], "backend": ["10.1.0.0/24"]}')
    if mapping and all(isinstance(v, str) and v in ROLES for v in mapping.values()) and not set(mapping) & set(ROLES):
        # {address: role}, the other natural way to write it
        inverted: dict[str, list[str]] = {}
        for address, role in mapping.items():
            inverted.setdefault(role, []).append(address)
        mapping = inverted
    unknown = set(mapping) - set(ROLES)
    if unknown:
        raise ConfigError(f"unknown roles {sorted(unknown)}", path=None if source == "given" else source,
                          fix=f"use {', '.join(ROLES)}")
    fields = {role: _networks([str(mapping[role])] if isinstance(mapping[role], str) else list(mapping[role]), role)
              for role in ROLES if role in mapping}
    return Roles(**fields, source=source)


def _infer(connections: pd.DataFrame) -> _Inference:
    servers = set(connections["server_ip"].dropna().astype(str))
    clients = set(connections["client_ip"].dropna().astype(str))
    proxies = frozenset(servers & clients)
    notes = ["No roles given: hops inferred from the capture (an address that both accepts and opens TLS "
             "connections is taken as the proxy in the middle: router or message processor). Pass roles= "
             "(router, message_processor, backend addresses) for exact labels."]
    if not proxies:
        notes.append("No address both accepts and opens connections here, so inbound and outbound cannot be told "
                     "apart from this capture alone (a capture at one hop shows only that hop).")
    return _Inference(proxies, notes)


def label_hops(connections: pd.DataFrame, roles: Roles | Mapping[str, Any] | str | Path | None = None,
               *, fault: pd.Series | None = None) -> pd.DataFrame:
    """Label each connection's hop and the party to change.

    Parameters
    ----------
    connections : the connections table (tlskit.schema.CONNECTIONS).
    roles : addresses of router, message processors and backends (see module doc); None infers.
    fault : optional Series (indexed like ``connections``) of the side at fault (client/server),
        e.g. a diagnosis' ``fault`` column, to name the party to change.

    Returns
    -------
    DataFrame with ``conn_id``, ``hop`` (inbound/outbound/other), ``client_role``,
    ``server_role``, ``fix_on`` (the party whose settings to change, when ``fault`` is given),
    ``hop_inferred`` (bool) and ``hop_reason``.
    """
    rows = []
    known = read_roles(roles) if roles is not None else None
    inference = _infer(connections) if known is None else None
    for i, conn in connections.iterrows():
        client, server = conn.get("client_ip"), conn.get("server_ip")
        if known is not None:
            c_role, s_role = known.role_of(client), known.role_of(server)
            if s_role == "router":
                hop, reason = "inbound", f"server {server} is the router"
            elif c_role == "message_processor" or s_role == "backend":
                hop = "outbound"
                reason = (f"client {client} is a message processor" if c_role == "message_processor"
                          else f"server {server} is a backend")
            else:
                hop, reason = "other", "neither address is a router, message processor or backend"
            inferred = False
        else:
            assert inference is not None
            c_role = "proxy" if str(client) in inference.proxies else None
            s_role = "proxy" if str(server) in inference.proxies else None
            if s_role:
                hop, reason = "inbound", f"server {server} also opens TLS connections: a proxy in the middle"
            elif c_role:
                hop, reason = "outbound", f"client {client} also accepts TLS connections: a proxy in the middle"
            else:
                hop, reason = "other", "cannot tell from this capture alone"
            inferred = True
        side = fault.get(i) if fault is not None else None
        fix_on = PARTIES.get((hop, str(side))) if side is not None and not pd.isna(side) else None
        if fix_on is None and side is not None and not pd.isna(side):
            fix_on = f"the {side}"
        rows.append({"conn_id": conn.get("conn_id"), "hop": hop, "client_role": c_role, "server_role": s_role,
                     "fix_on": fix_on, "hop_inferred": inferred, "hop_reason": reason})
    out = pd.DataFrame(rows, columns=["conn_id", "hop", "client_role", "server_role", "fix_on", "hop_inferred",
                                      "hop_reason"])
    out["hop"] = out["hop"].astype(pd.CategoricalDtype(HOPS))
    out.attrs["notes"] = inference.notes if inference else [f"Roles from {known.source if known else ''}"]
    return out
