"""Synthetic PKIs for the certs tests, made with cryptography at test time (nothing stored).

Each helper returns real certificates signed by real keys, so chain building, signature
checks and the verifier run on genuine data. EC P-256 keys keep generation fast; RSA is used
where a test is about RSA key sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)  # the "capture time" of the tests
Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def name(cn: str, org: str = "tlskit test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    subject: x509.Name,
    key: Key,
    *,
    issuer: x509.Name | None = None,
    issuer_key: Key | None = None,
    ca: bool = False,
    not_before: datetime = T0 - timedelta(days=30),
    not_after: datetime = T0 + timedelta(days=300),
    dns: list[str] | None = None,
    ips: list[str] | None = None,
    serial: int | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    path_length: int | None = None,
) -> x509.Certificate:
    issuer = issuer or subject
    issuer_key = issuer_key or key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)  # type: ignore[arg-type]
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    names += [x509.IPAddress(ip_address(i)) for i in ips or []]
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return b.sign(issuer_key, hash_alg or hashes.SHA256())  # type: ignore[arg-type]


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


@dataclass
class Pki:
    root_key: Key
    root: x509.Certificate
    inter_key: Key
    inter: x509.Certificate
    leaf_key: Key
    leaf: x509.Certificate

    @property
    def chain(self) -> list[bytes]:
        """What a correctly configured server sends: leaf and intermediate, not the root."""
        return [der(self.leaf), der(self.inter)]


def make_pki(
    *, root_cn: str = "Test Root CA", dns: list[str] | None = None, leaf_kwargs: dict | None = None
) -> Pki:
    rk, ik, lk = ec_key(), ec_key(), ec_key()
    root = make_cert(name(root_cn), rk, ca=True, not_before=T0 - timedelta(days=3000), not_after=T0 + timedelta(days=3000))
    inter = make_cert(name("Test Issuing CA"), ik, issuer=root.subject, issuer_key=rk, ca=True,
                      not_before=T0 - timedelta(days=1000), not_after=T0 + timedelta(days=1000))
    leaf = make_cert(name("api.example.com"), lk, issuer=inter.subject, issuer_key=ik,
                     dns=dns if dns is not None else ["api.example.com", "*.apps.example.com"],
                     **(leaf_kwargs or {}))
    return Pki(rk, root, ik, inter, lk, leaf)
