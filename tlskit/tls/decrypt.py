"""TLS 1.3 record decryption from key-log traffic secrets (RFC 8446 sections 5.2-5.3, 7).

One :class:`RecordDecryptor` per direction of a connection. The engine feeds it every
encrypted record (content type 23 on the wire) of that direction, in order; it returns the
inner plaintext (real content type, padding removed) or None when the record cannot be
opened. It moves through the key stages by itself:

- client: early data (``CLIENT_EARLY_TRAFFIC_SECRET``, only if 0-RTT was offered) ->
  handshake (``CLIENT_HANDSHAKE_TRAFFIC_SECRET``) -> application (``CLIENT_TRAFFIC_SECRET_0``);
- server: handshake -> application.

It switches to application keys after the Finished message of its direction, and to the
next generation after a KeyUpdate. A server that rejects 0-RTT never reads the client's
early records, so the client's next record already uses handshake keys: when a record
does not open with the current stage, the later stages are tried before giving up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

Side = Literal["client", "server"]
_AEAD = AESGCM | AESCCM | ChaCha20Poly1305


@dataclass(frozen=True)
class Suite:
    """What a TLS 1.3 cipher suite needs for record protection."""

    code: int
    name: str
    key_length: int
    hash: Callable[[], hashes.HashAlgorithm]
    aead: Callable[[bytes], _AEAD]


SUITES = {
    0x1301: Suite(0x1301, "TLS_AES_128_GCM_SHA256", 16, hashes.SHA256, AESGCM),
    0x1302: Suite(0x1302, "TLS_AES_256_GCM_SHA384", 32, hashes.SHA384, AESGCM),
    0x1303: Suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", 32, hashes.SHA256, ChaCha20Poly1305),
    0x1304: Suite(0x1304, "TLS_AES_128_CCM_SHA256", 16, hashes.SHA256, lambda k: AESCCM(k, tag_length=16)),
    0x1305: Suite(0x1305, "TLS_AES_128_CCM_8_SHA256", 16, hashes.SHA256, lambda k: AESCCM(k, tag_length=8)),
}
IV_LENGTH = 12
_MAX_SKIP = 4  # records lost from the capture that we still resynchronise across
_MAX_PLAINTEXT = (1 << 14) + 256  # RFC 8446 5.4: plaintext plus content type and padding

_STAGE_LABELS: dict[str, dict[str, str]] = {
    "client": {
        "early": "CLIENT_EARLY_TRAFFIC_SECRET",
        "handshake": "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "application": "CLIENT_TRAFFIC_SECRET_0",
    },
    "server": {
        "handshake": "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "application": "SERVER_TRAFFIC_SECRET_0",
    },
}
_HS_FINISHED, _HS_KEY_UPDATE, _HS_END_OF_EARLY_DATA = 20, 24, 5


def hkdf_expand_label(
    secret: bytes, label: bytes, context: bytes, length: int, hash: hashes.HashAlgorithm, *, prefix: bytes = b"tls13 "
) -> bytes:
    """RFC 8446 7.1 HKDF-Expand-Label(Secret, Label, Context, Length); ``prefix`` is prepended
    to the label ("tls13 "; drafts before -20 used "TLS 1.3, ")."""
    full = prefix + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(hash, length, info).derive(secret)


def traffic_keys(secret: bytes, suite: int, *, version: int = 0x0304) -> tuple[bytes, bytes]:
    """(write_key, write_iv) for a traffic secret (RFC 8446 7.3)."""
    s = _suite(suite)
    prefix = _label_prefix(version)
    key = hkdf_expand_label(secret, b"key", b"", s.key_length, s.hash(), prefix=prefix)
    iv = hkdf_expand_label(secret, b"iv", b"", IV_LENGTH, s.hash(), prefix=prefix)
    return key, iv


def next_traffic_secret(secret: bytes, suite: int, *, version: int = 0x0304) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 7.2)."""
    h = _suite(suite).hash()
    return hkdf_expand_label(secret, b"traffic upd", b"", h.digest_size, h, prefix=_label_prefix(version))


def _draft(version: int) -> int | None:
    """Draft number of a TLS 1.3 draft version code (0x7fNN), None for the RFC version."""
    return version & 0xFF if 0x7F00 <= version <= 0x7FFF else None


def _label_prefix(version: int) -> bytes:
    draft = _draft(version)
    return b"TLS 1.3, " if draft is not None and draft < 20 else b"tls13 "


def _header_is_aad(version: int) -> bool:
    # Drafts before -25 authenticated no additional data; the RFC uses the record header.
    draft = _draft(version)
    return draft is None or draft >= 25


def record_nonce(iv: bytes, seq: int) -> bytes:
    """Per-record nonce: the 64-bit sequence number, left-padded, XOR the write IV (5.3)."""
    return bytes(a ^ b for a, b in zip(iv, seq.to_bytes(len(iv), "big"), strict=True))


def _suite(code: int) -> Suite:
    try:
        return SUITES[code]
    except KeyError:
        raise ValueError(f"not a TLS 1.3 cipher suite: 0x{code:04x}") from None


def strip_inner(plaintext: bytes) -> tuple[int, bytes] | None:
    """TLSInnerPlaintext -> (content type, content): drop zero padding, the last non-zero
    byte is the real type. All zeros is a protocol error -> None."""
    end = len(plaintext.rstrip(b"\x00"))
    if end == 0:
        return None
    return plaintext[end - 1], plaintext[: end - 1]


@dataclass(frozen=True)
class Plaintext:
    """One decrypted record: its real content type and content, and which keys opened it."""

    content_type: int
    data: bytes
    stage: str  # early, handshake, application, application+N after N KeyUpdates
    seq: int


class _Stage:
    __slots__ = ("aead", "iv", "name", "secret", "seq")

    def __init__(self, name: str, secret: bytes, suite: Suite, version: int):
        key, iv = traffic_keys(secret, suite.code, version=version)
        self.name = name
        self.secret = secret
        self.aead = suite.aead(key)
        self.iv = iv
        self.seq = 0

    def open(self, header: bytes, payload: bytes) -> tuple[bytes, int] | None:
        for seq in range(self.seq, self.seq + _MAX_SKIP + 1):
            try:
                out = self.aead.decrypt(record_nonce(self.iv, seq), payload, header)
            except InvalidTag:
                continue
            self.seq = seq + 1
            return out, seq
        return None


class RecordDecryptor:
    """Decrypts one direction's TLS 1.3 records.

    Parameters
    ----------
    cipher_suite : int
        The suite from the ServerHello (0x1301..0x1305).
    secrets : Mapping[str, bytes]
        Key log labels -> secrets for this session (``KeyLog.secrets_for(client_random)``).
    side : "client" or "server"
        Whose records these are.
    early_data : bool
        The client offered 0-RTT (its early records come first).
    version : int
        Negotiated version: 0x0304, or a draft code 0x7fNN (older label prefix and AAD).
    """

    def __init__(
        self,
        cipher_suite: int,
        secrets: Mapping[str, bytes],
        side: Side,
        *,
        early_data: bool = False,
        version: int = 0x0304,
    ):
        if side not in _STAGE_LABELS:
            raise ValueError(f"side must be 'client' or 'server', not {side!r}")
        self.suite = _suite(cipher_suite)
        self.side = side
        labels = _STAGE_LABELS[side]
        names = [n for n in ("early", "handshake", "application") if n in labels]
        if not early_data:
            names = [n for n in names if n != "early"]
        self.version = version
        self._aad = _header_is_aad(version)
        self._stages = [_Stage(n, secrets[labels[n]], self.suite, version) for n in names if labels[n] in secrets]
        self._current = 0
        self._generation = 0
        self._buffer = b""  # handshake bytes across records, to see Finished / KeyUpdate

    @property
    def usable(self) -> bool:
        """At least one secret for this direction was found."""
        return bool(self._stages)

    @property
    def stage(self) -> str | None:
        return self._stages[self._current].name if self._current < len(self._stages) else None

    def decrypt_record(self, record: bytes) -> Plaintext | None:
        """Decrypt a whole record (5-byte header + encrypted payload)."""
        if len(record) < 5:
            return None
        return self.decrypt(record[:5], record[5:])

    def decrypt(self, header: bytes, payload: bytes) -> Plaintext | None:
        """Decrypt one record; ``header`` (5 bytes, the AEAD additional data) as on the wire.

        Returns None when no known key opens it (wrong or missing secrets, a damaged record,
        or too many records lost before it).
        """
        if len(payload) > _MAX_PLAINTEXT + 256 or len(header) != 5:
            return None
        for index in range(self._current, len(self._stages)):
            stage = self._stages[index]
            opened = stage.open(bytes(header) if self._aad else b"", bytes(payload))
            if opened is None:
                continue
            if index != self._current:
                self._current, self._buffer = index, b""
            inner = strip_inner(opened[0])
            if inner is None:
                return None
            content_type, data = inner
            name = stage.name if not self._generation or stage.name != "application" else f"application+{self._generation}"
            result = Plaintext(content_type, data, name, opened[1])
            if content_type == 22:
                self._watch_handshake(data)
            return result
        return None

    def _watch_handshake(self, data: bytes) -> None:
        """Switch keys after Finished / EndOfEarlyData, roll them after a KeyUpdate."""
        buf = self._buffer + data
        while len(buf) >= 4 and self._current < len(self._stages):
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                break
            msg_type = buf[0]
            buf = buf[4 + length :]
            stage = self._stages[self._current].name
            if (msg_type == _HS_FINISHED and stage == "handshake") or (
                msg_type == _HS_END_OF_EARLY_DATA and stage == "early"
            ):
                self._advance()
            elif msg_type == _HS_KEY_UPDATE and stage == "application":
                current = self._stages[self._current]
                self._stages[self._current] = _Stage(
                    "application", next_traffic_secret(current.secret, self.suite.code, version=self.version),
                    self.suite, self.version,
                )
                self._generation += 1
        self._buffer = buf[: 1 << 16]  # a hostile length field cannot grow this without bound

    def _advance(self) -> None:
        self._buffer = b""
        if self._current + 1 < len(self._stages):
            self._current += 1
        else:
            self._current = len(self._stages)  # no secret for the next stage: nothing opens


def decryptors_for(
    keylog_secrets: Mapping[str, bytes], cipher_suite: int, *, early_data: bool = False, version: int = 0x0304
) -> tuple[RecordDecryptor, RecordDecryptor] | None:
    """(client, server) decryptors for one TLS 1.3 session, or None without usable secrets.

    ``version`` is ServerHello.selected_version (0x0304 or a TLS 1.3 draft code).
    """
    if cipher_suite not in SUITES:
        return None
    client = RecordDecryptor(cipher_suite, keylog_secrets, "client", early_data=early_data, version=version)
    server = RecordDecryptor(cipher_suite, keylog_secrets, "server", version=version)
    if not (client.usable or server.usable):
        return None
    return client, server


__all__ = [
    "SUITES",
    "Plaintext",
    "RecordDecryptor",
    "decryptors_for",
    "hkdf_expand_label",
    "next_traffic_secret",
    "record_nonce",
    "strip_inner",
    "traffic_keys",
]
