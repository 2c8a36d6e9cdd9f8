"""The lab PKI dates everything from the time it is given, never from the clock."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from tlskit.lab._pki import DAY, Pki

AT = dt.datetime(2011, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)


def test_validity_is_relative_to_at() -> None:
    pki = Pki(AT)
    root = pki.root("R", "org")
    ca = pki.intermediate("I", root)
    good = pki.leaf("a.example", ca)
    expired = pki.leaf("a.example", ca, not_before=-400 * DAY, not_after=-35 * DAY)
    assert good.cert.not_valid_before_utc == AT - 30 * DAY
    assert good.cert.not_valid_after_utc == AT + 365 * DAY
    assert expired.cert.not_valid_after_utc == AT - 35 * DAY
    assert root.cert.not_valid_before_utc < AT < root.cert.not_valid_after_utc
    assert good.chain == [ca.cert, root.cert]


def test_names_and_signers() -> None:
    pki = Pki(AT)
    root = pki.root("R", "org")
    cn_only = pki.leaf("cn.example", root, san=[])
    with_ip = pki.leaf("host.example", root, san=["host.example", "192.0.2.7"])
    selfsigned = pki.leaf("self.example", None)
    assert not any(isinstance(e.value, x509.SubjectAlternativeName) for e in cn_only.cert.extensions)
    san = with_ip.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["host.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    assert selfsigned.cert.issuer == selfsigned.cert.subject and selfsigned.chain == []
    selfsigned.cert.verify_directly_issued_by(selfsigned.cert)
    with_ip.cert.verify_directly_issued_by(root.cert)
    serials = {c.cert.serial_number for c in (root, cn_only, with_ip, selfsigned)}
    assert len(serials) == 4
