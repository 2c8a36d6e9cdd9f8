"""A small lab PKI made with cryptography: roots, intermediates and leaves.

Validity is relative to ``at`` (the capture's first timestamp), so a certificate the lab
means to be valid stays valid when judged at the capture's time, however old the committed
capture gets, and an expired one is expired at that time. Keys are EC P-256 unless RSA is
asked for (RSA key exchange suites need an RSA certificate).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DAY = dt.timedelta(days=1)


@dataclass
class Issued:
    """A certificate with its key and the chain above it (issuer first, root last)."""

    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def name(self) -> str:
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else self.cert.subject.rfc4514_string()

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def new_key(kind: str = "ec") -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


class Pki:
    """Issue certificates relative to ``at``; serial numbers come from a counter (stable)."""

    def __init__(self, at: dt.datetime, *, serial_base: int = 0x1AB0000):
        self.at = at.replace(microsecond=0)
        self._serial = serial_base

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def root(self, cn: str, org: str, *, key: str = "ec") -> Issued:
        k = new_key(key)
        name = _name(cn, org)
        b = self._builder(name, name, k, self.at - 3650 * DAY, self.at + 3650 * DAY)
        b = self._ca_extensions(b, k, None, path_length=1)
        return Issued(b.sign(k, hashes.SHA256()), k, [])

    def intermediate(self, cn: str, issuer: Issued) -> Issued:
        k = new_key("ec")
        b = self._builder(_name(cn, _org(issuer)), issuer.cert.subject, k,
                          self.at - 1000 * DAY, self.at + 1800 * DAY)
        b = self._ca_extensions(b, k, issuer, path_length=0)
        return Issued(b.sign(issuer.key, hashes.SHA256()), k, [issuer.cert, *issuer.chain])

    def leaf(self, cn: str, issuer: Issued | None, *, san: list[str] | None = None,
             key: str = "ec", not_before: dt.timedelta = -30 * DAY,
             not_after: dt.timedelta = 365 * DAY, client: bool = False) -> Issued:
        """A server (or with ``client=True`` a client) certificate.

        ``san`` lists DNS names or IP addresses; ``[]`` makes a CN-only certificate; ``None``
        puts the CN in the SAN. ``issuer=None`` makes it self-signed. Validity bounds are
        offsets from ``at``.
        """
        k = new_key(key)
        subject = _name(cn, _org(issuer) if issuer else "tlskit lab self-signed")
        issuer_name = issuer.cert.subject if issuer else subject
        b = self._builder(subject, issuer_name, k, self.at + not_before, self.at + not_after)
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        usage = x509.KeyUsage(digital_signature=True, key_encipherment=key == "rsa",
                              content_commitment=False, data_encipherment=False,
                              key_agreement=False, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
        b = b.add_extension(usage, critical=True)
        eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        names = [cn] if san is None else san
        if names:
            b = b.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                critical=False)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
        if issuer:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False)
        signer = issuer.key if issuer else k
        chain = [issuer.cert, *issuer.chain] if issuer else []
        return Issued(b.sign(signer, hashes.SHA256()), k, chain)

    def _builder(self, subject: x509.Name, issuer: x509.Name, key: PrivateKey,
                 not_before: dt.datetime, not_after: dt.datetime) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(key.public_key()).serial_number(self._next_serial())
                .not_valid_before(not_before).not_valid_after(not_after))

    def _ca_extensions(self, b: x509.CertificateBuilder, key: PrivateKey, issuer: Issued | None,
                       path_length: int) -> x509.CertificateBuilder:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          key_encipherment=False, content_commitment=False,
                                          data_encipherment=False, key_agreement=False,
                                          encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        signer_pub = (issuer.key if issuer else key).public_key()
        return b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_pub),
                               critical=False)


def _org(issued: Issued | None) -> str:
    if issued is None:
        return "tlskit lab"
    attrs = issued.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else "tlskit lab"


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def pem_bundle(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
