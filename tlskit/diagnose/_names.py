"""Host-name matching as TLS clients do it (RFC 6125, the rules OpenSSL and JSSE apply).

A DNS name matches a SAN dNSName exactly (case-insensitive, trailing dot ignored) or through a
wildcard that stands for exactly one whole left-most label (``*.example.com`` covers
``a.example.com``, not ``example.com`` nor ``a.b.example.com``). The subject CN is consulted
only when the certificate has no dNSName at all; IP addresses match iPAddress entries only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from tlskit._hosts import is_ip_literal


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


is_ip = is_ip_literal  # the name this module's callers use


def dns_matches(pattern: str, name: str) -> bool:
    """True when ``pattern`` (a SAN dNSName or CN) covers host ``name``."""
    p, n = _norm(pattern), _norm(name)
    if not p or not n:
        return False
    if p == n:
        return True
    if not p.startswith("*."):
        return False
    suffix = p[1:]  # ".example.com"
    head, _, rest = n.partition(".")
    # one whole label, and never a wildcard directly under a public suffix such as "*.com"
    return bool(head) and "." + rest == suffix and suffix.count(".") >= 2


def name_matches(
    name: str, san_dns: Sequence[str], san_ip: Sequence[str], subject_cn: str | None
) -> bool:
    """Whether a certificate with these names is valid for host ``name``."""
    if is_ip(name):
        want = ipaddress.ip_address(name)
        return any(_same_ip(want, ip) for ip in san_ip)
    if san_dns:
        return any(dns_matches(p, name) for p in san_dns)
    return bool(subject_cn) and dns_matches(str(subject_cn), name)


def _same_ip(want: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(str(text).strip()) == want
    except ValueError:
        return False
