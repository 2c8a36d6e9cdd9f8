"""Offered vs supported: per-suite and per-version tables, a verdict and the smallest fix.

A handshake needs one protocol version both sides enable and one cipher suite both sides
enable *for that version* (TLS 1.3 suites only with TLS 1.3; AEAD and SHA-256/384 suites only
with TLS 1.2+). When there is none, the fix tlskit proposes is the smallest change that makes
the handshake work, and the secure one first: enable a strong suite or version that the other
side already has, on the side that lacks it; only when neither side has anything strong is a
weak option named, and then as a stopgap.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit import registry
from tlskit.ciphers._config import ServerConfig
from tlskit.ciphers.capture import offered_by
from tlskit.errors import ConfigError

VERDICTS = ("ok", "weak_only", "no_common_suite", "no_common_version", "no_common_group")
_STRONG = {"recommended", "secure"}


@dataclass(frozen=True)
class Side:
    """One side of a comparison, normalised: suites in preference order and versions."""

    suites: list[int]
    versions: frozenset[int] | None  # None: not known
    config: ServerConfig | None = None
    label: str = ""
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """The result of compare_ciphers / compare_protocols.

    ``table`` has one row per suite or version; ``verdict`` is one of VERDICTS; ``fix`` is the
    smallest change (None when nothing needs to change), made on ``fix_side``; ``expected``
    is the suite or version the handshake would settle on (None when it fails).
    """

    table: pd.DataFrame
    verdict: str
    summary: str
    fix: str | None = None
    fix_side: str | None = None
    fix_code: int | None = None
    expected: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict in ("ok", "weak_only")

    def _repr_html_(self) -> str:
        color = {"ok": "#27ae60", "weak_only": "#e67e22"}.get(self.verdict, "#c0392b")
        fix = f"<br><b>Fix ({html.escape(self.fix_side or '')}):</b> {html.escape(self.fix)}" if self.fix else ""
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f'<div style="border-left:4px solid {color};padding:4px 8px"><b>{self.verdict}</b>: '
                f"{html.escape(self.summary)}{fix}{'<ul>' + notes + '</ul>' if notes else ''}</div>"
                + self.table.to_html(index=False))


# --- input normalisation --------------------------------------------------------------------


def _names_to_codes(items: Iterable[Any]) -> list[int]:
    out: list[int] = []
    unknown = []
    for x in items:
        c = registry.cipher_suite_code(x if isinstance(x, (int, str)) else str(x))
        if c is None:
            unknown.append(str(x))
        elif not registry.is_grease(c) and c not in out:
            out.append(c)
    if unknown:
        raise ConfigError(f"unknown cipher suites: {', '.join(unknown)}",
                          fix="use IANA, OpenSSL or Java names, or hex codes such as 0xc02f")
    return out


def as_side(x: Any, label: str = "") -> Side:
    """Normalise a ServerConfig, a config file path, a connections row, a list of codes/names or a cipher string."""
    if isinstance(x, Side):
        return x
    if isinstance(x, ServerConfig):
        return Side(x.all_suites, x.versions, x, label or x.source)
    if isinstance(getattr(x, "row", None), pd.Series):  # Capture.connection(conn_id)
        return as_side(x.row, label)
    if isinstance(x, (pd.Series, dict)) and ("offered_ciphers" in x or "client_versions" in x):
        suites, versions = offered_by(x)
        listed = len(x.get("client_versions") or []) > 0
        note = "" if listed or not versions else (
            f"the ClientHello has no supported_versions: only {registry.version_name(max(versions))} is known "
            "to be offered (the client's minimum is not on the wire)")
        return Side([s for s in suites if s != 0x00FF], versions or None, None, label or "client", note)
    if isinstance(x, Path) or (isinstance(x, str) and "\n" not in x and Path(x).suffix and Path(x).is_file()):
        # a configuration file (nginx, Apigee SSLInfo, java.security): read it for what it enables
        from tlskit.ciphers import read_server_config

        return as_side(read_server_config(Path(x)), label)
    if isinstance(x, str):
        parts = [p for p in re.split(r"[:,\s]+", x.strip()) if p]
        if all(registry.cipher_suite_code(p) is not None for p in parts):
            return Side(_names_to_codes(parts), None, None, label)
        from tlskit.ciphers.openssl import read_openssl

        return as_side(read_openssl(x, protocols=None), label or "openssl")
    if isinstance(x, Iterable):
        return Side(_names_to_codes(x), None, None, label)
    raise TypeError(f"cannot compare {type(x).__name__}: pass a ServerConfig, a connections row, "
                    "a list of suites or an OpenSSL cipher string")


def _min_version(code: int) -> int:
    """Lowest protocol version a suite can be negotiated in."""
    s = registry.cipher_suite(code)
    if s.tls13:
        return 0x0304
    if s.aead or s.mac in ("SHA256", "SHA384"):
        return 0x0303
    return 0x0300


def _usable(code: int, versions: frozenset[int] | None) -> bool:
    s = registry.cipher_suite(code)
    if versions is None:
        return True
    if s.tls13:
        return 0x0304 in versions
    return any(_min_version(code) <= v <= 0x0303 for v in versions)


# --- how to change a config -------------------------------------------------------------------


def _enable_suite_hint(side: Side, code: int, role: str) -> str:
    s = registry.cipher_suite(code)
    cfg = side.config
    src = cfg.source if cfg else ""
    if src == "nginx" or src == "apigee-virtualhost":
        key = "ssl_conf_command Ciphersuites" if s.tls13 else "ssl_ciphers"
        where = "the virtual host property" if src == "apigee-virtualhost" else "nginx"
        return f"add {s.openssl_name or s.name} to {where} {key}"
    if src == "openssl":
        return f"add {s.openssl_name or s.name} to the OpenSSL {'Ciphersuites' if s.tls13 else 'cipher string'}"
    if src.startswith("apigee-target"):
        return f"add <Cipher>{s.java_name}</Cipher> to <SSLInfo><Ciphers> (or empty <Ciphers> for the JVM defaults)"
    if cfg is not None and cfg.stack == "java":
        prop = "jdk.tls.client.cipherSuites" if role == "client" else "jdk.tls.server.cipherSuites"
        return (f"enable {s.java_name} ({prop}, or remove what disables it from "
                "jdk.tls.disabledAlgorithms)")
    names = " / ".join(n for n in (s.openssl_name, s.java_name) if n and n != s.name)
    return f"enable {s.name}" + (f" ({names})" if names else "")


def _enable_version_hint(side: Side, version: int, role: str) -> str:
    name = registry.version_name(version)
    cfg = side.config
    src = cfg.source if cfg else ""
    if src == "nginx":
        return f"add {name} to ssl_protocols"
    if src == "apigee-virtualhost":
        return f"add {name} to the virtual host's ssl_protocols / sSLInfo protocols"
    if src.startswith("apigee-target"):
        return f"add <Protocol>{name}</Protocol> to <SSLInfo><Protocols>"
    if cfg is not None and cfg.stack == "java":
        prop = "jdk.tls.client.protocols" if role == "client" else "jdk.tls.server.protocols"
        return f"enable {name} ({prop}; and remove it from jdk.tls.disabledAlgorithms)"
    return f"enable {name}"


def _auths(side: Side) -> set[str]:
    return {registry.cipher_suite(c).auth for c in side.suites if not registry.cipher_suite(c).tls13}


# --- compare_ciphers --------------------------------------------------------------------------


def compare_ciphers(offered: Any, supported: Any) -> Comparison:
    """Compare the suites a client offers with those a server supports.

    Parameters
    ----------
    offered : the client: a connections-table row (``capture.connections.loc[i]``), a list of
        suite codes or names, an OpenSSL cipher string, or a ServerConfig (e.g. an Apigee
        target <SSLInfo>, where the message processor is the client).
    supported : the server: a ServerConfig (read_server_config, read_capture, probe_server), a
        list of codes or names, or an OpenSSL cipher string.

    Returns
    -------
    Comparison whose ``table`` has columns: code (UInt16), name, openssl_name, java_name,
    tls13, strength, offered, supported, common, usable (common and allowed by a version both
    enable), offered_rank, supported_rank (0 = most preferred; <NA> when absent).
    """
    client = as_side(offered, "client")
    server = as_side(supported, "server")
    common_versions: frozenset[int] | None
    if client.versions is not None and server.versions is not None:
        common_versions = client.versions & server.versions
    else:
        common_versions = client.versions if client.versions is not None else server.versions
    c_rank = {c: i for i, c in enumerate(client.suites)}
    s_rank = {c: i for i, c in enumerate(server.suites)}
    rows = []
    for code in dict.fromkeys([*client.suites, *server.suites]):
        s = registry.cipher_suite(code)
        common = code in c_rank and code in s_rank
        rows.append({
            "code": code, "name": registry.cipher_suite_name(code), "openssl_name": s.openssl_name,
            "java_name": s.java_name, "tls13": s.tls13, "strength": s.strength,
            "offered": code in c_rank, "supported": code in s_rank, "common": common,
            "usable": common and _usable(code, common_versions),
            "offered_rank": c_rank.get(code), "supported_rank": s_rank.get(code),
        })
    table = pd.DataFrame(rows, columns=["code", "name", "openssl_name", "java_name", "tls13", "strength",
                                        "offered", "supported", "common", "usable", "offered_rank",
                                        "supported_rank"])
    table = table.astype({"code": "UInt16", "name": "string", "openssl_name": "string", "java_name": "string",
                          "tls13": "boolean", "strength": "string", "offered": "boolean", "supported": "boolean",
                          "common": "boolean", "usable": "boolean", "offered_rank": "UInt16",
                          "supported_rank": "UInt16"})
    if not table.empty:
        order = table.assign(_u=~table["usable"], _c=~table["common"],
                             _s=table["strength"].map(registry.strength_rank),
                             _r=table["offered_rank"].fillna(9999))
        table = table.loc[order.sort_values(["_u", "_c", "_s", "_r"]).index].reset_index(drop=True)

    notes = [f"{side.label}: {c}" for side in (client, server) if side.config for c in side.config.caveats[:2]]
    if common_versions is not None and not common_versions:
        proto = compare_protocols(client, server)
        return Comparison(table, "no_common_version", proto.summary, proto.fix, proto.fix_side, proto.fix_code,
                          None, notes)
    usable = [c for c in client.suites if c in s_rank and _usable(c, common_versions)]
    if usable:
        # TLS 1.3 wins when both enable it; within a version the server follows the client's
        # order unless it enforces its own (nginx ssl_prefer_server_ciphers, JSSE by default)
        if server.config is not None and server.config.server_order:
            usable = sorted(usable, key=lambda c: s_rank[c])
        t13 = [c for c in usable if registry.cipher_suite(c).tls13 and (common_versions is None
                                                                         or 0x0304 in common_versions)]
        expected = (t13 or usable)[0]
        best = min(usable, key=lambda c: registry.strength_rank(registry.cipher_suite(c).strength))
        strength = registry.cipher_suite(best).strength
        if strength in _STRONG:
            return Comparison(table, "ok", f"{len(usable)} suite(s) in common; expected "
                              f"{registry.cipher_suite_name(expected)}", expected=expected, notes=notes)
        fix, side, fix_code = _strengthen(client, server, common_versions)
        return Comparison(table, "weak_only", f"only {strength} suites in common (e.g. "
                          f"{registry.cipher_suite_name(best)})", fix, side, fix_code, expected, notes)
    fix, side, fix_code = _fix_no_common(client, server, common_versions)
    summary = (f"no cipher suite in common: the client offers {len(client.suites)}, the server enables "
               f"{len(server.suites)}, none of them both"
               + (" for a version both enable" if any(c in s_rank for c in client.suites) else ""))
    return Comparison(table, "no_common_suite", summary, fix, side, fix_code, None, notes)


def _candidates(codes: list[int], versions: frozenset[int] | None, prefer_auth: set[str]) -> list[int]:
    strong = [c for c in codes if registry.cipher_suite(c).strength in _STRONG and _usable(c, versions)]
    # a suite whose authentication matches the server's certificate needs no new certificate
    return sorted(strong, key=lambda c: (registry.cipher_suite(c).auth not in prefer_auth | {"any"},
                                         registry.strength_rank(registry.cipher_suite(c).strength),
                                         codes.index(c)))


def _fix_no_common(client: Side, server: Side, versions: frozenset[int] | None) -> tuple[str, str, int | None]:
    on_server = _candidates(client.suites, versions, _auths(server))
    if on_server:
        c = on_server[0]
        return (f"Server: {_enable_suite_hint(server, c, 'server')}; the client already offers it "
                f"({registry.cipher_suite(c).strength}).", "server", c)
    on_client = _candidates(server.suites, versions, _auths(server))
    if on_client:
        c = on_client[0]
        return (f"Client: {_enable_suite_hint(client, c, 'client')}; the server already enables it "
                f"({registry.cipher_suite(c).strength}). The client offers nothing strong the server could enable.",
                "client", c)
    weak = [c for c in client.suites if _usable(c, versions) and registry.cipher_suite(c).strength == "weak"]
    if weak:
        c = weak[0]
        return (f"Stopgap only (weak): Server: {_enable_suite_hint(server, c, 'server')}. Neither side has a "
                "strong suite the other could use; upgrade the client to offer an ECDHE AES-GCM suite.",
                "server", c)
    return ("Neither side enables a suite that could be enabled on the other safely; "
            "enable TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (or TLS 1.3) on both.", "both", None)


def _strengthen(client: Side, server: Side, versions: frozenset[int] | None) -> tuple[str, str, int | None]:
    better = [c for c in _candidates(client.suites, versions, _auths(server)) if c not in server.suites]
    if better:
        c = better[0]
        return (f"Server: {_enable_suite_hint(server, c, 'server')} (offered by the client, "
                f"{registry.cipher_suite(c).strength}), then drop the weak suites.", "server", c)
    better = [c for c in _candidates(server.suites, versions, _auths(server)) if c not in client.suites]
    if better:
        c = better[0]
        return (f"Client: {_enable_suite_hint(client, c, 'client')} ({registry.cipher_suite(c).strength}).",
                "client", c)
    return ("Enable an ECDHE AES-GCM suite (or TLS 1.3) on both sides.", "both", None)


# --- compare_protocols ------------------------------------------------------------------------


def compare_protocols(offered: Any, supported: Any) -> Comparison:
    """Compare the protocol versions a client offers with those a server enables.

    Parameters are as for :func:`compare_ciphers` (a connections row gives supported_versions,
    or every version up to the ClientHello's legacy version).

    Returns
    -------
    Comparison whose ``table`` has columns: code (UInt16), name, offered, supported, common,
    secure (TLS 1.2 or later).
    """
    client = as_side(offered, "client")
    server = as_side(supported, "server")
    every: frozenset[int] = frozenset(registry.PROTOCOL_VERSIONS)
    cv: frozenset[int] = client.versions if client.versions is not None else every
    sv: frozenset[int] = server.versions if server.versions is not None else every
    notes = [side.note for side in (client, server) if side.note]
    if client.versions is None or server.versions is None:
        notes.append("one side's versions are unknown: assumed SSLv3 to TLSv1.3")
    allv = sorted(set(registry.PROTOCOL_VERSIONS) | cv | sv, reverse=True)
    table = pd.DataFrame([{"code": v, "name": registry.version_name(v), "offered": v in cv, "supported": v in sv,
                           "common": v in cv and v in sv, "secure": 0x0303 <= v <= 0x0304} for v in allv])
    table = table.astype({"code": "UInt16", "name": "string", "offered": "boolean", "supported": "boolean",
                          "common": "boolean", "secure": "boolean"})
    common = cv & sv
    if common:
        best = max(common)
        name = registry.version_name(best)
        if best >= 0x0303:
            return Comparison(table, "ok", f"{name} in common", expected=best, notes=notes)
        up = [v for v in (0x0304, 0x0303) if v in cv or v in sv]
        if up:
            v = up[0]
            side, other = (server, "server") if v in cv else (client, "client")
            return Comparison(table, "weak_only", f"only {name} or older in common",
                              f"{other.capitalize()}: {_enable_version_hint(side, v, other)}.", other, v, best, notes)
        return Comparison(table, "weak_only", f"only {name} or older in common",
                          "Enable TLSv1.2 on both sides.", "both", 0x0303, best, notes)
    c_max = max(cv) if cv else 0
    s_max = max(sv) if sv else 0
    summary = (f"no protocol version in common: client {_span(cv)}, server {_span(sv)}")
    # secure fix first: enable TLS 1.2+ on the side that lacks it, using a version the other has
    server_can = [v for v in (0x0304, 0x0303) if v in cv]
    client_can = [v for v in (0x0304, 0x0303) if v in sv]
    if c_max < 0x0303 and client_can:
        v = client_can[-1] if 0x0303 in client_can else client_can[0]
        return Comparison(table, "no_common_version", summary,
                          f"Client: {_enable_version_hint(client, v, 'client')}; the server accepts {_span(sv)}.",
                          "client", v, None, notes)
    if server_can:
        v = server_can[-1] if 0x0303 in server_can and s_max < 0x0303 else server_can[0]
        return Comparison(table, "no_common_version", summary,
                          f"Server: {_enable_version_hint(server, v, 'server')}; the client offers {_span(cv)}.",
                          "server", v, None, notes)
    if client_can:
        v = client_can[-1]
        return Comparison(table, "no_common_version", summary,
                          f"Client: {_enable_version_hint(client, v, 'client')}.", "client", v, None, notes)
    stopgap = max(cv) if cv else 0x0303
    return Comparison(table, "no_common_version", summary,
                      f"Stopgap only (insecure): Server: {_enable_version_hint(server, stopgap, 'server')}; "
                      "upgrade the client to TLSv1.2.", "server", stopgap, None, notes)


# --- compare_groups ---------------------------------------------------------------------------


def _group_side(x: Any) -> tuple[list[int] | None, list[int], ServerConfig | None]:
    """(groups or None when unknown, key-share groups, config) of one side."""
    if isinstance(x, ServerConfig):
        return (x.groups or None), [], x
    if isinstance(getattr(x, "row", None), pd.Series):
        x = x.row
    if isinstance(x, (pd.Series, dict)) and "offered_groups" in x:
        groups = [int(g) for g in (x.get("offered_groups") or []) if not registry.is_grease(int(g))]
        shares = [int(g) for g in (x.get("offered_key_shares") or []) if not registry.is_grease(int(g))]
        return (groups or None), shares, None
    if isinstance(x, str):
        x = [p for p in re.split(r"[:,\s]+", x) if p]
    if isinstance(x, Iterable):
        from tlskit.ciphers._config import groups_from_names

        return groups_from_names(str(g) if not isinstance(g, int) else registry.group_name(g) for g in x), [], None
    raise TypeError(f"cannot read groups from {type(x).__name__}")


def _enable_group_hint(cfg: ServerConfig | None, code: int, role: str) -> str:
    name = registry.group_name(code)
    src = cfg.source if cfg else ""
    if src in ("nginx", "apigee-virtualhost"):
        return f"add {name} to ssl_ecdh_curve (e.g. ssl_ecdh_curve X25519:prime256v1:secp384r1;)"
    if src == "openssl":
        return f"add {name} to the OpenSSL Groups list (-groups / SSL_CTX_set1_groups_list)"
    if cfg is not None and cfg.stack == "java":
        return f"add {name} to jdk.tls.namedGroups"
    return f"enable the group {name}"


def compare_groups(offered: Any, supported: Any) -> Comparison:
    """Compare the key-exchange groups a client offers with those a server accepts.

    TLS 1.3 always needs a group in common ((EC)DHE key exchange); TLS 1.2 needs one for
    ECDHE suites. A group in common that the client sent no key share for costs a
    HelloRetryRequest round trip, not the handshake.

    Parameters
    ----------
    offered : a connections row (offered_groups, offered_key_shares), a ServerConfig with
        groups, or group names / codes.
    supported : the same for the server (ServerConfig.groups from nginx ssl_ecdh_curve, OpenSSL
        Groups, jdk.tls.namedGroups; empty means unknown).

    Returns
    -------
    Comparison whose ``table`` has columns: code (UInt16), name, offered, key_share, supported,
    common, recommended (IANA Recommended=Y).
    """
    cg, shares, ccfg = _group_side(offered)
    sg, _, scfg = _group_side(supported)
    rows = []
    for g in dict.fromkeys([*(cg or []), *(sg or [])]):
        rows.append({"code": g, "name": registry.group_name(g), "offered": g in (cg or []),
                     "key_share": g in shares, "supported": g in (sg or []),
                     "common": g in (cg or []) and g in (sg or []), "recommended": g in _RECOMMENDED_GROUPS})
    table = pd.DataFrame(rows, columns=["code", "name", "offered", "key_share", "supported", "common", "recommended"])
    table = table.astype({"code": "UInt16", "name": "string", "offered": "boolean", "key_share": "boolean",
                          "supported": "boolean", "common": "boolean", "recommended": "boolean"})
    if cg is None or sg is None:
        return Comparison(table, "ok", "groups unknown on one side: not compared", notes=[
            "a ServerConfig without groups (e.g. from a capture or a probe) says nothing about groups"])
    common = [g for g in cg if g in sg]
    if common:
        # the server picks among the client's key shares first (no extra round trip)
        with_share = [g for g in common if g in shares]
        expected = with_share[0] if with_share else common[0]
        notes = [] if with_share or not shares else [
            f"HelloRetryRequest expected: the client sent key shares for "
            f"{', '.join(registry.group_name(g) for g in shares)} only"]
        return Comparison(table, "ok", f"{len(common)} group(s) in common; expected {registry.group_name(expected)}",
                          expected=expected, notes=notes)
    summary = (f"no key-exchange group in common: client {', '.join(registry.group_name(g) for g in cg)}; "
               f"server {', '.join(registry.group_name(g) for g in sg)}")
    strong = [g for g in cg if g in _RECOMMENDED_GROUPS]
    if strong:
        g = strong[0]
        return Comparison(table, "no_common_group", summary,
                          f"Server: {_enable_group_hint(scfg, g, 'server')}; the client already offers it.",
                          "server", g)
    g = next((x for x in sg if x in _RECOMMENDED_GROUPS), sg[0] if sg else 29)
    return Comparison(table, "no_common_group", summary,
                      f"Client: {_enable_group_hint(ccfg, g, 'client')}; the server accepts it.", "client", g)


_RECOMMENDED_GROUPS = (29, 23, 24, 30, 4588)  # x25519, secp256r1, secp384r1, x448, X25519MLKEM768


def _span(vs: frozenset[int]) -> str:
    if not vs:
        return "none"
    names = [registry.version_name(v) for v in sorted(vs)]
    return names[0] if len(names) == 1 else f"{names[0]}..{names[-1]}"


__all__ = ["VERDICTS", "Comparison", "Side", "as_side", "compare_ciphers", "compare_groups", "compare_protocols"]
