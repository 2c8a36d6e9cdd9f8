"""Truststore readers: PEM bundles, DER files, directories, JKS/JCEKS, PKCS#12, Apigee
certInfo JSON and the operating system's store. ``load_truststore`` picks by content."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import pkcs12

from tlskit.certs._jks import JksFormatError, JksPasswordError, is_jks, read_jks
from tlskit.certs._store import TrustEntry, Truststore, load_certificate
from tlskit.errors import TruststoreError

# Where distributions keep the system CA bundle, most common first.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL, Fedora, CentOS
    "/etc/ssl/ca-bundle.pem",  # SUSE
    "/etc/ssl/cert.pem",  # macOS, OpenBSD, Alpine
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
)
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".cert", ".ca-bundle"}
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_HASH_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")  # c_rehash links (5d3033c5.0)


def load_truststore(path: str | Path, *, password: str | None = None) -> Truststore:
    """Read trusted certificates from a file, a directory, or ``"system"``.

    Parameters
    ----------
    path: a PEM bundle, a DER certificate, a directory of PEM/DER files (c_rehash style is
        fine), a Java keystore (JKS, JCEKS, PKCS#12 as keytool writes them), an Apigee
        keystore/truststore certInfo JSON, or ``"system"`` for the platform's CA bundle.
    password: the store password of a JKS/JCEKS/PKCS#12 file. JKS can be read without it
        (the integrity check is then skipped, as ``keytool -list`` does); PKCS#12 needs it
        unless the store was written without one.

    Returns
    -------
    Truststore
        ``.entries`` (alias, subject, issuer, serial, not_before, not_after, sha256,
        certificate), ``.source``, ``.kind``, ``.notes``.

    Raises
    ------
    TruststoreError
        Missing file, wrong password, damaged store or unknown format; the message names the
        file and the fix.
    """
    if str(path) == "system":
        return system_truststore()
    p = Path(path).expanduser()
    if p.is_dir():
        return _read_directory(p)
    if not p.exists():
        raise TruststoreError("truststore file not found", path=p, fix="check the path (or pass \"system\")")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TruststoreError(f"cannot read the truststore ({exc.strerror})", path=p,
                              fix="check the file's permissions") from exc
    if not data.strip():
        raise TruststoreError("the truststore file is empty", path=p, fix="export the store again")
    return _read_bytes(data, p, password)


def as_truststore(store: Truststore | str | Path | None, *, password: str | None = None) -> Truststore | None:
    """A Truststore as given, or loaded from a path (or "system"); None stays None."""
    if store is None or isinstance(store, Truststore):
        return store
    if isinstance(store, (str, Path)):
        return load_truststore(store, password=password)
    raise TypeError(f"truststore must be a Truststore, a path or None, not {type(store).__name__}")


def system_truststore() -> Truststore:
    """The operating system's CA bundle (the first of SYSTEM_BUNDLES present, else Python's)."""
    candidates = list(SYSTEM_BUNDLES)
    paths = ssl.get_default_verify_paths()
    candidates += [c for c in (paths.cafile, paths.openssl_cafile) if c]
    for c in candidates:
        if Path(c).is_file():
            store = _read_bytes(Path(c).read_bytes(), Path(c), None)
            return Truststore(store.entries, f"system:{c}", "system", store.notes)
    capath = paths.capath or paths.openssl_capath
    if capath and Path(capath).is_dir():
        store = _read_directory(Path(capath))
        return Truststore(store.entries, f"system:{capath}", "system", store.notes)
    raise TruststoreError("no system CA bundle found", path=", ".join(SYSTEM_BUNDLES),
                          fix="install ca-certificates (apt-get install ca-certificates) or pass a bundle path")


def _read_bytes(data: bytes, p: Path, password: str | None) -> Truststore:
    head = data.lstrip()[:1]
    if is_jks(data):
        return _read_jks(data, p, password)
    if b"-----BEGIN" in data[:100_000]:
        return _read_pem(data, p)
    if head in (b"{", b"["):
        return _read_apigee(data, p)
    if data[:1] == b"\x30":
        try:
            cert = load_certificate(data)
            return Truststore((TrustEntry.from_certificate(cert, p.name),), str(p), "der")
        except ValueError:
            return _read_pkcs12(data, p, password)
    raise TruststoreError(
        "unknown truststore format (not PEM, DER, JKS, PKCS#12 or Apigee certInfo JSON)", path=p,
        fix="export it as PEM (keytool -exportcert -rfc, or openssl pkcs12 -nokeys) and load that",
    )


def _pem_blocks(data: bytes) -> Iterator[tuple[str, bytes]]:
    import base64
    import binascii

    for m in _PEM_BLOCK.finditer(data):
        label = m.group(1).decode()
        body = b"".join(line for line in m.group(2).splitlines() if b":" not in line)
        try:
            yield label, base64.b64decode(body)
        except (binascii.Error, ValueError):
            yield label, b""


def _first_der(data: bytes) -> bytes:
    """The leading DER SEQUENCE (an OpenSSL TRUSTED CERTIFICATE appends its trust settings)."""
    if len(data) < 2 or data[0] != 0x30:
        return data
    n = data[1]
    if n < 0x80:
        return data[: 2 + n]
    k = n & 0x7F
    return data[: 2 + k + int.from_bytes(data[2 : 2 + k], "big")]


def _read_pem(data: bytes, p: Path) -> Truststore:
    entries: list[TrustEntry] = []
    notes: list[str] = []
    seen: set[str] = set()
    for i, (label, der) in enumerate(_pem_blocks(data)):
        if label not in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
            notes.append(f"block {i} ({label}) skipped: not a certificate")
            continue
        try:
            cert = load_certificate(_first_der(der))
        except ValueError as exc:
            notes.append(f"block {i} skipped: not a readable certificate ({exc})")
            continue
        e = TrustEntry.from_certificate(cert, f"#{i}")
        if e.sha256 not in seen:
            seen.add(e.sha256 or "")
            entries.append(e)
    if not entries:
        raise TruststoreError("no certificate could be read from this PEM file", path=p,
                              fix="check that it holds -----BEGIN CERTIFICATE----- blocks" +
                              (f" ({'; '.join(notes[:2])})" if notes else ""))
    return Truststore(tuple(entries), str(p), "pem", tuple(notes))


def _read_directory(d: Path) -> Truststore:
    entries: list[TrustEntry] = []
    notes: list[str] = []
    seen: set[str] = set()
    files = sorted(f for f in d.iterdir() if f.is_file() and (f.suffix.lower() in _CERT_SUFFIXES or _HASH_NAME.match(f.name)))
    for f in files:
        try:
            data = f.read_bytes()
            if b"-----BEGIN" in data:
                store = _read_pem(data, f)
                found = [TrustEntry(f.name if len(store.entries) == 1 else f"{f.name}{e.alias}", e.subject, e.issuer,
                                    e.serial, e.not_before, e.not_after, e.sha256, e.certificate) for e in store.entries]
            else:
                found = [TrustEntry.from_certificate(load_certificate(data), f.name)]
        except (OSError, ValueError, TruststoreError) as exc:
            notes.append(f"{f.name} skipped: {getattr(exc, 'what', exc)}")
            continue
        for e in found:
            if e.sha256 not in seen:  # c_rehash links point at files already read
                seen.add(e.sha256 or "")
                entries.append(e)
    if not entries:
        raise TruststoreError("no certificate files found in this directory", path=d,
                              fix="put PEM or DER certificates (.pem/.crt/.cer/.der) in it")
    return Truststore(tuple(entries), str(d), "directory", tuple(notes))


def _read_jks(data: bytes, p: Path, password: str | None) -> Truststore:
    try:
        kind, raw = read_jks(data, password)
    except JksPasswordError as exc:
        raise TruststoreError("wrong keystore password (the JKS integrity check failed)", path=p,
                              fix="pass the store password keytool was given (-storepass); if it is right, "
                              "the file was modified or damaged (password=None reads it without the check)") from exc
    except JksFormatError as exc:
        raise TruststoreError(f"damaged Java keystore: {exc}", path=p,
                              fix="export the store again (keytool -list -keystore FILE checks it)") from exc
    entries: list[TrustEntry] = []
    notes: list[str] = []
    if password is None:
        notes.append("no password given: the keystore's integrity was not checked")
    for e in raw:
        if e.kind != "trusted_cert":
            # keytool's own rule: only trustedCertEntry aliases are trust anchors.
            notes.append(f"alias {e.alias!r} skipped: {e.kind} entry, not a trustedCertEntry")
            continue
        try:
            entries.append(TrustEntry.from_certificate(load_certificate(e.certs[0]), e.alias))
        except ValueError as exc:
            notes.append(f"alias {e.alias!r} skipped: unreadable certificate ({exc})")
    if not entries:
        raise TruststoreError("the keystore holds no trustedCertEntry", path=p,
                              fix="import the CA with keytool -importcert -alias NAME -file ca.pem -keystore FILE")
    return Truststore(tuple(entries), str(p), kind, tuple(notes))


def _read_pkcs12(data: bytes, p: Path, password: str | None) -> Truststore:
    tries: list[bytes | None] = [password.encode()] if password is not None else [b"", None]
    last: Exception | None = None
    for pw in tries:
        try:
            bundle = pkcs12.load_pkcs12(data, pw)
            break
        except (ValueError, TypeError) as exc:
            last = exc
    else:
        if _looks_like_pkcs12(data):
            what = "wrong keystore password" if password is not None else "this PKCS#12 store needs a password"
            raise TruststoreError(f"{what} (the PKCS#12 store could not be decrypted)", path=p,
                                  fix="pass password= the store password keytool/openssl was given; "
                                  "if it is right, the file is damaged: export it again") from last
        raise TruststoreError("damaged or unknown binary store (neither a DER certificate nor PKCS#12)",
                              path=p, fix="export it again, or as PEM") from last
    entries: list[TrustEntry] = []
    notes: list[str] = []
    if bundle.key is not None and bundle.cert is not None:
        name = (bundle.cert.friendly_name or b"").decode(errors="replace") or "key"
        notes.append(f"alias {name!r}: private-key entry, its certificate is not a trust anchor; the other "
                     "certificates are all listed as trusted (this reader cannot tell the key's chain apart)")
    for i, c in enumerate(bundle.additional_certs):
        alias = (c.friendly_name or b"").decode(errors="replace") or f"#{i}"
        entries.append(TrustEntry.from_certificate(c.certificate, alias))
    if bundle.key is None and bundle.cert is not None:
        name = (bundle.cert.friendly_name or b"").decode(errors="replace") or "#cert"
        entries.insert(0, TrustEntry.from_certificate(bundle.cert.certificate, name))
    if not entries:
        raise TruststoreError("the PKCS#12 store holds no trusted certificate", path=p,
                              fix="import the CA with keytool -importcert -storetype PKCS12")
    return Truststore(tuple(entries), str(p), "pkcs12", tuple(notes))


def _looks_like_pkcs12(data: bytes) -> bool:
    # PFX: SEQUENCE { INTEGER 3, ContentInfo with id-data 1.2.840.113549.1.7.1 ... }
    return data[:1] == b"\x30" and b"\x02\x01\x03" in data[:12] and b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01" in data[:40]


def _read_apigee(data: bytes, p: Path) -> Truststore:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TruststoreError(f"not valid JSON ({exc})", path=p,
                              fix="save the Apigee API response body as it is (…/keystores/NAME/certs/ALIAS)") from exc
    entries = [e for e in _apigee_entries(doc, alias=None)]
    if not entries:
        raise TruststoreError("no certInfo entries in this JSON", path=p,
                              fix="use the body of GET …/keystores/{name}/certs/{alias} (it has a certInfo list)")
    notes = ("Apigee certInfo holds no certificate bytes: matched on subject DN, serial and validity",)
    return Truststore(tuple(entries), str(p), "apigee", notes)


def _apigee_entries(node: Any, alias: str | None) -> Iterator[TrustEntry]:
    if isinstance(node, list):
        for item in node:
            yield from _apigee_entries(item, alias)
    elif isinstance(node, dict):
        alias = str(node.get("certName") or node.get("alias") or node.get("name") or alias or "")
        infos = node.get("certInfo")
        if isinstance(infos, list):
            for i, info in enumerate(infos):
                if isinstance(info, dict) and "subject" in info:
                    yield _apigee_entry(info, f"{alias}#{i}" if len(infos) > 1 else (alias or f"#{i}"))
        for k, v in node.items():
            if k != "certInfo" and isinstance(v, (dict, list)):
                yield from _apigee_entries(v, alias)


def _apigee_entry(info: dict[str, Any], alias: str) -> TrustEntry:
    serial = re.sub(r"[^0-9a-f]", "", str(info.get("serialNumber", "")).lower()).lstrip("0") or "0"
    return TrustEntry(
        alias=alias,
        subject=str(info.get("subject", "")),
        issuer=str(info.get("issuer", "")),
        serial=serial,
        not_before=_ms(info.get("validFrom")),
        not_after=_ms(info.get("expiryDate")),
        sha256=None,
        certificate=None,
    )


def _ms(v: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(v) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
