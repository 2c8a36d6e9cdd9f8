"""Is the server SNI-enabled? The guide's test, automated.

`probe_sni` connects to a live server three times: without server_name, with the expected
name, and with a name the server cannot know. From whether each handshake fails, which alert
comes back and which certificate is served, it tells whether the server needs SNI, picks its
certificate by SNI, rejects unknown names (fatal or with the warning a Java client turns
fatal), or ignores SNI. Certificates are not validated here: the point is what is served.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from tlskit import registry
from tlskit._hosts import is_ip_literal

WRONG_NAME = "tlskit-sni-probe.invalid"  # RFC 2606: never a real name

VERDICTS = {
    "requires_sni": "The server needs server_name: a handshake without SNI fails. Clients that do not send SNI "
                    "(a Java client with jsse.enableSNIExtension=false) cannot connect.",
    "selects_certificate_by_sni": "The server picks its certificate by SNI: without SNI it serves a different "
                                  "(default) certificate, so a client without SNI sees a host-name mismatch.",
    "rejects_unknown_names": "The server rejects names it does not know (fatal alert).",
    "warns_unknown_names": "The server answers unknown names with a warning-level unrecognized_name alert: "
                           "OpenSSL clients continue, Java clients treat it as fatal.",
    "ignores_sni": "The server serves the same certificate with and without SNI and accepts any name.",
    "unreachable": "No handshake could be attempted (connection refused or timed out).",
}


@dataclass(frozen=True)
class SniAttempt:
    label: str
    server_name: str | None
    ok: bool
    error: str | None = None  # the handshake error in one line
    alert: str | None = None  # fatal alert received (IANA name)
    warning_alerts: tuple[str, ...] = ()
    version: str | None = None
    cert_sha256: str | None = None
    cert_subject: str | None = None
    cert_names: tuple[str, ...] = ()
    connected: bool = True  # TCP connect succeeded


@dataclass(frozen=True)
class SniProbe:
    host: str
    port: int
    name: str | None
    attempts: tuple[SniAttempt, ...]
    verdicts: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def requires_sni(self) -> bool:
        return "requires_sni" in self.verdicts

    def explain(self) -> list[str]:
        return [VERDICTS[v] for v in self.verdicts] + list(self.notes)

    def to_frame(self) -> Any:
        """The attempts as a DataFrame (label, server_name, ok, alert, warnings, version, cert)."""
        import pandas as pd

        return pd.DataFrame(
            [{
                "attempt": a.label, "server_name": a.server_name, "handshake": "ok" if a.ok else "failed",
                "alert": a.alert, "warning_alerts": list(a.warning_alerts), "version": a.version,
                "certificate": a.cert_subject, "cert_sha256": a.cert_sha256, "error": a.error,
            } for a in self.attempts]
        )


def _cert_facts(der: bytes | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    if not der:
        return None, None, ()
    digest = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = ()
    except ValueError:
        subject, names = None, ()
    return digest, subject, names


def _attempt(host: str, port: int, label: str, server_name: str | None, timeout: float) -> SniAttempt:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we want to see what is served, not to judge it here
    received: list[tuple[int, int]] = []

    def on_message(conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: bytes) -> None:
        if direction == "read" and content_type == ssl._TLSContentType.ALERT and len(data) >= 2:  # type: ignore[attr-defined]
            received.append((data[0], data[1]))

    # CPython's (private, stable since 3.8) TLS message hook: the only way to see warning alerts.
    if hasattr(ctx, "_msg_callback"):
        ctx._msg_callback = on_message
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return SniAttempt(label, server_name, False, error=f"TCP connect failed: {exc}", connected=False)
    try:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            digest, subject, names = _cert_facts(der)
            warnings = tuple(registry.alert_name(d) for lvl, d in received if lvl == 1)
            return SniAttempt(label, server_name, True, version=tls.version(), cert_sha256=digest,
                              cert_subject=subject, cert_names=names, warning_alerts=warnings)
    except (ssl.SSLError, OSError) as exc:
        fatal = [d for lvl, d in received if lvl == 2]
        warnings = tuple(registry.alert_name(d) for lvl, d in received if lvl == 1)
        alert = registry.alert_name(fatal[0]) if fatal else None
        reason = getattr(exc, "reason", None) or str(exc)
        return SniAttempt(label, server_name, False, error=str(reason), alert=alert, warning_alerts=warnings)
    finally:
        sock.close()


def probe_sni(host: str, port: int = 443, name: str | None = None, *, wrong_name: str = WRONG_NAME,
              timeout: float = 5.0) -> SniProbe:
    """Probe a live server's SNI behaviour with three handshakes.

    Parameters
    ----------
    host, port : the server to connect to.
    name : the host name clients use (the URL's host); defaults to ``host`` when it is a name.
    wrong_name : a name the server cannot know.
    timeout : seconds for each connect and handshake.

    Returns
    -------
    SniProbe with one attempt per handshake and the verdicts (keys of ``VERDICTS``);
    ``to_frame()`` gives a table.
    """
    notes: list[str] = []
    if name is None and not is_ip_literal(host):
        name = host
    attempts = [_attempt(host, port, "without SNI", None, timeout)]
    if name:
        attempts.append(_attempt(host, port, f"with SNI {name}", name, timeout))
    else:
        notes.append("No host name given (the target is an IP address): pass --name with the URL's host "
                     "name to test the server with the name clients send.")
    attempts.append(_attempt(host, port, f"with an unknown name ({wrong_name})", wrong_name, timeout))

    if not any(a.connected for a in attempts):
        return SniProbe(host, port, name, tuple(attempts), ("unreachable",), tuple(notes))
    bare = attempts[0]
    named = attempts[1] if name else None
    wrong = attempts[-1]
    verdicts: list[str] = []
    reference = named if named is not None else wrong
    if not bare.ok and reference.ok:
        verdicts.append("requires_sni")
    if bare.ok and named is not None and named.ok and bare.cert_sha256 != named.cert_sha256:
        verdicts.append("selects_certificate_by_sni")
    if named is not None and named.ok and not wrong.ok:
        verdicts.append("rejects_unknown_names")
    if wrong.ok and "unrecognized_name" in wrong.warning_alerts:
        verdicts.append("warns_unknown_names")
    if not verdicts and all(a.ok for a in attempts) and len({a.cert_sha256 for a in attempts}) == 1:
        verdicts.append("ignores_sni")
    if named is not None and not named.ok:
        notes.append(f"The handshake fails even with SNI {name} ({named.alert or named.error}): the problem is "
                     "not (only) SNI; run `tlskit diagnose` on a capture of it.")
    return SniProbe(host, port, name, tuple(attempts), tuple(verdicts), tuple(notes))
