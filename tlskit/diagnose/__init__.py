"""Diagnosis: the cause, the evidence and the fix for every TLS handshake in a capture.

    >>> cap = tlskit.load("incident.pcap")
    >>> tlskit.diagnose(cap, truststore="client-truststore.jks", lang="ja")

How it decides: :mod:`.facts` computes the observations of each connection once (versions and
suites offered and chosen, SNI, alerts and who sent them, the certificate chain judged at the
capture's time, the TLS 1.3 record pattern, other connections to the same server, a known server
configuration); :mod:`.rules` is a table of rules over those observations, tried in order; the
first that holds names the cause; :mod:`.evidence` and the catalogues of :mod:`tlskit.i18n` turn
the facts into sentences in English or Japanese.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.diagnose.evidence import params, render
from tlskit.diagnose.facts import FLAGS, CaptureLike, Facts, collect
from tlskit.diagnose.rules import RULES, Rule, decide, rules_table
from tlskit.i18n import check_lang, text
from tlskit.schema import DIAGNOSIS, conform, empty


def diagnose(
    capture: CaptureLike | str | Path,
    *,
    truststore: Any = None,
    server_config: Any = None,
    hostname: str | None = None,
    lang: str = "en",
    roles: Any = None,
    truststore_password: str | None = None,
) -> pd.DataFrame:
    """Diagnose every TLS connection of a capture.

    Parameters
    ----------
    capture
        A :class:`tlskit.Capture` (from :func:`tlskit.load`), or a path to load with defaults.
    truststore
        The verifying side's truststore: a path (PEM, JKS, PKCS#12; read with
        :func:`tlskit.certs.load_truststore`) or a loaded truststore. Without one, a chain is
        judged as sent (self-signed top -> unknown CA; missing issuer -> incomplete chain).
    server_config
        The server's configuration (nginx, Apigee ``<SSLInfo>``, a cipher string): a path or text
        for :func:`tlskit.ciphers.read_server_config`, or a loaded ``ServerConfig``.
    hostname
        The host name the client verifies, for connections without SNI (a connection's SNI is
        the name its client checks, so it takes precedence).
    lang
        ``"en"`` or ``"ja"`` for summary, remediation and evidence.
    truststore_password
        Password of a JKS or PKCS#12 ``truststore`` given as a path.
    roles
        Addresses of the router, message processors and backends (a dict ``{role: [addresses or
        CIDRs]}`` or a JSON/TOML topology file; see :mod:`tlskit.topology`). Each connection is
        labelled ``inbound`` (client app -> router) or ``outbound`` (message processor ->
        backend) and ``fix_on`` names the party to change. Without roles the hop is inferred
        from the capture (``hop_inferred`` is True) where it can be.

    Returns
    -------
    DataFrame
        One row per connection, failures first, then by ``conn_id`` (schema ``DIAGNOSIS``):
        ``conn_id``, ``client``, ``client_port``, ``server``, ``server_port``, ``sni``,
        ``version`` and ``cipher`` (names), ``established``, ``alert`` (IANA name of the first
        fatal alert), ``alert_from``, ``cause`` (one of ``tlskit.schema.CAUSES``),
        ``confidence`` (0..1), ``rule`` (id in :data:`RULES`), ``fault`` (side to change),
        ``summary`` (one sentence), ``remediation`` (what to change, on which side) and
        ``evidence`` (list of sentences naming frames), ``hop`` (inbound/outbound/other),
        ``fix_on`` (the party whose settings to change) and ``hop_inferred``.
    """
    check_lang(lang)
    if isinstance(capture, (str, Path)):
        from tlskit.capture import load

        capture = load(capture)
    truststore = _load_truststore(truststore, truststore_password)
    server_config = _load_server_config(server_config)
    facts = collect(capture, truststore=truststore, server_config=server_config, hostname=hostname)
    if not facts:
        return empty(DIAGNOSIS)
    rows = [explain(f, lang=lang) for f in facts]
    out = _with_hops(conform(rows, DIAGNOSIS), capture.connections, roles)
    failed = (out["cause"].astype(object) != "ok").astype(int)
    order = pd.DataFrame({"failed": failed, "conn_id": out["conn_id"].astype(int)})
    return out.loc[order.sort_values(["failed", "conn_id"], ascending=[False, True]).index].reset_index(drop=True)


def _with_hops(out: pd.DataFrame, connections: pd.DataFrame, roles: Any) -> pd.DataFrame:
    # Which hop (inbound / outbound) and which party to change: tlskit.topology decides.
    from tlskit.topology import label_hops

    conns = connections.set_index(connections["conn_id"].astype(int)).loc[out["conn_id"].astype(int)]
    hops = label_hops(conns.reset_index(drop=True), roles, fault=out["fault"].astype(object))
    out = out.copy()
    out["hop"] = hops["hop"].astype(object).to_numpy()
    out["fix_on"] = hops["fix_on"].to_numpy()
    out["hop_inferred"] = hops["hop_inferred"].to_numpy()
    return conform(out, DIAGNOSIS)


def explain(facts: Facts, *, lang: str = "en", rules: tuple[Rule, ...] = RULES) -> dict[str, Any]:
    """The DIAGNOSIS row (as a dict) for one connection's facts."""
    rule = decide(facts, rules)
    fields = params(facts, lang)
    v = facts.values
    return {
        "conn_id": facts.conn_id,
        "client": v.get("client"),
        "client_port": v.get("client_port"),
        "server": v.get("server"),
        "server_port": v.get("server_port"),
        "sni": v.get("sni"),
        "version": v.get("version"),
        "cipher": v.get("cipher"),
        "established": facts.has("established") if v.get("established_known") else None,
        "alert": v.get("alert"),
        "alert_from": v.get("alert_from"),
        "cause": rule.cause,
        "confidence": rule.confidence_for(facts),
        "rule": rule.id,
        "fault": rule.fault,
        "summary": text(f"summary.{rule.id}", lang, **fields),
        "remediation": text(f"remediation.{rule.remedy}", lang, **fields) if rule.remedy else None,
        "evidence": render(facts, rule.evidence, lang),
    }


def _load_truststore(truststore: Any, password: str | None) -> Any:
    if isinstance(truststore, (str, Path)):
        from tlskit.certs import load_truststore

        return load_truststore(truststore, password=password)
    return truststore


def _load_server_config(config: Any) -> Any:
    if isinstance(config, (str, Path)):
        from tlskit.ciphers import read_server_config

        return read_server_config(config)
    return config


class _CallableModule(types.ModuleType):
    """``tlskit.diagnose`` is both this package and the function: importing the package binds
    the name ``diagnose`` on ``tlskit`` to the module, so the module answers calls."""

    def __call__(
        self,
        capture: CaptureLike | str | Path,
        *,
        truststore: Any = None,
        server_config: Any = None,
        hostname: str | None = None,
        lang: str = "en",
        roles: Any = None,
        truststore_password: str | None = None,
    ) -> pd.DataFrame:
        return diagnose(capture, truststore=truststore, server_config=server_config, hostname=hostname,
                        lang=lang, roles=roles, truststore_password=truststore_password)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["FLAGS", "RULES", "Facts", "Rule", "decide", "diagnose", "explain", "rules_table"]
