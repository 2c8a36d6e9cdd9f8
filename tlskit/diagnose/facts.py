"""Facts: everything the rules look at, computed once per connection.

A :class:`Facts` holds ``flags`` (the named yes/no observations rules are written against, e.g.
``server_refused``, ``no_sni``, ``client_rejected_cert``) and ``values`` (the details evidence
and texts quote: frames, names, times). :data:`FLAGS` documents every flag, so a rule table can
be read without the code.

Certificate judgments use the time of the frame that carried the certificate, never today.
Other connections to the same server (same address and port) are facts too: a server that
answered another client's ClientHello with SNI and refused this one without it needs SNI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from tlskit import registry
from tlskit.diagnose._names import name_matches

# Alerts a peer sends when it rejects the other side's certificate (RFC 8446 §6.2).
CERT_ALERTS = frozenset({42, 43, 44, 45, 46, 48})
# Alerts a server sends for "no acceptable parameters" without saying which.
REFUSAL_ALERTS = frozenset({40, 71})
# Cipher-suite name fragments of suites no current TLS stack enables by default.
WEAK_SUITE_MARKS = ("_NULL_", "_EXPORT", "_anon_", "_RC4_", "_DES_", "DES40", "_3DES_", "_RC2_", "_IDEA_")
# Suites every current TLS server enables by default (TLS 1.3 AEADs, ECDHE with AES-GCM or
# ChaCha20): a server refusing all of them is rare, a server needing SNI is not.
MAINSTREAM_SUITES = frozenset({0x1301, 0x1302, 0x1303, 0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0xCCA9})
# Signalling suites carry no cipher.
SCSV = frozenset({0x00FF, 0x5600})
TLS13 = 0x0304
# Smallest TLS 1.3 record that can carry a Finished: 32-byte verify_data + 4 header + 1 inner
# type + 16-byte AEAD tag (SHA-256 suites; SHA-384 ones are larger).
FINISHED_MIN_RECORD = 53
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, CERTIFICATE_REQUEST, COMPRESSED_CERTIFICATE = 1, 2, 11, 13, 25

FLAGS: dict[str, str] = {
    "established": "Both Finished messages were exchanged.",
    "client_hello": "A ClientHello was seen.",
    "server_hello": "A ServerHello (or HelloRetryRequest) was seen.",
    "no_server_hello": "A ClientHello was seen and no ServerHello followed.",
    "partial": "The capture misses the start of the connection or cuts the handshake off.",
    "resumed": "An abbreviated handshake resumed an earlier session.",
    "hello_retry_request": "The server asked for another key share (HelloRetryRequest).",
    "sni_sent": "The ClientHello carried server_name.",
    "no_sni": "The ClientHello carried no server_name.",
    "name_known": "The name the client verifies is known (its SNI, else the hostname argument).",
    "tls13": "TLS 1.3 was negotiated.",
    "tls13_hidden": "TLS 1.3 without keys: certificates and alerts are encrypted.",
    "server_alert": "The server sent a fatal alert in clear (or decrypted).",
    "client_alert": "The client sent a fatal alert in clear (or decrypted).",
    "server_refused": "The server answered the ClientHello with a fatal alert and no ServerHello.",
    "server_refused_generic": "... and that alert was handshake_failure or insufficient_security.",
    "server_closed_after_hello": "The server sent close_notify or closed TCP right after the ClientHello.",
    "server_close_notify_after_hello": "... with a close_notify alert (the guide's TLS-version example).",
    "server_sent_<alert>": "The server's fatal alert by IANA name (server_sent_protocol_version, ...).",
    "client_sent_<alert>": "The client's fatal alert by IANA name (client_sent_unknown_ca, ...).",
    "server_warned_unrecognized_name": "The server sent a warning-level unrecognized_name (it does not know the SNI name).",
    "server_cert_alert": "The server's fatal alert is a certificate alert (42-46, 48, 116).",
    "client_rejected_cert": "The client sent a certificate alert after the server's Certificate, or left silently after it.",
    "server_chain_seen": "The server's certificate chain was read (on this connection or, see chain_from_peer, another).",
    "chain_from_peer": "TLS 1.3 hid this chain; the one the same server showed for the same name on another connection stands in.",
    "server_cert_expired": "A server certificate was outside its validity at the capture's time.",
    "name_mismatch": "The server's leaf certificate does not cover the name the client verifies.",
    "name_cn_only": "The leaf matches that name only through its subject CN (no subjectAltName), which most clients ignore.",
    "chain_self_signed": "The server chain ends in a self-signed certificate.",
    "chain_self_signed_leaf": "... and that self-signed certificate is the server's own (no CA issued it).",
    "chain_untrusted_root": "That self-signed certificate is not in the given truststore (or none was given).",
    "chain_gap": "The top certificate of the chain names an issuer the chain (and truststore) lacks.",
    "chain_gap_leaf": "... and that top certificate is the leaf: an intermediate was not sent.",
    "chain_gap_ca": "... and that top certificate is a CA: its issuer (often a root) is missing.",
    "truststore_given": "A truststore was given.",
    "truststore_lacks_issuer": "The truststore does not hold the issuer the chain needs.",
    "chain_trusted": "The given truststore validates the chain at the capture's time.",
    "chain_bad_signature": "A signature in the chain does not verify (tlskit.certs.verify_chain).",
    "cert_requested": "The server asked for a client certificate.",
    "client_cert_empty": "The client answered a CertificateRequest with no certificate.",
    "client_cert_sent": "The client sent a certificate.",
    "client_cert_expired": "The client's certificate was outside its validity at the capture's time.",
    "config_given": "A server configuration was given.",
    "config_no_common_version": "The server configuration allows none of the offered versions.",
    "config_no_common_cipher": "The server configuration allows none of the offered suites.",
    "config_common_cipher": "The server configuration allows at least one offered suite.",
    "config_sni_required": "The server configuration requires SNI.",
    "config_sni_unlisted": "The SNI sent is not among the server configuration's names.",
    "offered_only_weak": "Every offered suite is NULL/EXPORT/anon/RC4/DES/3DES: disabled by current stacks.",
    "offered_mainstream": "The client offered a suite every current server enables (TLS 1.3, ECDHE with AES-GCM or ChaCha20).",
    "offered_only_old": "The client offered nothing newer than TLS 1.1.",
    "peer_sni_accepted": "Another client's ClientHello with SNI got a ServerHello from the same server.",
    "peer_cipher_offered": "The same server selected, elsewhere in the capture, a suite this client offered.",
    "peer_cipher_not_offered": "The same server selected suites elsewhere, none of which this client offered.",
    "tls13_client_aborted": "TLS 1.3 without keys: the client sent an alert-sized record after the server's flight and closed.",
    "tls13_server_aborted": "TLS 1.3 without keys: the server sent an alert-sized record after the client's flight and closed.",
    "reset": "TCP ended with RST before the handshake completed.",
    "reset_by_server": "... sent by the server.",
    "reset_by_client": "... sent by the client.",
    "capture_ended": "The capture ended before the handshake did.",
}


@dataclass(frozen=True)
class Facts:
    """What was observed on one connection: yes/no ``flags`` and quotable ``values``."""

    conn_id: int
    flags: frozenset[str]
    values: Mapping[str, Any] = field(default_factory=dict)

    def has(self, flag: str) -> bool:
        return flag in self.flags


class CaptureLike(Protocol):
    connections: pd.DataFrame
    messages: pd.DataFrame
    certificates: pd.DataFrame


def _val(v: Any) -> Any:
    """pandas missing values (NA, NaT, NaN) as None; everything else unchanged."""
    if isinstance(v, (list, tuple, dict, bytes)):
        return v
    try:
        return None if pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def _frame_int(v: Any) -> int | None:
    v = _val(v)
    return int(v) if v is not None else None


def _iso(t: Any) -> str | None:
    t = _val(t)
    if t is None:
        return None
    ts = pd.Timestamp(t)
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _alert_name(code: Any) -> str | None:
    code = _val(code)
    return registry.alert_name(int(code)) if code is not None else None


def _version_name(code: Any) -> str | None:
    code = _val(code)
    return registry.version_name(int(code)) if code is not None else None


def offered_versions(conn: Mapping[str, Any]) -> list[int]:
    """Versions the client offered: supported_versions, else SSLv3 up to legacy_version."""
    listed = [int(v) for v in (conn.get("client_versions") or [])]
    if listed:
        return listed
    top = _val(conn.get("client_max_version")) or _val(conn.get("client_legacy_version"))
    if top is None:
        return []
    return [v for v in (0x0300, 0x0301, 0x0302, 0x0303) if v <= int(top)]


def weak_suites(names: Sequence[str], codes: Sequence[int]) -> list[str] | None:
    """Names of the offered suites when every real one is weak; None when any is not (or unknown)."""
    real = [(n, c) for n, c in zip(names, codes, strict=False) if int(c) not in SCSV and n != "GREASE"]
    if not real or any(str(n).startswith("unknown(") for n, _ in real):
        return None
    if all(any(mark in str(n) for mark in WEAK_SUITE_MARKS) for n, _ in real):
        return [str(n) for n, _ in real]
    return None


@dataclass(frozen=True)
class ChainFindings:
    """What the certificate rows of one chain show at one moment."""

    flags: frozenset[str]
    values: Mapping[str, Any]


def examine_chain(
    rows: pd.DataFrame,
    *,
    at: datetime | pd.Timestamp | None,
    name: str | None,
    truststore: Any = None,
    prefix: str = "server",
) -> ChainFindings:
    """Judge one chain (CERTIFICATES rows of one side of one connection) at time ``at``.

    Returns flags ``<prefix>_cert_expired``, ``name_mismatch``/``name_cn_only`` (server side,
    with a name), ``chain_self_signed``/``chain_self_signed_leaf``, ``chain_untrusted_root``,
    ``chain_gap``/``chain_gap_leaf``/``chain_gap_ca``, and with a truststore
    ``truststore_given``, ``truststore_lacks_issuer`` or ``chain_trusted`` (path building by
    :func:`tlskit.certs.verify_chain` when the truststore is a :class:`tlskit.certs.Truststore`),
    with the certificate subjects and dates they are about in ``values``.
    """
    flags: set[str] = set()
    values: dict[str, Any] = {}
    if rows.empty:
        return ChainFindings(frozenset(), values)
    chain = rows.sort_values("position").reset_index(drop=True)
    leaf = chain.iloc[0]
    values[f"{prefix}_cert_frame"] = _frame_int(leaf.get("frame"))
    values[f"{prefix}_leaf_subject"] = _val(leaf.get("subject"))
    values[f"{prefix}_chain_subjects"] = [str(_val(s)) for s in chain["subject"]]
    when = pd.Timestamp(at) if at is not None else _val(leaf.get("time"))
    values[f"{prefix}_at"] = _iso(when)

    # Validity at the capture's time; a self-signed top is a trust anchor copy the client
    # replaces with its own, so only it alone (a self-signed leaf) counts.
    if when is not None:
        for i, cert in chain.iterrows():
            if len(chain) > 1 and i == len(chain) - 1 and bool(_val(cert.get("self_signed"))):
                continue
            nb, na = _val(cert.get("not_before")), _val(cert.get("not_after"))
            if (na is not None and pd.Timestamp(na) < when) or (nb is not None and pd.Timestamp(nb) > when):
                flags.add(f"{prefix}_cert_expired")
                values.update({
                    "expired_subject": _val(cert.get("subject")),
                    "expired_position": int(i),
                    "expired_not_before": _iso(nb),
                    "expired_not_after": _iso(na),
                    "expired_frame": _frame_int(cert.get("frame")),
                    "expired_state": "not_yet_valid" if nb is not None and pd.Timestamp(nb) > when else "expired",
                })
                break

    if prefix == "server" and name:
        sans = list(leaf.get("san_dns") or [])
        ips = list(leaf.get("san_ip") or [])
        cn = _val(leaf.get("subject_cn"))
        values["leaf_names"] = sans or ([str(ip) for ip in ips] if ips else ([cn] if cn else []))
        if not name_matches(name, sans, ips, cn):
            flags.add("name_mismatch")
        elif not sans and not ips:
            # Only the CN names the host: browsers, Python, Go and others no longer read it.
            flags.add("name_cn_only")

    # Walk the chain as sent from the leaf up through issuer -> subject links.
    by_subject = {str(_val(s)): i for i, s in enumerate(chain["subject"])}
    top_i, seen = 0, {0}
    while True:
        cert = chain.iloc[top_i]
        if _is_self_signed(cert):
            break
        nxt = by_subject.get(str(_val(cert.get("issuer"))))
        if nxt is None or nxt in seen:
            break
        top_i = nxt
        seen.add(nxt)
    top = chain.iloc[top_i]
    values["top_subject"] = _val(top.get("subject"))
    anchors = _anchor_subjects(truststore)
    if truststore is not None:
        flags.add("truststore_given")
        values["truststore_source"] = _truststore_source(truststore)
    if not _is_self_signed(top) and _is_self_issued(top):
        # Names itself as issuer but its signature does not verify with its own key: a
        # substituted root (CurveBall-style) no client can trust.
        flags |= {"chain_self_signed", "chain_untrusted_root"}
        values["root_forged"] = True
    elif _is_self_signed(top):
        flags.add("chain_self_signed")
        if top_i == 0:
            flags.add("chain_self_signed_leaf")
        if anchors is None or not _anchor_holds(truststore, top, anchors):
            flags.add("chain_untrusted_root")
            if anchors is not None:
                flags.add("truststore_lacks_issuer")
                values["missing_issuer"] = _val(top.get("subject"))
    else:
        issuer = str(_val(top.get("issuer")))
        values["missing_issuer"] = issuer
        if anchors is not None and issuer in anchors:
            pass  # the truststore supplies the issuer: the chain is complete from its point of view
        else:
            flags.add("chain_gap")
            is_ca = bool(_val(top.get("is_ca")))
            flags.add("chain_gap_ca" if is_ca and top_i > 0 else "chain_gap_leaf")
            if anchors is not None:
                flags.add("truststore_lacks_issuer")
    if anchors is not None and not flags & {"chain_gap", "chain_untrusted_root"}:
        flags.add("chain_trusted")
    verdict = _verify(chain, truststore, name if prefix == "server" else None, when, prefix)
    if verdict is not None:
        flags = _apply_verdict(flags, values, verdict)
    return ChainFindings(frozenset(flags), values)


CHAIN_FLAGS = frozenset({"chain_self_signed", "chain_self_signed_leaf", "chain_untrusted_root", "chain_gap", "chain_gap_leaf",
                         "chain_gap_ca", "truststore_lacks_issuer", "chain_trusted"})


def _verify(chain: pd.DataFrame, truststore: Any, name: str | None, when: Any, side: str) -> Any:
    """tlskit.certs.verify_chain's verdict with a real truststore, else None (structure only)."""
    if truststore is None or when is None:
        return None
    from tlskit.certs import Truststore, verify_chain

    ders = [d for d in chain["der"] if isinstance(d, (bytes, bytearray))]
    if not isinstance(truststore, Truststore) or len(ders) != len(chain):
        return None
    return verify_chain(ders, truststore=truststore, hostname=name, at=pd.Timestamp(when).to_pydatetime(), side=side)


def _apply_verdict(flags: set[str], values: dict[str, Any], verdict: Any) -> set[str]:
    """Replace the structural chain flags with what path building against the truststore found."""
    out = (flags - CHAIN_FLAGS) | {"truststore_given"}
    codes = {p.code: p for p in verdict.problems}
    values["truststore_explanation"] = verdict.explanation
    if "self_signed" in codes or ("unknown_ca" in codes and not verdict.missing_issuer):
        out |= {"chain_self_signed", "chain_untrusted_root", "truststore_lacks_issuer"}
        if "self_signed" in codes:  # openssl's depth-0 self-signed: the server's own certificate
            out.add("chain_self_signed_leaf")
        values["top_subject"] = values["missing_issuer"] = (codes.get("self_signed") or codes["unknown_ca"]).subject
    elif "unknown_ca" in codes:
        out |= {"chain_gap", "chain_gap_ca", "truststore_lacks_issuer"}
        values["missing_issuer"] = verdict.missing_issuer
        values["top_subject"] = codes["unknown_ca"].subject
    elif "incomplete_chain" in codes:
        out |= {"chain_gap", "chain_gap_leaf", "truststore_lacks_issuer"}
        values["missing_issuer"] = verdict.missing_issuer
        values["top_subject"] = codes["incomplete_chain"].subject
    elif "bad_signature" in codes:
        out.add("chain_bad_signature")
    else:
        out.add("chain_trusted")
    return out


def _is_self_issued(cert: pd.Series) -> bool:
    subject, issuer = _val(cert.get("subject")), _val(cert.get("issuer"))
    return subject is not None and subject == issuer


def _is_self_signed(cert: pd.Series) -> bool:
    flag = _val(cert.get("self_signed"))
    if flag is not None:
        return bool(flag)
    return _val(cert.get("subject")) is not None and _val(cert.get("subject")) == _val(cert.get("issuer"))


def _anchor_subjects(truststore: Any) -> set[str] | None:
    """Subject DNs of a truststore's certificates (any object listing them), None without one."""
    if truststore is None:
        return None
    subjects: set[str] = set()
    for entry in _truststore_entries(truststore):
        subj = _entry_attr(entry, "subject")
        if subj:
            subjects.add(str(subj))
    return subjects


def _anchor_holds(truststore: Any, top: pd.Series, anchors: set[str]) -> bool:
    sha = _val(top.get("sha256"))
    for entry in _truststore_entries(truststore):
        if sha and _entry_attr(entry, "sha256") == sha:
            return True
    return str(_val(top.get("subject"))) in anchors


def _truststore_entries(truststore: Any) -> Iterable[Any]:
    # tlskit.certs.Truststore exposes its certificates; accept a frame of CERTIFICATES-like rows too.
    for attr in ("entries", "certificates", "certs"):
        got = getattr(truststore, attr, None)
        if got is None:
            continue
        if isinstance(got, pd.DataFrame):
            return [row for _, row in got.iterrows()]
        return list(got() if callable(got) else got)
    if isinstance(truststore, pd.DataFrame):
        return [row for _, row in truststore.iterrows()]
    return []


def _entry_attr(entry: Any, name: str) -> Any:
    """``subject`` / ``sha256`` of a truststore entry (TrustEntry, a row, or an x509.Certificate)."""
    if isinstance(entry, (Mapping, pd.Series)):
        return _val(entry.get(name))
    val = getattr(entry, name, None)
    if name == "subject" and val is not None and not isinstance(val, str):
        rfc = getattr(val, "rfc4514_string", None)  # a cryptography x509.Name
        return rfc() if callable(rfc) else str(val)
    if name == "sha256" and val is None and callable(getattr(entry, "fingerprint", None)):
        from cryptography.hazmat.primitives import hashes

        return entry.fingerprint(hashes.SHA256()).hex()
    return val


def _truststore_source(truststore: Any) -> str:
    for attr in ("source", "path", "name"):
        got = getattr(truststore, attr, None)
        if got:
            return str(got)
    return "truststore"


def collect(
    capture: CaptureLike,
    *,
    truststore: Any = None,
    server_config: Any = None,
    hostname: str | None = None,
) -> list[Facts]:
    """Facts for every connection of ``capture``, in conn_id order."""
    conns = capture.connections
    if conns.empty:
        return []
    # Plain records, one list per connection: per-connection scans stay cheap on large captures.
    msgs_by: dict[int, list[dict[str, Any]]] = {}
    for rec in capture.messages.sort_values(["conn_id", "seq"]).to_dict("records"):
        msgs_by.setdefault(int(rec["conn_id"]), []).append({k: _val(x) for k, x in rec.items()})
    certs = capture.certificates
    certs_by = {int(k): g for k, g in certs.groupby("conn_id", observed=True)} if not certs.empty else {}
    empty_certs = certs.iloc[0:0]
    rows = [{k: _val(x) for k, x in r.items()} for r in conns.sort_values("conn_id").to_dict("records")]
    by_server: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        by_server.setdefault(_server_key(r), []).append(r)
    peers = {key: ServerPeers.of(group) for key, group in by_server.items()}
    # The first chain each server showed for each name: TLS 1.3 without keys hides it elsewhere.
    chains: dict[tuple[str, int, str | None], tuple[int, pd.DataFrame]] = {}
    row_by_id = {int(r["conn_id"]): r for r in rows}
    for cid, group in sorted(certs_by.items()):
        conn_row = row_by_id.get(cid)
        if conn_row is not None and not _side(group, "server").empty:
            chains.setdefault((*_server_key(conn_row), conn_row.get("sni")), (cid, _side(group, "server")))
    out = []
    for conn in rows:
        cid = int(conn["conn_id"])
        out.append(
            connection_facts(
                conn,
                msgs_by.get(cid, []),
                certs_by.get(cid, empty_certs),
                peers=peers[_server_key(conn)],
                peer_chain=chains.get((*_server_key(conn), conn.get("sni"))),
                truststore=truststore,
                server_config=server_config,
                hostname=hostname,
            )
        )
    return out


def _server_key(conn: Mapping[str, Any]) -> tuple[str, int]:
    return (str(_val(conn.get("server_ip"))), int(_val(conn.get("server_port")) or 0))


@dataclass(frozen=True)
class ServerPeers:
    """What one server (address, port) did across the capture's connections, summed once so
    that each connection can compare itself with the others without rescanning them."""

    answered: tuple[tuple[int, str | None, int], ...]  # (conn_id, sni, selected suite) with a ServerHello
    suites: Mapping[int, int]  # selected suite -> how many connections

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> ServerPeers:
        answered = tuple(
            (int(r["conn_id"]), _val(r.get("sni")), int(r["cipher_suite"]))
            for r in rows if _val(r.get("cipher_suite")) is not None
        )
        counts: dict[int, int] = {}
        for _, _, suite in answered:
            counts[suite] = counts.get(suite, 0) + 1
        return cls(answered, counts)

    def flags(self, conn_id: int, own_suite: int | None, codes: list[int], sni: str | None, v: dict[str, Any]) -> set[str]:
        flags: set[str] = set()
        others = ((c, s, suite) for c, s, suite in self.answered if c != conn_id)
        if not sni:
            with_sni = list(itertools.islice(((c, s) for c, s, _ in self.answered if s and c != conn_id), PEER_LIMIT + 1))
            if with_sni:
                flags.add("peer_sni_accepted")
                v["peer_sni_conns"] = _limited([c for c, _ in with_sni])
                v["peer_sni_names"] = sorted({str(s) for _, s in with_sni})
        selected = {s for s, n in self.suites.items() if n - (1 if s == own_suite else 0) > 0}
        if selected and codes:
            v["peer_selected"] = [registry.cipher_suite_name(c) for c in sorted(selected)]
            v["peer_conns"] = _limited([c for c, _, _ in itertools.islice(others, PEER_LIMIT + 1)])
            flags.add("peer_cipher_offered" if selected & set(codes) else "peer_cipher_not_offered")
        return flags


PEER_LIMIT = 6  # connection ids quoted in evidence


def _limited(ids: list[int]) -> list[Any]:
    return [*ids[:PEER_LIMIT], "…"] if len(ids) > PEER_LIMIT else ids


def connection_facts(
    conn: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]] | pd.DataFrame,
    certificates: pd.DataFrame,
    *,
    peers: Sequence[Mapping[str, Any]] | ServerPeers = (),
    peer_chain: tuple[int, pd.DataFrame] | None = None,
    truststore: Any = None,
    server_config: Any = None,
    hostname: str | None = None,
) -> Facts:
    """Facts for one connection (a CONNECTIONS row as a mapping, its MESSAGES rows in order, and
    its CERTIFICATES rows).

    ``peers`` are the connections to the same server address and port (this one may be among
    them), as rows or summed up in a :class:`ServerPeers`. ``peer_chain`` is (conn_id, rows) of
    the server chain another connection to the same server and name showed, used when TLS 1.3
    hides this one's.
    """
    if isinstance(messages, pd.DataFrame):
        messages = [{k: _val(x) for k, x in r.items()} for r in messages.sort_values("seq").to_dict("records")]
    seen = _Observer(conn, messages, hostname)
    seen.hellos()
    seen.tls13_finished_check()
    seen.alerts()
    seen.tcp_end()
    seen.server_chain(certificates, truststore, peer_chain)
    seen.client_certificate(certificates)
    seen.tls13_pattern()
    if server_config is not None:
        seen.flags |= _config_flags(server_config, seen.offered, seen.codes, seen.sni, seen.v)
    summary = peers if isinstance(peers, ServerPeers) else ServerPeers.of(peers)
    own = _val(conn.get("cipher_suite"))
    seen.flags |= summary.flags(seen.conn_id, int(own) if own is not None else None, seen.codes, seen.sni, seen.v)
    return Facts(seen.conn_id, frozenset(seen.flags), seen.v)


class _Observer:
    """Reads one connection section by section (hellos, alerts, TCP end, chains, record pattern),
    adding flags and quotable values as it goes."""

    def __init__(self, conn: Mapping[str, Any], msgs: Sequence[Mapping[str, Any]], hostname: str | None):
        self.conn, self.msgs, self.hostname = conn, msgs, hostname
        self.conn_id = int(conn["conn_id"])
        self.flags: set[str] = set()
        self.v: dict[str, Any] = {
            "conn_id": self.conn_id,
            "client": _val(conn.get("client_ip")),
            "client_port": _val(conn.get("client_port")),
            "server": _val(conn.get("server_ip")),
            "server_port": _val(conn.get("server_port")),
            "notes": [str(n) for n in (conn.get("notes") or [])],
            "established_known": _val(conn.get("established")) is not None,
        }
        self.established = bool(_val(conn.get("established")))
        self.version = _val(conn.get("version"))
        self.alert = _val(conn.get("alert"))
        self.tcp_end_kind, self.end_by = _val(conn.get("tcp_end")), _val(conn.get("tcp_end_by"))
        self.sni: str | None = _val(conn.get("sni"))
        self.name = self.sni or hostname
        self.codes = [int(c) for c in (conn.get("offered_ciphers") or [])]
        self.offered = offered_versions(conn)
        self.has_ch = self.has_sh = False

    def first(self, direction: str, *types: int) -> Mapping[str, Any] | None:
        return next((m for m in self.msgs if m["direction"] == direction and m["handshake_type"] in types), None)

    def hellos(self) -> None:
        """What the client offered and the server chose."""
        conn, v, flags = self.conn, self.v, self.flags
        ch, sh = self.first("c2s", CLIENT_HELLO), self.first("s2c", SERVER_HELLO)
        if self.established:
            flags.add("established")
        if _val(conn.get("partial")):
            flags.add("partial")
        self.has_ch = ch is not None or _val(conn.get("client_hello_time")) is not None
        self.has_sh = sh is not None or self.version is not None or _val(conn.get("server_hello_time")) is not None
        if self.has_ch:
            flags.add("client_hello")
            v["ch_frame"] = _frame_int(ch["frame"]) if ch is not None else None
        if self.has_sh:
            flags.add("server_hello")
            v["sh_frame"] = _frame_int(sh["frame"]) if sh is not None else None
        elif self.has_ch:
            flags.add("no_server_hello")
        v["sni"] = self.sni
        flags.add("sni_sent" if self.sni else "no_sni")
        if self.name:
            flags.add("name_known")
            v.update(name=self.name, name_source="sni" if self.sni else "hostname")
        names = list(conn.get("offered_cipher_names") or []) or [registry.cipher_suite_name(c) for c in self.codes]
        v.update(
            offered_versions=[registry.version_name(x) for x in self.offered],
            versions_listed=bool(conn.get("client_versions")),
            client_max_version=_version_name(conn.get("client_max_version")),
            n_offered=len(self.codes),
            offered_cipher_names=names,
            offered_groups=[registry.group_name(int(g)) for g in (conn.get("offered_groups") or [])],
            version=_val(conn.get("version_name")) or _version_name(self.version),
            cipher=_val(conn.get("cipher_suite_name")) or (
                registry.cipher_suite_name(int(conn["cipher_suite"])) if _val(conn.get("cipher_suite")) is not None else None),
        )
        max_v = _val(conn.get("client_max_version"))
        if max_v is not None and int(max_v) <= 0x0302:
            flags.add("offered_only_old")
        if any(c in MAINSTREAM_SUITES for c in self.codes):
            flags.add("offered_mainstream")
        weak = weak_suites(names, self.codes)
        if weak:
            flags.add("offered_only_weak")
            v["weak_names"] = weak
        if _val(conn.get("resumed")):
            flags.add("resumed")
        if _val(conn.get("hello_retry_request")):
            flags.add("hello_retry_request")
        if self.version is not None and int(self.version) == TLS13:
            flags.add("tls13")
            if not _val(conn.get("decrypted")) and not _val(conn.get("server_certificate_visible")):
                flags.add("tls13_hidden")

    def tls13_finished_check(self) -> None:
        """Without keys "established" is inferred from record sizes; a client whose encrypted
        records are all too short to hold a Finished never finished (Java pads its alerts)."""
        sizes = _encrypted_sizes(self.msgs, "c2s")
        if ("tls13_hidden" in self.flags and self.established and sizes and max(sizes) < FINISHED_MIN_RECORD
                and _val(self.conn.get("first_app_data_time")) is None):
            self.established = False
            self.flags.discard("established")
            self.flags.add("tls13_client_aborted")
            self.v["client_record_len"] = max(sizes)

    def alerts(self) -> None:
        """The first fatal alert and its sender; a close_notify or warning answering the hello."""
        flags, v, alert, side = self.flags, self.v, self.alert, _val(self.conn.get("alert_from"))
        if alert is not None and side in ("client", "server"):
            aname = _alert_name(alert)
            v.update(alert=aname, alert_from=side, alert_frame=_frame_int(self.conn.get("alert_frame")))
            flags |= {f"{side}_alert", f"{side}_sent_{aname}"}
            if side == "server" and self.has_ch and not self.has_sh:
                flags.add("server_refused")
                if int(alert) in REFUSAL_ALERTS:
                    flags.add("server_refused_generic")
            if side == "server" and int(alert) in CERT_ALERTS | {116}:
                flags.add("server_cert_alert")
            if side == "client" and self.has_sh and int(alert) in CERT_ALERTS:
                flags.add("client_rejected_cert")
        if self.has_ch and not self.has_sh and alert is None:
            notify = _alerts(self.msgs, "s2c", 0)
            if notify is not None or (self.tcp_end_kind == "fin" and self.end_by == "server"):
                flags.add("server_closed_after_hello")
                if notify is not None:
                    flags.add("server_close_notify_after_hello")
                    v["close_frame"] = _frame_int(notify["frame"])
        warned = _alerts(self.msgs, "s2c", 112)
        if warned is not None and _val(warned.get("alert_level")) == 1:
            flags.add("server_warned_unrecognized_name")
            v["warning_frame"] = _frame_int(warned["frame"])

    def tcp_end(self) -> None:
        """How TCP ended when the handshake did not complete."""
        self.v.update(tcp_end=self.tcp_end_kind, tcp_end_by=self.end_by, end_time=_iso(self.conn.get("end_time")))
        if self.established:
            return
        if self.tcp_end_kind == "rst":
            self.flags.add("reset")
            if self.end_by in ("client", "server"):
                self.flags.add(f"reset_by_{self.end_by}")
        if self.tcp_end_kind == "open" and self.alert is None:
            self.flags.add("capture_ended")

    def server_chain(self, certificates: pd.DataFrame, truststore: Any,
                     peer_chain: tuple[int, pd.DataFrame] | None = None) -> None:
        """The server's chain, judged at the time of the frame that carried it; when TLS 1.3
        hides it, the chain the same server showed for the same name on another connection."""
        rows = _side(certificates, "server")
        at = _val(rows.iloc[0].get("time")) if not rows.empty else None
        if rows.empty and peer_chain is not None and "tls13_hidden" in self.flags and peer_chain[0] != self.conn_id:
            rows = peer_chain[1]
            at = _val(self.conn.get("server_hello_time")) or _val(self.conn.get("start_time"))
            self.flags.add("chain_from_peer")
            self.v["chain_peer_conn"] = peer_chain[0]
        if rows.empty:
            if truststore is not None:
                self.flags.add("truststore_given")
            return
        self.flags.add("server_chain_seen")
        at = at or _val(self.conn.get("start_time"))
        found = examine_chain(rows, at=at, name=self.name, truststore=truststore, prefix="server")
        self.flags |= found.flags
        self.v.update(found.values)
        # A client that leaves right after reading the chain, with no alert and no second flight, rejected it.
        if "chain_from_peer" not in self.flags and self.alert is None and not self.established and self.end_by == "client" and not _client_second_flight(self.msgs):
            self.flags.add("client_rejected_cert")
            self.v["silent_close"] = True

    def client_certificate(self, certificates: pd.DataFrame) -> None:
        """Mutual TLS: was a certificate asked for, sent, valid at the time?"""
        req = self.first("s2c", CERTIFICATE_REQUEST)
        requested = _val(self.conn.get("certificate_requested"))
        if requested or req is not None:
            self.flags.add("cert_requested")
            self.v["cert_request_frame"] = _frame_int(req["frame"]) if req is not None else None
        sent = _val(self.conn.get("client_certificate_sent"))
        rows = _side(certificates, "client")
        message = self.first("c2s", CERTIFICATE)
        if (sent is not None and not bool(sent)) or (requested and sent is None and rows.empty and message is not None):
            self.flags.add("client_cert_empty")
            self.v["client_cert_frame"] = _frame_int(message["frame"]) if message is not None else None
        if not rows.empty:
            self.flags.add("client_cert_sent")
            at = _val(rows.iloc[0].get("time")) or _val(self.conn.get("start_time"))
            found = examine_chain(rows, at=at, name=None, prefix="client")
            self.flags |= {f for f in found.flags if f.startswith("client_")}
            if "client_cert_expired" in found.flags or "expired_subject" not in self.v:
                self.v.update({k: x for k, x in found.values.items() if k.startswith(("client_", "expired_"))})
            else:
                self.v.update({k: x for k, x in found.values.items() if k.startswith("client_")})

    def tls13_pattern(self) -> None:
        """TLS 1.3 without keys: who gave up, read from the encrypted record pattern."""
        enc_side = _val(self.conn.get("encrypted_alert_from"))
        if "tls13_hidden" not in self.flags or enc_side not in ("client", "server") or self.established:
            return
        n_client = _encrypted_records(self.msgs, "c2s")
        self.v["n_client_encrypted"] = n_client
        # The server sends its whole flight first and can only fail after reading the client's.
        if enc_side == "client":
            self.flags.add("tls13_client_aborted")
        elif n_client >= 1:
            self.flags.add("tls13_server_aborted")


def _side(certificates: pd.DataFrame, side: str) -> pd.DataFrame:
    if certificates.empty:
        return certificates
    return certificates[certificates["side"].astype(object) == side]


Messages = Sequence[Mapping[str, Any]]


def _alerts(msgs: Messages, direction: str, code: int) -> Mapping[str, Any] | None:
    return next((m for m in msgs if m["direction"] == direction and m["alert_description"] == code), None)


def _client_second_flight(msgs: Messages) -> bool:
    """The client sent anything after the server's hello (key exchange, CCS, encrypted records)."""
    seen_sh = False
    for m in msgs:
        if m["direction"] == "s2c" and m["handshake_type"] == SERVER_HELLO:
            seen_sh = True
        elif seen_sh and m["direction"] == "c2s":
            return True
    return False


def _encrypted_records(msgs: Messages, direction: str) -> int:
    return len(_encrypted_sizes(msgs, direction))


def _encrypted_sizes(msgs: Messages, direction: str) -> list[int]:
    return [int(m["length"]) for m in msgs
            if m["direction"] == direction and m["encrypted"] and m["length"] is not None]


def _config_flags(cfg: Any, offered: list[int], codes: list[int], sni: str | None, v: dict[str, Any]) -> set[str]:
    flags = {"config_given"}
    v["config_source"] = str(getattr(cfg, "origin", None) or getattr(cfg, "source", None) or "server configuration")
    versions = {int(x) for x in (getattr(cfg, "versions", None) or ())}
    common_versions = versions & set(offered) if offered else versions
    v["config_versions"] = [registry.version_name(x) for x in sorted(versions)]
    if versions and offered and not common_versions:
        flags.add("config_no_common_version")
    suites12 = [int(x) for x in (getattr(cfg, "cipher_suites", None) or ())]
    suites13 = [int(x) for x in (getattr(cfg, "tls13_suites", None) or ())]
    allowed: set[int] = set()
    if not common_versions or any(x < TLS13 for x in common_versions):
        allowed |= set(suites12)
    if not common_versions or TLS13 in common_versions:
        allowed |= set(suites13)
    if (suites12 or suites13) and codes:
        common = [c for c in codes if c in allowed]
        v["config_common"] = [registry.cipher_suite_name(c) for c in common]
        flags.add("config_common_cipher" if common else "config_no_common_cipher")
    if getattr(cfg, "sni_required", None) is True:
        flags.add("config_sni_required")
    names = [str(n) for n in (getattr(cfg, "server_names", None) or ()) if n and n != "_"]
    if sni and names and not any(name_matches(sni, [n], [], None) for n in names):
        flags.add("config_sni_unlisted")
        v["config_server_names"] = names
    return flags
