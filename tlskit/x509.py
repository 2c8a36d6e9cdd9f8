"""One X.509 certificate -> one row of the ``certificates`` table (minus where it was seen).

Certificates in captures are whatever servers sent: expired, self-signed, with odd
encodings. :func:`describe` never raises on them: a certificate ``cryptography`` cannot
parse still gets a row (its DER and SHA-256) with ``parse_error`` saying why, and a field
that alone fails to decode is left empty with the reason added to ``parse_error``.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

# The CERTIFICATES columns describe() fills (conn_id/side/position/frame/time come from the capture).
COLUMNS = (
    "subject", "issuer", "subject_cn", "san_dns", "san_ip", "serial", "not_before", "not_after",
    "sha256", "key_type", "key_size", "signature_algorithm", "is_ca", "self_signed", "der", "parse_error",
)

# datetime64[ns] spans 1677-09-21 .. 2262-04-11; certificates say 9999-12-31 for "never".
_TS_MIN = pd.Timestamp.min.tz_localize(timezone.utc).ceil("s").to_pydatetime()
_TS_MAX = pd.Timestamp.max.tz_localize(timezone.utc).floor("s").to_pydatetime()


def _clamp(t: datetime) -> datetime:
    return min(max(t, _TS_MIN), _TS_MAX)


def _empty_row(der: bytes) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(san_dns=[], san_ip=[], der=bytes(der), sha256=hashlib.sha256(der).hexdigest())
    return row


def _key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__.removesuffix("PublicKey") or None, None


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)  # cryptography's readable name, e.g. sha256WithRSAEncryption
    return name if name and name != "Unknown OID" else oid.dotted_string


def _cn(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _serial_hex(n: int) -> str:
    # Lowercase hex without leading zeros, '-' for the (invalid but seen) negative ones: the
    # form tlskit.certs and tlskit.jsse use, so serials compare across tables. Arkime and
    # Suricata print the DER bytes instead (a leading 00 when the high bit is set).
    return f"-{-n:x}" if n < 0 else f"{n:x}"


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # InvalidSignature, unsupported key/algorithm (ValueError, TypeError)
        return False
    return True


def describe(der: bytes) -> dict[str, Any]:
    """Describe one DER certificate as a ``certificates`` row (without the capture columns).

    Returns
    -------
    dict
        subject, issuer (RFC 4514), subject_cn, san_dns (list), san_ip (list of str),
        serial (lowercase hex, no leading zeros, as in tlskit.certs), not_before /
        not_after (tz-aware UTC datetimes, clamped to the datetime64[ns] range:
        9999-12-31 becomes 2262-04-11), sha256 (hex of the DER),
        key_type (RSA, EC, Ed25519, Ed448, DSA, ...), key_size (bits), signature_algorithm,
        is_ca (basicConstraints CA flag; False without the extension), self_signed (subject
        equals issuer and the signature verifies with its own key), der, parse_error (None,
        or why the certificate or one of its fields could not be decoded).
    """
    der = bytes(der)
    row = _empty_row(der)
    problems: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. negative serial: still describe it
            cert = x509.load_der_x509_certificate(der)
    except Exception as err:  # ValueError for bad DER; keep the row, say why
        row["parse_error"] = f"not a DER X.509 certificate: {err}"
        return row

    def field(name: str, fn: Any) -> None:
        try:
            row[name] = fn()
        except Exception as err:  # one undecodable field must not hide the others
            problems.append(f"{name}: {err}")

    field("subject", lambda: cert.subject.rfc4514_string())
    field("issuer", lambda: cert.issuer.rfc4514_string())
    field("subject_cn", lambda: _cn(cert.subject))
    field("serial", lambda: _serial_hex(cert.serial_number))
    field("not_before", lambda: _clamp(cert.not_valid_before_utc))
    field("not_after", lambda: _clamp(cert.not_valid_after_utc))
    field("signature_algorithm", lambda: _oid_name(cert.signature_algorithm_oid))
    try:
        row["key_type"], row["key_size"] = _key(cert)
    except Exception as err:
        problems.append(f"public key: {err}")
        with contextlib.suppress(Exception):  # at least name the algorithm
            row["key_type"] = _oid_name(cert.public_key_algorithm_oid)
    try:
        exts = cert.extensions
    except Exception as err:
        problems.append(f"extensions: {err}")
    else:
        try:
            san = exts.get_extension_for_class(x509.SubjectAlternativeName).value
            row["san_dns"] = list(san.get_values_for_type(x509.DNSName))
            row["san_ip"] = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            pass
        try:
            row["is_ca"] = bool(exts.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            row["is_ca"] = False
    row["self_signed"] = _self_signed(cert)
    if problems:
        row["parse_error"] = "; ".join(problems)
    return row


__all__ = ["COLUMNS", "describe"]
