"""Host name checks against a certificate, as RFC 6125 describes them.

Clients compare the name they asked for with the certificate's subjectAltName DNS names. A
wildcard is honoured only as the whole left-most label (``*.example.com``), matches exactly
one label, and never stands for a registered domain itself (``*.com``). IP addresses match
only subjectAltName iPAddress entries, never DNS names or the common name.

The subject common name is a legacy fallback, used only when there are no DNS names at all
(RFC 6125 §6.4.4). Browsers, Go and Python's ssl no longer use it (RFC 9525 dropped it);
Java's HostnameChecker, curl and OpenSSL's X509_check_host still do. ``cn_fallback`` picks
which behaviour to model; without it a CN-only match is still reported (``cn_match``).
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class HostnameCheck:
    """Result of checking one host name against one certificate.

    Attributes
    ----------
    hostname: the name checked (lower-cased, trailing dot removed).
    matches: True when a presented name matched.
    names_checked: the certificate names compared, in the order a client compares them.
    matched_name: the presented name that matched, else None.
    source: "san_dns", "san_ip" or "subject_cn": where names_checked came from.
    cn_match: the subject CN would match (relevant when the fallback is off and the
        certificate has no DNS names).
    """

    hostname: str
    matches: bool
    names_checked: tuple[str, ...]
    matched_name: str | None
    source: str
    cn_match: bool = False


def _norm(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if not name.isascii():  # certificates carry IDNs as A-labels (xn--...)
        with contextlib.suppress(UnicodeError):  # not a valid IDN: compare as typed
            name = name.encode("idna").decode("ascii")
    return name


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def wildcard_matches(pattern: str, hostname: str) -> bool:
    """Does one presented DNS name match the host name under RFC 6125's wildcard rule?"""
    pattern, hostname = _norm(pattern), _norm(hostname)
    if not pattern or not hostname:
        return False
    if "*" not in pattern:
        return pattern == hostname
    p_labels, h_labels = pattern.split("."), hostname.split(".")
    # Only a left-most label that is exactly "*", with at least two labels after it.
    if p_labels[0] != "*" or "*" in ".".join(p_labels[1:]) or len(p_labels) < 3:
        return False
    if len(p_labels) != len(h_labels) or _ip(hostname) is not None:
        return False
    return p_labels[1:] == h_labels[1:] and h_labels[0] != ""


def presented_names(cert: x509.Certificate) -> tuple[list[str], list[str], list[str]]:
    """(SAN DNS names, SAN IP addresses as text, subject CNs) of a certificate."""
    dns: list[str] = []
    ips: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return dns, ips, cns


def check_hostname(cert: x509.Certificate, hostname: str, *, cn_fallback: bool = False) -> HostnameCheck:
    """Check ``hostname`` against ``cert`` the way an RFC 6125 client does.

    ``cn_fallback=True`` models clients that still read the subject CN when the certificate
    has no DNS names (Java, curl, OpenSSL's X509_check_host); the default models browsers,
    Go and Python.
    """
    host = _norm(hostname)
    dns, ips, cns = presented_names(cert)
    addr = _ip(host)
    if addr is not None:
        hit = next((i for i in ips if _ip(i) == addr), None)
        return HostnameCheck(host, hit is not None, tuple(ips), hit, "san_ip")
    if dns:
        hit = next((n for n in dns if wildcard_matches(n, host)), None)
        return HostnameCheck(host, hit is not None, tuple(dns), hit, "san_dns")
    # No DNS names at all: only then may the common name be consulted.
    cn_hit = next((n for n in cns if wildcard_matches(n, host)), None)
    if cn_fallback:
        return HostnameCheck(host, cn_hit is not None, tuple(cns), cn_hit, "subject_cn", cn_hit is not None)
    return HostnameCheck(host, False, (), None, "san_dns", cn_hit is not None)
