"""tlskit.x509.describe on certificates generated here with cryptography (fixed dates)."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timezone

import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tlskit.schema import CERTIFICATES, conform
from tlskit.x509 import COLUMNS, describe

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T1 = datetime(2025, 1, 1, tzinfo=timezone.utc)
SHA256 = hashes.SHA256()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, org: str = "tlskit test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, pub, signer, *, serial=0x1F2E, ca=None, san=None, before=T0, after=T1, algo=SHA256):
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(pub)
        .serial_number(serial)
        .not_valid_before(before)
        .not_valid_after(after)
    )
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(signer, algo).public_bytes(serialization.Encoding.DER)


def test_self_signed_rsa_ca(rsa_key) -> None:
    der = _cert(_name("Test Root"), _name("Test Root"), rsa_key.public_key(), rsa_key, ca=True)
    row = describe(der)
    assert set(row) == set(COLUMNS)
    assert row["subject"] == "CN=Test Root,O=tlskit test"
    assert row["issuer"] == row["subject"]
    assert row["subject_cn"] == "Test Root"
    assert row["serial"] == "1f2e"
    assert row["not_before"] == T0 and row["not_after"] == T1
    assert row["sha256"] == hashlib.sha256(der).hexdigest()
    assert (row["key_type"], row["key_size"]) == ("RSA", 2048)
    assert row["signature_algorithm"] == "sha256WithRSAEncryption"
    assert row["is_ca"] is True and row["self_signed"] is True
    assert row["der"] == der and row["parse_error"] is None


def test_ec_leaf_with_sans_signed_by_ca(rsa_key) -> None:
    leaf_key = ec.generate_private_key(ec.SECP384R1())
    san = [x509.DNSName("api.example.com"), x509.DNSName("*.example.com"), x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]
    der = _cert(_name("api.example.com"), _name("Test Root"), leaf_key.public_key(), rsa_key, ca=False, san=san)
    row = describe(der)
    assert row["san_dns"] == ["api.example.com", "*.example.com"]
    assert row["san_ip"] == ["10.1.2.3"]
    assert (row["key_type"], row["key_size"]) == ("EC", 384)
    assert row["is_ca"] is False and row["self_signed"] is False


def test_same_name_but_other_signer_is_not_self_signed(rsa_key) -> None:
    # Subject == issuer is not enough: an impostor root signed by another key.
    other = ec.generate_private_key(ec.SECP256R1())
    der = _cert(_name("Test Root"), _name("Test Root"), other.public_key(), rsa_key, ca=True)
    row = describe(der)
    assert row["subject"] == row["issuer"]
    assert row["self_signed"] is False


def test_ed25519_without_extensions_and_far_future_expiry() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    der = _cert(_name("ed"), _name("ed"), key.public_key(), key, after=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), algo=None)
    row = describe(der)
    assert (row["key_type"], row["key_size"]) == ("Ed25519", 256)
    assert row["signature_algorithm"] == "ed25519"
    assert row["is_ca"] is False and row["self_signed"] is True
    assert row["not_after"].year == 2262  # clamped into datetime64[ns]
    frame = conform([{**row, "conn_id": 0, "side": "server", "position": 0}], CERTIFICATES)
    assert frame.loc[0, "not_after"].year == 2262 and frame.loc[0, "subject_cn"] == "ed"


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01", b"not a certificate at all", bytes(range(256))])
def test_garbage_gives_a_row_with_parse_error(der: bytes) -> None:
    row = describe(der)
    assert row["parse_error"] and "not a DER X.509 certificate" in row["parse_error"]
    assert row["sha256"] == hashlib.sha256(der).hexdigest() and row["der"] == der
    assert row["subject"] is None and row["san_dns"] == [] and row["self_signed"] is None


def test_truncated_certificate(rsa_key) -> None:
    der = _cert(_name("x"), _name("x"), rsa_key.public_key(), rsa_key)
    assert describe(der[:-10])["parse_error"]


def test_serial_is_hex_without_leading_zeros_like_tlskit_certs(rsa_key) -> None:
    from tlskit.certs._store import serial_hex

    der = _cert(_name("x"), _name("x"), rsa_key.public_key(), rsa_key, serial=0xF1965D11E3FF07EE)
    assert describe(der)["serial"] == "f1965d11e3ff07ee" == serial_hex(0xF1965D11E3FF07EE)


def test_real_certificates_match_arkime() -> None:
    """Every certificate Arkime extracted from its TCP test captures (serial, validity,
    SHA-1, CN, SANs) reads the same through tlskit.load -> tlskit.x509.describe."""
    import json
    import warnings

    from tests.conftest import CONFORMANCE
    from tlskit.capture import load

    fp = CONFORMANCE / "fingerprints"
    if not (fp / "expected.json").exists():
        pytest.skip("conformance data not available")
    expected = json.loads((fp / "expected.json").read_text())
    checked = 0
    for name, entry in sorted(expected.items()):
        sessions = [s for s in entry["expected"].get("arkime_sessions", []) if "tcp" in s.get("protocol", []) and s.get("cert")]
        if not sessions:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = load(fp / name).certificates
        by_sha1 = {hashlib.sha1(d).hexdigest(): row for d, row in zip(certs["der"], certs.itertuples(), strict=True)}
        for session in sessions:
            for c in session["cert"]:
                row = by_sha1.get(c["hash"].replace(":", ""))
                assert row is not None, f"{name}: certificate {c['hash']} not found"
                assert row.serial == c["serial"].lstrip("0"), name  # Arkime keeps the DER sign byte
                assert int(row.not_before.timestamp() * 1000) == c["notBefore"], name
                assert int(row.not_after.timestamp() * 1000) == c["notAfter"], name
                if c.get("subjectCN"):
                    assert row.subject_cn.lower() == c["subjectCN"][0], name
                if c.get("alt"):
                    assert {a.lower() for a in row.san_dns} >= set(c["alt"]), name
                assert pd.isna(row.parse_error), name
                checked += 1
    assert checked >= 30  # the Arkime set has 40-odd TCP certificates
