"""The Truststore record every reader returns, and lookups on it."""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning

_DER = Encoding.DER

_F = TypeVar("_F", bound=Callable[..., Any])


def _mute_x509_warnings() -> None:
    # Call inside warnings.catch_warnings(): the filters last only for that block.
    warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)


def quiet_x509(fn: _F) -> _F:
    """Mute cryptography's complaints about real-world certificates while ``fn`` runs.

    Old CA names carry attributes longer than X.520 allows and some serials are negative;
    cryptography warns on access, which tells someone reading a capture nothing.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            _mute_x509_warnings()
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_certificate(data: bytes) -> x509.Certificate:
    """DER or PEM bytes to a certificate; ValueError when neither parses.

    Real-world certificates break RFC 5280 in small ways (negative serials); cryptography
    warns about those, which is noise for someone reading a capture, so it is silenced here.
    """
    with warnings.catch_warnings():
        _mute_x509_warnings()
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                cert = x509.load_pem_x509_certificate(data)
            else:
                cert = x509.load_der_x509_certificate(data)
            # cryptography decodes some fields on first access; decode the ones every check
            # needs now, so a damaged certificate fails here and not halfway through a verdict.
            _ = (cert.subject, cert.issuer, cert.extensions, cert.not_valid_before_utc, cert.not_valid_after_utc)
            return cert
        except ValueError:
            raise
        except Exception as exc:  # InvalidVersion and kin are not ValueErrors: one error type for callers
            raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def cert_serial(cert: x509.Certificate) -> str:
    """A certificate's serial number as lowercase hex (see serial_hex)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return serial_hex(cert.serial_number)


def serial_hex(serial: int) -> str:
    """Serial number as lowercase hex without leading zeros (negative serials keep a '-')."""
    return f"-{-serial:x}" if serial < 0 else f"{serial:x}"


def dn(name: x509.Name) -> str:
    """RFC 4514 text of a distinguished name."""
    with warnings.catch_warnings():  # over-long attributes in old CA names: print them anyway
        warnings.simplefilter("ignore", UserWarning)
        return name.rfc4514_string()


def normalize_dn(text: str) -> str:
    """A DN string normalised for comparison: RDNs in RFC 4514 order, case and spaces folded.

    Apigee and keytool print DNs in different orders and spacing ("CN=a, O=b" vs "O=b,CN=a");
    comparing the sorted set of lower-cased ``type=value`` pairs is enough to tell whether two
    printed DNs name the same subject.
    """
    pairs = []
    for rdn in _split_dn(text):
        if "=" not in rdn:
            continue
        k, v = rdn.split("=", 1)
        k = _DN_ALIASES.get(k.strip().upper(), k.strip().upper())
        if k.startswith("OID."):
            k = k[4:]
        pairs.append(f"{k}={' '.join(v.strip().lower().split())}")
    return ",".join(sorted(pairs))


def _split_dn(text: str) -> list[str]:
    """Split a printed DN into attribute=value parts, honouring quotes and backslash escapes."""
    parts: list[str] = []
    buf, escaped, quoted = "", False, False
    for ch in text:
        if escaped:
            buf += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in ",;+" and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return parts


_DN_ALIASES = {
    "EMAILADDRESS": "1.2.840.113549.1.9.1",
    "E": "1.2.840.113549.1.9.1",
    "S": "ST",
    "SP": "ST",
    "STREET": "STREET",
    "SERIALNUMBER": "2.5.4.5",
    "OID.2.5.4.5": "2.5.4.5",
}


@dataclass(frozen=True)
class TrustEntry:
    """One trusted certificate of a truststore.

    Attributes
    ----------
    alias: the entry's name (keystore alias, file name, or "#n" in a bundle).
    subject, issuer: RFC 4514 DNs.
    serial: lowercase hex.
    not_before, not_after: validity (tz-aware UTC).
    sha256: SHA-256 fingerprint of the DER, lowercase hex; None when the store holds no DER
        (Apigee certInfo JSON).
    certificate: the parsed certificate; None without DER.
    """

    alias: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    sha256: str | None
    certificate: x509.Certificate | None = field(default=None, compare=False, repr=False)

    @classmethod
    @quiet_x509
    def from_certificate(cls, cert: x509.Certificate, alias: str) -> TrustEntry:
        return cls(
            alias=alias,
            subject=dn(cert.subject),
            issuer=dn(cert.issuer),
            serial=cert_serial(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            sha256=hashlib.sha256(cert.public_bytes(_DER)).hexdigest(),
            certificate=cert,
        )


@dataclass(frozen=True)
class Truststore:
    """Trusted certificates read from a file, directory or the system store.

    Attributes
    ----------
    entries: the trusted certificates, in file order.
    source: where they were read (path, or "system:<path>").
    kind: "pem", "der", "directory", "jks", "pkcs12", "apigee", "system" or "memory".
    notes: things skipped while reading (private-key entries, unreadable files), as text.
    """

    entries: tuple[TrustEntry, ...]
    source: str
    kind: str
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TrustEntry]:
        return iter(self.entries)

    @classmethod
    def from_certificates(
        cls, certs: Iterable[x509.Certificate | bytes], *, source: str = "memory"
    ) -> Truststore:
        """A truststore from certificates or DER/PEM bytes already in memory."""
        out = []
        for i, c in enumerate(certs):
            if isinstance(c, bytes):
                c = load_certificate(c)
            out.append(TrustEntry.from_certificate(c, f"#{i}"))
        return cls(tuple(out), source, "memory")

    @property
    def certificates(self) -> list[x509.Certificate]:
        """The parsed certificates (entries without DER are left out)."""
        return [e.certificate for e in self.entries if e.certificate is not None]

    @functools.cached_property
    def _by_sha256(self) -> dict[str, TrustEntry]:
        return {e.sha256: e for e in reversed(self.entries) if e.sha256}

    @functools.cached_property
    def _by_subject(self) -> dict[str, list[TrustEntry]]:
        index: dict[str, list[TrustEntry]] = {}
        for e in self.entries:
            index.setdefault(normalize_dn(e.subject), []).append(e)
        return index

    def by_fingerprint(self, sha256: str) -> TrustEntry | None:
        """The entry whose DER has this SHA-256 fingerprint."""
        return self._by_sha256.get(sha256.lower().replace(":", ""))

    def by_subject(self, subject: str) -> list[TrustEntry]:
        """Entries whose subject DN names the same subject (order and case insensitive)."""
        return list(self._by_subject.get(normalize_dn(subject), ()))

    def find(self, cert: x509.Certificate) -> tuple[TrustEntry | None, str | None]:
        """The entry that is this certificate: by fingerprint, else by subject DN + serial.

        Returns (entry, how) where how is "fingerprint", "dn_serial" or None.
        """
        fp = hashlib.sha256(cert.public_bytes(_DER)).hexdigest()
        hit = self.by_fingerprint(fp)
        if hit is not None:
            return hit, "fingerprint"
        serial = cert_serial(cert)
        for e in self.by_subject(dn(cert.subject)):
            if e.serial.lower().lstrip("0") == serial.lstrip("0"):
                return e, "dn_serial"
        return None, None

