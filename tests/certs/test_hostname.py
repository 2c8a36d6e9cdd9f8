"""RFC 6125 host name rules."""

from __future__ import annotations

import pytest

from tests.certs.pki import ec_key, make_cert, name
from tlskit.certs import check_hostname, wildcard_matches


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "WWW.Example.COM.", True),
        ("*.example.com", "example.com", False),  # the wildcard needs a label
        ("*.example.com", "a.b.example.com", False),  # ...and only one
        ("w*.example.com", "www.example.com", False),  # partial wildcards are not honoured
        ("www.*.com", "www.example.com", False),  # only the left-most label
        ("*.com", "example.com", False),  # not a whole registered domain
        ("*.10.0.0", "1.10.0.0", False),  # never for IP addresses
        ("api.example.com", "api.example.com", True),
        ("api.example.com", "api.example.co", False),
        ("*.xn--bcher-kva.example", "shop.bücher.example", True),  # IDNs compare as A-labels
    ],
)
def test_wildcard_rule(pattern: str, host: str, ok: bool) -> None:
    assert wildcard_matches(pattern, host) is ok


def test_common_name_is_a_legacy_fallback_only_without_san_dns() -> None:
    cn_only = make_cert(name("legacy.example.com"), ec_key())
    modern = check_hostname(cn_only, "legacy.example.com")  # browsers, Go, Python
    assert not modern.matches and modern.cn_match and modern.names_checked == ()
    legacy = check_hostname(cn_only, "legacy.example.com", cn_fallback=True)  # Java, curl
    assert legacy.matches and legacy.source == "subject_cn" and legacy.matched_name == "legacy.example.com"
    both = make_cert(name("legacy.example.com"), ec_key(), dns=["new.example.com"])
    hc = check_hostname(both, "legacy.example.com", cn_fallback=True)
    assert not hc.matches and hc.names_checked == ("new.example.com",) and hc.source == "san_dns"
    assert not hc.cn_match  # with DNS names present the CN is never consulted


def test_cn_only_mismatch_is_explained() -> None:
    from tests.certs.pki import T0, der
    from tlskit.certs import verify_chain

    cn_only = make_cert(name("legacy.example.com"), ec_key())
    v = verify_chain([der(cn_only)], truststore=None, hostname="legacy.example.com", at=T0)
    assert [p.code for p in v.problems][:2] == ["self_signed", "hostname_mismatch"]
    assert "only in the subject CN" in v.problems[1].detail
    v = verify_chain([der(cn_only)], hostname="legacy.example.com", at=T0, cn_fallback=True)
    assert v.hostname_matches is True
