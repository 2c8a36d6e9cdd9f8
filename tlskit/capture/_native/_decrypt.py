"""TLS 1.3 handshake decryption for the native engine, from a key-log file and the pcapng
Decryption Secrets Blocks met so far (they precede the packets they decrypt).

The record protection itself (HKDF-Expand-Label, AEAD, key stages) is
:mod:`tlskit.tls.decrypt`; this module only finds each connection's secrets and keeps one
decryptor per direction.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from tlskit.capture._native._reader import PacketReader
from tlskit.errors import CaptureWarning, KeylogError
from tlskit.tls.decrypt import RecordDecryptor, decryptors_for
from tlskit.tls.handshake import HandshakeError, parse_server_hello
from tlskit.tls.keylog import KeyLog, keylog_from_dsb, read_keylog


class ConnectionKeys:
    """The two directions' decryptors of one TLS 1.3 connection."""

    __slots__ = ("client", "server")

    def __init__(self, client: RecordDecryptor, server: RecordDecryptor):
        self.client = client
        self.server = server

    def decrypt(self, from_client: bool, body: bytes, version: int) -> tuple[int, bytes] | None:
        """(inner content type, content) of one application-data record, or None."""
        header = bytes((23, version >> 8, version & 0xFF, len(body) >> 8, len(body) & 0xFF))
        opened = (self.client if from_client else self.server).decrypt(header, body)
        return None if opened is None else (opened.content_type, opened.data)


class Decryptor:
    """Secrets for a capture: the key-log file plus embedded ones, merged as they appear."""

    def __init__(self, keylog: KeyLog | None, reader: PacketReader):
        self._log = keylog
        self._reader = reader
        self._blocks = 0  # DSBs already merged

    @classmethod
    def create(cls, keylog: Path | None, reader: PacketReader) -> Decryptor | None:
        """A decryptor when secrets can exist (a key log, or a pcapng that may embed them)."""
        log = None
        if keylog is not None:
            # load() has already read it once and warned about junk lines; say it once only.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CaptureWarning)
                log = read_keylog(keylog)
        if log is None and reader.format != "pcapng":
            return None
        return cls(log, reader)

    def _secrets(self, client_random: bytes) -> dict[str, bytes]:
        blocks = self._reader.secrets
        while self._blocks < len(blocks):
            try:
                dsb = keylog_from_dsb(blocks[self._blocks], capture=self._reader.path, block=self._blocks)
            except KeylogError:
                dsb = None
            self._blocks += 1
            if dsb is not None:
                self._log = dsb if self._log is None else self._log.merged(dsb)
        return self._log.secrets_for(client_random) if self._log is not None else {}

    def start(self, client_random: bytes | None, server_hello: bytes) -> ConnectionKeys | None:
        """Keys for a connection whose TLS 1.3 ServerHello (whole message) was just read."""
        if client_random is None:
            return None
        secrets = self._secrets(client_random)
        if not secrets:
            return None
        try:
            sh = parse_server_hello(server_hello[4:])
        except HandshakeError:
            return None
        pair = decryptors_for(secrets, sh.cipher_suite, version=sh.selected_version)
        return None if pair is None else ConnectionKeys(*pair)
