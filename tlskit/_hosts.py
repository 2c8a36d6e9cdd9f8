"""Host names as users type them: is it an IP address or a DNS name?

Shared by :mod:`tlskit.sni` and :mod:`tlskit.capture_plan` (would a client send the host as
SNI? RFC 6066 section 3 forbids IP literals there), the diagnosis's name matching and the
report's redaction of addresses.
"""

from __future__ import annotations

import ipaddress


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (``"10.0.0.1"``, ``"::1"``), False for a DNS name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
