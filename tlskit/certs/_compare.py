"""compare_certificates: every captured certificate against a truststore, one row each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.certs._hostname import presented_names
from tlskit.certs._readers import as_truststore
from tlskit.certs._store import TrustEntry, Truststore, dn, load_certificate, quiet_x509
from tlskit.certs._verify import VERDICTS, ChainVerdict, _could_issue, signature_ok, verify_chain
from tlskit.schema import LIST, SIDES, UTC_TIME, Column, Table, conform

CERT_COMPARISON = Table(
    "cert_comparison",
    "One row per certificate of each captured chain, compared with a truststore at the capture's time.",
    (
        Column("conn_id", "UInt32", "Connection id (<NA> for a chain given as a list)."),
        Column("side", pd.CategoricalDtype(SIDES), "Who sent the chain."),
        Column("position", "UInt8", "Position in the chain as sent: 0 is the leaf."),
        Column("subject", "string", "Subject DN (RFC 4514)."),
        Column("issuer", "string", "Issuer DN (RFC 4514)."),
        Column("san_dns", LIST, "subjectAltName DNS names."),
        Column("san_ip", LIST, "subjectAltName IP addresses."),
        Column("serial", "string", "Serial number, lowercase hex."),
        Column("sha256", "string", "SHA-256 fingerprint of the DER."),
        Column("not_before", UTC_TIME, "Validity start."),
        Column("not_after", UTC_TIME, "Validity end."),
        Column("judged_at", UTC_TIME, "The moment validity was judged at (the Certificate message's capture time, or at=)."),
        Column("validity", pd.CategoricalDtype(["valid", "expired", "not_yet_valid"]), "Validity at `judged_at`."),
        Column("in_truststore", "boolean", "This certificate is itself in the truststore."),
        Column("truststore_match", pd.CategoricalDtype(["fingerprint", "dn_serial"]), "How it was found: same DER, else same subject DN and serial."),
        Column("truststore_alias", "string", "Alias of the matching truststore entry."),
        Column("issuer_in_chain", "boolean", "A certificate in the sent chain could have issued it (name and key id match)."),
        Column("issuer_in_truststore", "boolean", "The truststore holds a certificate that could have issued it."),
        Column("signature_valid", "boolean", "Its signature verifies with its issuer's key; <NA> when no issuer is at hand or the algorithm is unsupported."),
        Column("in_path", "boolean", "Part of the path the verifier built (extra certificates sent are not)."),
        Column("at_fault", "boolean", "The certificate the chain verdict blames."),
        Column("hostname", "string", "Host name checked (hostname= or the connection's SNI)."),
        Column("hostname_matches", "boolean", "For the leaf: the host name matches its names; <NA> otherwise."),
        Column("chain_verdict", pd.CategoricalDtype(list(VERDICTS)), "The chain's verdict (tlskit.certs.VERDICTS)."),
        Column("chain_explanation", "string", "openssl-verify style explanation of the verdict."),
        Column("chain_remedy", "string", "What to change and on which side."),
        Column("missing_issuer", "string", "DN of the issuer nobody supplied, for the chain."),
        Column("anchor", "string", "Truststore entry the chain leads to (alias: subject), <NA> if none."),
        Column("parse_error", "string", "Why this certificate could not be parsed, else <NA>."),
    ),
)


@dataclass(frozen=True)
class CapturedChain:
    """One chain as sent in one connection, with what is needed to judge it."""

    conn_id: int | None
    side: str
    ders: tuple[bytes, ...]
    at: datetime | None
    hostname: str | None


def _as_utc(t: Any) -> datetime | None:
    if t is None or (not isinstance(t, datetime) and pd.isna(t)):
        return None
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _sni_by_conn(source: Any) -> dict[int, str]:
    conns = getattr(source, "connections", None)
    if not isinstance(conns, pd.DataFrame) or "sni" not in conns or conns.empty:
        return {}
    return {int(c): str(s) for c, s in zip(conns["conn_id"], conns["sni"], strict=False) if not pd.isna(s)}


def captured_chains(
    source: Any, *, hostname: str | None = None, at: datetime | None = None
) -> Iterator[CapturedChain]:
    """The chains in a Capture, a ``certificates`` frame, or one chain given as DER/PEM bytes.

    The host name (server chains only) is ``hostname`` if given, else the connection's SNI;
    the time is ``at`` if given, else the capture time of the Certificate message.
    """
    if isinstance(source, (list, tuple)):
        yield CapturedChain(None, "server", tuple(bytes(d) for d in source), _as_utc(at), hostname)
        return
    certs = source if isinstance(source, pd.DataFrame) else getattr(source, "certificates", None)
    if not isinstance(certs, pd.DataFrame):
        raise TypeError(
            "compare_certificates takes a Capture (tlskit.load), its certificates table, or a list of DER/PEM bytes; "
            f"got {type(source).__name__}"
        )
    if certs.empty:
        return
    sni = _sni_by_conn(source)
    for (conn_id, side), g in certs.groupby(["conn_id", "side"], observed=True, sort=True):
        g = g.sort_values("position")
        ders = tuple(bytes(d) if d is not None and not (isinstance(d, float) and pd.isna(d)) else b"" for d in g["der"])
        when = _as_utc(at) if at is not None else _as_utc(g["time"].iloc[0]) if "time" in g else None
        # A server does not check a client certificate against a host name.
        name = None if side != "server" else hostname if hostname is not None else sni.get(int(conn_id))
        yield CapturedChain(int(conn_id), str(side), ders, when, name)


@quiet_x509
def compare_certificates(
    capture_or_chain: Any,
    truststore: Truststore | str | Path | None,
    *,
    hostname: str | None = None,
    at: datetime | None = None,
    client_truststore: Truststore | str | Path | None = None,
    cn_fallback: bool = False,
    password: str | None = None,
) -> pd.DataFrame:
    """Compare every captured certificate with a truststore, at the capture's time.

    Parameters
    ----------
    capture_or_chain: a Capture (``tlskit.load``), its ``certificates`` table, or one chain as
        a list of DER/PEM bytes (leaf first; then ``at`` is required).
    truststore: from :func:`load_truststore`, or a path to load (with ``password``; "system"
        for the platform's store); None judges structure only.
    hostname: the name to check the leaf against; default: each connection's SNI.
    at: judge validity at this moment instead of each Certificate message's capture time.
    client_truststore: the server's store of client CAs, for client chains (mutual TLS); by
        default client chains are judged against ``truststore`` too.
    cn_fallback: accept a subject CN match on a leaf without DNS names (Java, curl); see
        :func:`verify_chain`.
    password: store password when ``truststore`` / ``client_truststore`` are paths.

    Returns
    -------
    pandas.DataFrame
        One row per certificate (columns of ``CERT_COMPARISON``): conn_id, side, position,
        subject, issuer, san_dns, san_ip, serial, sha256, not_before, not_after, judged_at,
        validity, in_truststore, truststore_match, truststore_alias, issuer_in_chain,
        issuer_in_truststore, signature_valid, in_path, at_fault, hostname,
        hostname_matches, chain_verdict, chain_explanation, chain_remedy, missing_issuer, anchor,
        parse_error.
    """
    truststore = as_truststore(truststore, password=password)
    client_truststore = as_truststore(client_truststore, password=password)
    rows: list[dict[str, Any]] = []
    for ch in captured_chains(capture_or_chain, hostname=hostname, at=at):
        if ch.at is None:
            raise ValueError("at= is required for a chain given as bytes (validity is judged at the capture's time, never now)")
        store = client_truststore if ch.side == "client" and client_truststore is not None else truststore
        verdict = verify_chain(list(ch.ders), truststore=store, hostname=ch.hostname, at=ch.at, side=ch.side,
                               cn_fallback=cn_fallback)
        rows.extend(chain_rows(ch, verdict, store))
    return conform(rows, CERT_COMPARISON)


@quiet_x509
def chain_rows(ch: CapturedChain, verdict: ChainVerdict, truststore: Truststore | None) -> list[dict[str, Any]]:
    """The comparison rows of one chain, given its verdict."""
    store = truststore or Truststore((), "none", "memory")
    parsed: list[Any] = []
    errors: list[str | None] = []
    for d in ch.ders:
        try:
            parsed.append(load_certificate(d))
            errors.append(None)
        except ValueError as exc:
            parsed.append(None)
            errors.append(str(exc) if d else "no certificate bytes")
    anchor = f"{verdict.anchor.alias}: {verdict.anchor.subject}" if verdict.anchor is not None else None
    out = []
    for pos, (cert, err) in enumerate(zip(parsed, errors, strict=True)):
        row: dict[str, Any] = {
            "conn_id": ch.conn_id, "side": ch.side, "position": pos, "judged_at": ch.at, "parse_error": err,
            "hostname": verdict.hostname, "chain_verdict": verdict.verdict,
            "chain_explanation": verdict.explanation, "chain_remedy": verdict.remedy,
            "missing_issuer": verdict.missing_issuer,
            "anchor": anchor, "in_path": pos in verdict.path, "at_fault": verdict.fault_position == pos,
        }
        if cert is not None:
            row.update(_cert_columns(cert, parsed, store, ch.at))
            if pos == 0:
                row["hostname_matches"] = verdict.hostname_matches
        out.append(row)
    return out


def _cert_columns(cert: Any, chain: Sequence[Any], store: Truststore, at: datetime | None) -> dict[str, Any]:
    info = TrustEntry.from_certificate(cert, "")

    info = TrustEntry.from_certificate(cert, "")
    dns, ips, _ = presented_names(cert)
    entry, how = store.find(cert)
    in_chain = [c for c in chain if c is not None and _could_issue(c, cert)]
    in_store = [e.certificate for e in store.by_subject(dn(cert.issuer))
                if e.certificate is not None and _could_issue(e.certificate, cert)]
    named_only = any(e.certificate is None for e in store.by_subject(dn(cert.issuer)))
    checks = [signature_ok(cert, i) for i in [*in_store, *in_chain]]
    sig = True if True in checks else False if False in checks else None
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    validity = None if at is None else "not_yet_valid" if at < nb else "expired" if at > na else "valid"
    return {
        "subject": info.subject, "issuer": info.issuer, "san_dns": dns, "san_ip": ips, "serial": info.serial,
        "sha256": info.sha256, "not_before": _clamp(nb), "not_after": _clamp(na), "validity": validity,
        "in_truststore": entry is not None, "truststore_match": how,
        "truststore_alias": entry.alias if entry is not None else None,
        "issuer_in_chain": bool(in_chain), "issuer_in_truststore": bool(in_store) or named_only,
        "signature_valid": sig,
    }


_TS_MIN = pd.Timestamp.min.tz_localize(timezone.utc).ceil("s").to_pydatetime()
_TS_MAX = pd.Timestamp.max.tz_localize(timezone.utc).floor("s").to_pydatetime()


def _clamp(t: datetime) -> datetime:
    # datetime64[ns] ends in 2262; certificates use 9999-12-31 for "no expiry".
    return min(max(t, _TS_MIN), _TS_MAX)
