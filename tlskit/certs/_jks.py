"""Java KeyStore (JKS / JCEKS) reader, by hand: the format is small and fixed.

Layout (sun.security.provider.JavaKeyStore): magic 0xFEEDFEED (JCEKS: 0xCECECECE), version
1 or 2, entry count, then per entry a tag (1 private key, 2 trusted certificate, 3 JCEKS
secret key), a modified-UTF-8 alias, a millisecond timestamp and the entry body; version 2
prefixes each certificate with its type ("X.509"). The file ends with SHA-1 over
(password as UTF-16BE + b"Mighty Aphrodite" + every preceding byte): keytool's integrity
check, which is how a wrong store password shows.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
_WHITENER = b"Mighty Aphrodite"


class JksFormatError(ValueError):
    """The bytes are not a well-formed JKS/JCEKS store."""


class JksPasswordError(ValueError):
    """The integrity check failed: wrong store password (or a modified file)."""


@dataclass(frozen=True)
class JksEntry:
    alias: str
    kind: str  # "trusted_cert", "private_key" or "secret_key"
    timestamp_ms: int
    certs: tuple[bytes, ...]  # DER; the chain for a private-key entry


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise JksFormatError(f"truncated at byte {self.pos} (needed {n} more)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def utf(self) -> str:
        raw = self.take(self.u16())
        # Java's modified UTF-8 differs only for NUL and supplementary characters.
        return raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", errors="replace")


def is_jks(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack(">I", data[:4])[0] in (JKS_MAGIC, JCEKS_MAGIC)


def read_jks(data: bytes, password: str | None) -> tuple[str, list[JksEntry]]:
    """Parse a JKS or JCEKS store; returns (kind, entries).

    With ``password=None`` the integrity check is skipped (as ``keytool -list`` does without
    -storepass); otherwise a mismatch raises JksPasswordError.
    """
    r = _Reader(data)
    magic = r.u32()
    if magic not in (JKS_MAGIC, JCEKS_MAGIC):
        raise JksFormatError("not a JKS/JCEKS store (bad magic number)")
    kind = "jks" if magic == JKS_MAGIC else "jceks"
    version = r.u32()
    if version not in (1, 2):
        raise JksFormatError(f"unsupported JKS version {version}")
    count = r.u32()
    if count > 100_000:
        raise JksFormatError(f"implausible entry count {count}")
    entries: list[JksEntry] = []

    def cert() -> bytes:
        if version == 2:
            ctype = r.utf()
            if ctype != "X.509":
                raise JksFormatError(f"certificate type {ctype!r} is not X.509")
        return r.take(r.u32())

    for _ in range(count):
        tag = r.u32()
        alias = r.utf()
        ts = r.u64()
        if tag == 1:
            r.take(r.u32())  # encrypted private key: not needed to trust anything
            chain = tuple(cert() for _ in range(r.u32()))
            entries.append(JksEntry(alias, "private_key", ts, chain))
        elif tag == 2:
            entries.append(JksEntry(alias, "trusted_cert", ts, (cert(),)))
        elif tag == 3 and kind == "jceks":
            # A serialized javax.crypto.SealedObject: not parseable without Java; it holds no
            # certificate, and nothing after it can be located reliably, so stop here.
            entries.append(JksEntry(alias, "secret_key", ts, ()))
            return kind, entries
        else:
            raise JksFormatError(f"unknown entry tag {tag} for alias {alias!r}")
    body_end = r.pos
    digest = r.take(20)
    if password is not None:
        want = hashlib.sha1(password.encode("utf-16-be") + _WHITENER + data[:body_end]).digest()
        if not hmac.compare_digest(want, digest):
            raise JksPasswordError("keystore integrity check failed")
    return kind, entries
