"""Host-name matching as OpenSSL and JSSE do it (RFC 6125)."""

from __future__ import annotations

import pytest

from tlskit.diagnose._names import dns_matches, name_matches


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("api.example.com", "API.Example.com.", True),
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "example.com", False),  # a wildcard needs a label
        ("*.example.com", "a.b.example.com", False),  # exactly one label
        ("*.com", "example.com", False),  # never under a bare public suffix
        ("api.example.com", "api.example.org", False),
        ("", "api.example.com", False),
    ],
)
def test_dns_matches(pattern: str, name: str, expected: bool) -> None:
    assert dns_matches(pattern, name) is expected


def test_cn_is_read_only_without_dns_sans() -> None:
    assert name_matches("api.example.com", [], [], "api.example.com")
    assert not name_matches("api.example.com", ["www.example.com"], [], "api.example.com")


def test_ip_names_match_ip_sans_only() -> None:
    assert name_matches("10.0.0.2", ["10.0.0.2"], ["10.0.0.2"], None)
    assert not name_matches("10.0.0.2", ["10.0.0.2"], [], "10.0.0.2")
    assert name_matches("::1", [], ["0:0:0:0:0:0:0:1"], None)
