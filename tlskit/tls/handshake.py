"""Parsers for TLS handshake message bodies: pure functions over bytes, no I/O.

Each parser takes the handshake message BODY (the bytes after the 4-byte type + length
header) and returns a frozen record that keeps the raw lists as sent (cipher suites with
GREASE, extensions as ordered ``(type, data)`` pairs) next to derived accessors (SNI, ALPN,
supported_versions, ...).

Input is hostile by assumption: a capture may hold anything. Structural damage (a length
that overruns its message, a truncated field) raises :class:`HandshakeError` naming what
and where; nothing here raises ``IndexError`` or ``struct.error``, and every loop advances
by at least one byte, so no input can make a parser hang. Damage inside a single
extension's payload does not lose the whole message: the accessor falls back to an empty
value and the problem is listed in ``notes``.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tlskit.registry import is_grease

# Extension type codes used by the accessors (IANA TLS ExtensionType Values).
EXT_SERVER_NAME = 0x0000
EXT_STATUS_REQUEST = 0x0005
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_COMPRESS_CERTIFICATE = 0x001B
EXT_SESSION_TICKET = 0x0023
EXT_PRE_SHARED_KEY = 0x0029
EXT_EARLY_DATA = 0x002A
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_PSK_KEY_EXCHANGE_MODES = 0x002D
EXT_CERTIFICATE_AUTHORITIES = 0x002F
EXT_SIGNATURE_ALGORITHMS_CERT = 0x0032
EXT_KEY_SHARE = 0x0033
EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039
EXT_RENEGOTIATION_INFO = 0xFF01

# RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello with this random (SHA-256 of
# "HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
# RFC 8446 4.1.3: a TLS 1.3 server negotiating an older version marks the last 8 bytes.
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"

# RFC 8879 CertificateCompressionAlgorithm codes.
COMPRESSION_ZLIB, COMPRESSION_BROTLI, COMPRESSION_ZSTD = 1, 2, 3
_COMPRESSION_NAMES = {COMPRESSION_ZLIB: "zlib", COMPRESSION_BROTLI: "brotli", COMPRESSION_ZSTD: "zstd"}
_MAX_UNCOMPRESSED = 1 << 24  # uncompressed_length is a uint24: the hard ceiling


class HandshakeError(ValueError):
    """A handshake message is malformed: ``what`` is wrong at byte ``offset`` of ``message``."""

    def __init__(self, message: str, what: str, offset: int):
        self.message = message
        self.what = what
        self.offset = offset
        super().__init__(f"malformed {message}: {what} (at byte {offset})")


class _Reader:
    """Bounds-checked big-endian reader over a byte string; every read names its field."""

    __slots__ = ("base", "data", "end", "message", "pos")

    def __init__(self, data: bytes, message: str, base: int = 0):
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.message = message
        self.base = base  # offset of data within the whole message, for error positions

    def fail(self, what: str) -> HandshakeError:
        return HandshakeError(self.message, what, self.base + self.pos)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise self.fail(f"{what} needs {n} bytes, {self.remaining} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def vector(self, len_size: int, what: str) -> _Reader:
        """A length-prefixed field as a sub-reader that cannot read past its end."""
        n = self.uint(len_size, f"{what} length")
        start = self.pos
        body = self.take(n, what)
        return _Reader(body, self.message, self.base + start)

    def opaque(self, len_size: int, what: str) -> bytes:
        return self.vector(len_size, what).data

    def uints(self, size: int, what: str) -> list[int]:
        """The rest of this reader as a list of fixed-size integers."""
        if self.remaining % size:
            raise self.fail(f"{what}: length {self.remaining} is not a multiple of {size}")
        data = self.data[self.pos : self.end]
        self.pos = self.end
        return [int.from_bytes(data[i : i + size], "big") for i in range(0, len(data), size)]


def _parse_extensions(r: _Reader) -> tuple[tuple[int, bytes], ...]:
    """Extensions block; absent entirely (pre-TLS 1.2 hellos may end here) -> ()."""
    if r.remaining == 0:
        return ()
    block = r.vector(2, "extensions")
    out = []
    while block.remaining:
        etype = block.uint(2, "extension type")
        out.append((etype, block.opaque(2, f"extension 0x{etype:04x} data")))
    if r.remaining:
        raise r.fail(f"{r.remaining} bytes after the extensions")
    return tuple(out)


def _ext_data(extensions: tuple[tuple[int, bytes], ...], etype: int) -> bytes | None:
    """Data of the first extension of this type (duplicates are a peer error; the first wins)."""
    for t, data in extensions:
        if t == etype:
            return data
    return None


def _lenient(
    extensions: tuple[tuple[int, bytes], ...],
    etype: int,
    parse: Callable[[_Reader], Any],
    default: Any,
    notes: list[str],
    message: str,
) -> Any:
    """Parse one extension's payload; on damage record a note and return ``default``."""
    data = _ext_data(extensions, etype)
    if data is None:
        return default
    try:
        r = _Reader(data, f"{message} extension 0x{etype:04x}")
        value = parse(r)
        if r.remaining:
            raise r.fail(f"{r.remaining} trailing bytes")
        return value
    except HandshakeError as err:
        notes.append(str(err))
        return default


def _u16_list(r: _Reader) -> tuple[int, ...]:
    return tuple(r.vector(2, "list").uints(2, "list"))


def _sni(r: _Reader) -> str | None:
    names = r.vector(2, "server_name_list")
    while names.remaining:
        kind = names.uint(1, "name_type")
        name = names.opaque(2, "host_name")
        if kind == 0:  # host_name; the only type ever defined
            return name.decode("ascii", errors="replace")
    return None


def _alpn_list(r: _Reader) -> tuple[bytes, ...]:
    protos = r.vector(2, "protocol_name_list")
    out = []
    while protos.remaining:
        out.append(protos.opaque(1, "protocol_name"))
    return tuple(out)


def _client_versions(r: _Reader) -> tuple[int, ...]:
    return tuple(r.vector(1, "versions").uints(2, "versions"))


def _client_key_shares(r: _Reader) -> tuple[int, ...]:
    shares = r.vector(2, "client_shares")
    groups = []
    while shares.remaining:
        groups.append(shares.uint(2, "group"))
        shares.opaque(2, "key_exchange")
    return tuple(groups)


def _point_formats(r: _Reader) -> tuple[int, ...]:
    return tuple(r.vector(1, "ec_point_format_list").data)


def _psk_identities(r: _Reader) -> int:
    ids = r.vector(2, "identities")
    n = 0
    while ids.remaining:
        ids.opaque(2, "identity")
        ids.uint(4, "obfuscated_ticket_age")
        n += 1
    r.vector(2, "binders")
    return n


def _psk_modes(r: _Reader) -> tuple[int, ...]:
    return tuple(r.vector(1, "ke_modes").data)


def _compress_algorithms(r: _Reader) -> tuple[int, ...]:
    return tuple(r.vector(1, "algorithms").uints(2, "algorithms"))


@dataclass(frozen=True)
class ClientHello:
    """A parsed ClientHello.

    Raw fields are as sent (GREASE kept); the derived fields below them are decoded from the
    extensions (GREASE kept too, so callers decide; ``tlskit.registry.is_grease`` filters).
    For an SSLv2-format hello (``sslv2=True``) cipher_suites holds the 3-byte CIPHER-SPECs
    as integers (TLS suites appear as ``0x00XXXX`` == their 2-byte code) and random is the
    challenge, left-padded to 32 bytes as RFC 5246 E.2 prescribes.
    """

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[tuple[int, bytes], ...]
    sslv2: bool = False
    sni: str | None = None
    alpn_raw: tuple[bytes, ...] = ()
    supported_versions: tuple[int, ...] = ()
    supported_groups: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    signature_algorithms_cert: tuple[int, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    key_share_groups: tuple[int, ...] = ()
    psk_identities: int = 0
    psk_key_exchange_modes: tuple[int, ...] = ()
    compress_certificate: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def extension_types(self) -> list[int]:
        """Extension types in the order sent, GREASE included."""
        return [t for t, _ in self.extensions]

    def has_extension(self, etype: int) -> bool:
        return any(t == etype for t, _ in self.extensions)

    def extension(self, etype: int) -> bytes | None:
        """Raw payload of the first extension of this type, or None."""
        return _ext_data(self.extensions, etype)

    @property
    def alpn(self) -> list[str]:
        """ALPN protocol names (non-UTF-8 bytes shown as U+FFFD)."""
        return [p.decode("utf-8", errors="replace") for p in self.alpn_raw]

    @property
    def psk_offered(self) -> bool:
        return self.has_extension(EXT_PRE_SHARED_KEY)

    @property
    def session_ticket(self) -> bytes | None:
        """The session_ticket extension payload (b"" asks for a new ticket), None if absent."""
        return self.extension(EXT_SESSION_TICKET)

    @property
    def early_data(self) -> bool:
        return self.has_extension(EXT_EARLY_DATA)

    @property
    def max_version(self) -> int:
        """Highest version offered: supported_versions (GREASE dropped), else legacy_version."""
        real = [v for v in self.supported_versions if not is_grease(v)]
        return max(real) if real else self.legacy_version


@dataclass(frozen=True)
class ServerHello:
    """A parsed ServerHello (or HelloRetryRequest, which shares its wire format)."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[tuple[int, bytes], ...]
    supported_version: int | None = None
    alpn_raw: bytes | None = None
    key_share_group: int | None = None
    psk_identity: int | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def selected_version(self) -> int:
        """The negotiated version: supported_versions when present (TLS 1.3), else legacy."""
        return self.supported_version if self.supported_version is not None else self.legacy_version

    @property
    def extension_types(self) -> list[int]:
        """Extension types in the order sent."""
        return [t for t, _ in self.extensions]

    def has_extension(self, etype: int) -> bool:
        return any(t == etype for t, _ in self.extensions)

    def extension(self, etype: int) -> bytes | None:
        return _ext_data(self.extensions, etype)

    @property
    def alpn(self) -> str | None:
        """The ALPN protocol the server selected."""
        return None if self.alpn_raw is None else self.alpn_raw.decode("utf-8", errors="replace")

    @property
    def psk_accepted(self) -> bool:
        """TLS 1.3 resumption: the server accepted one of the client's PSKs."""
        return self.has_extension(EXT_PRE_SHARED_KEY)

    @property
    def downgrade_sentinel(self) -> int | None:
        """0x0303 / 0x0302 when a TLS 1.3-capable server marked a downgrade to 1.2 / <=1.1."""
        tail = self.random[-8:]
        if tail == DOWNGRADE_TLS12:
            return 0x0303
        if tail == DOWNGRADE_TLS11:
            return 0x0302
        return None


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello body (after the 4-byte handshake header).

    Raises
    ------
    HandshakeError
        The structure is damaged (a length overruns the message, a field is cut off).
    """
    msg = "ClientHello"
    r = _Reader(bytes(body), msg)
    version = r.uint(2, "legacy_version")
    random = r.take(32, "random")
    session_id = r.opaque(1, "legacy_session_id")
    if len(session_id) > 32:
        raise HandshakeError(msg, f"session id of {len(session_id)} bytes (max 32)", 35)
    suites = r.vector(2, "cipher_suites").uints(2, "cipher_suites")
    compression = tuple(r.opaque(1, "legacy_compression_methods"))
    extensions = _parse_extensions(r)
    notes: list[str] = []

    def get(etype: int, parse: Callable[[_Reader], Any], default: Any) -> Any:
        return _lenient(extensions, etype, parse, default, notes, msg)

    return ClientHello(
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suites=tuple(suites),
        compression_methods=compression,
        extensions=extensions,
        sni=get(EXT_SERVER_NAME, _sni, None),
        alpn_raw=get(EXT_ALPN, _alpn_list, ()),
        supported_versions=get(EXT_SUPPORTED_VERSIONS, _client_versions, ()),
        supported_groups=get(EXT_SUPPORTED_GROUPS, _u16_list, ()),
        signature_algorithms=get(EXT_SIGNATURE_ALGORITHMS, _u16_list, ()),
        signature_algorithms_cert=get(EXT_SIGNATURE_ALGORITHMS_CERT, _u16_list, ()),
        ec_point_formats=get(EXT_EC_POINT_FORMATS, _point_formats, ()),
        key_share_groups=get(EXT_KEY_SHARE, _client_key_shares, ()),
        psk_identities=get(EXT_PRE_SHARED_KEY, _psk_identities, 0),
        psk_key_exchange_modes=get(EXT_PSK_KEY_EXCHANGE_MODES, _psk_modes, ()),
        compress_certificate=get(EXT_COMPRESS_CERTIFICATE, _compress_algorithms, ()),
        notes=tuple(notes),
    )


def parse_sslv2_client_hello(message: bytes) -> ClientHello:
    """Parse an SSLv2-format ClientHello (the compatibility hello of RFC 5246 E.2).

    ``message`` starts at msg_type (1); a leading 2-byte SSLv2 record header (high bit set)
    is accepted and skipped. The result has no extensions and ``sslv2=True``.
    """
    msg = "SSLv2 ClientHello"
    data = bytes(message)
    if len(data) >= 2 and data[0] & 0x80:
        data = data[2:]  # 2-byte record header: high bit + 15-bit length
    elif len(data) >= 3 and data[0] != 1:
        data = data[3:]  # 3-byte header (14-bit length + padding length), rare but legal
    r = _Reader(data, msg)
    if r.uint(1, "msg_type") != 1:
        raise HandshakeError(msg, "msg_type is not CLIENT-HELLO (1)", 0)
    version = r.uint(2, "version")
    spec_len = r.uint(2, "cipher_spec_length")
    sid_len = r.uint(2, "session_id_length")
    challenge_len = r.uint(2, "challenge_length")
    specs = _Reader(r.take(spec_len, "cipher_specs"), msg, 9).uints(3, "cipher_specs")
    session_id = r.take(sid_len, "session_id")
    challenge = r.take(challenge_len, "challenge")
    if not 16 <= challenge_len <= 32:
        raise HandshakeError(msg, f"challenge of {challenge_len} bytes (16..32)", 7)
    return ClientHello(
        legacy_version=version,
        random=challenge.rjust(32, b"\x00"),
        session_id=session_id,
        cipher_suites=tuple(specs),
        compression_methods=(0,),
        extensions=(),
        sslv2=True,
    )


def _server_key_share(hrr: bool) -> Callable[[_Reader], int]:
    def parse(r: _Reader) -> int:
        group = r.uint(2, "selected_group" if hrr else "group")
        if not hrr:
            r.opaque(2, "key_exchange")
        return group

    return parse


def _u16(r: _Reader) -> int:
    return r.uint(2, "value")


def _server_alpn(r: _Reader) -> bytes:
    protos = _alpn_list(r)
    if len(protos) != 1:
        raise r.fail(f"{len(protos)} protocols selected (must be exactly 1)")
    return protos[0]


def _is_early_tls13_draft(version: int) -> bool:
    """TLS 1.3 drafts before -22 used a shorter ServerHello (no session id, no compression).

    Their server_version was 0x7f00-0x7f15, or 0x0304 itself in early deployments; the final
    protocol always sends legacy_version 0x0303, so 0x0304 there means a draft server.
    """
    return 0x7F00 <= version <= 0x7F15 or version == 0x0304


def _server_hello_fields(r: _Reader, draft: bool) -> tuple[bytes, int, int, tuple[tuple[int, bytes], ...]]:
    if draft:
        session_id, suite, compression = b"", r.uint(2, "cipher_suite"), 0
    else:
        session_id = r.opaque(1, "legacy_session_id")
        suite = r.uint(2, "cipher_suite")
        compression = r.uint(1, "legacy_compression_method")
    return session_id, suite, compression, _parse_extensions(r)


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello or HelloRetryRequest body (after the 4-byte handshake header).

    Raises
    ------
    HandshakeError
        The structure is damaged.
    """
    msg = "ServerHello"
    r = _Reader(bytes(body), msg)
    version = r.uint(2, "legacy_version")
    random = r.take(32, "random")
    start = r.pos
    if _is_early_tls13_draft(version):
        try:
            session_id, suite, compression, extensions = _server_hello_fields(r, draft=True)
        except HandshakeError:
            r.pos = start  # not the draft layout after all: read it as the final one
            session_id, suite, compression, extensions = _server_hello_fields(r, draft=False)
    else:
        session_id, suite, compression, extensions = _server_hello_fields(r, draft=False)
    hrr = random == HRR_RANDOM
    notes: list[str] = []

    def get(etype: int, parse: Callable[[_Reader], Any], default: Any) -> Any:
        return _lenient(extensions, etype, parse, default, notes, msg)

    return ServerHello(
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suite=suite,
        compression_method=compression,
        extensions=extensions,
        supported_version=get(EXT_SUPPORTED_VERSIONS, _u16, None),
        alpn_raw=get(EXT_ALPN, _server_alpn, None),
        key_share_group=get(EXT_KEY_SHARE, _server_key_share(hrr), None),
        psk_identity=get(EXT_PRE_SHARED_KEY, _u16, None),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- Certificate


@dataclass(frozen=True)
class CertificateMessage:
    """A Certificate message: the DER list plus TLS 1.3's request context and entry extensions."""

    certificates: tuple[bytes, ...]
    request_context: bytes = b""
    entry_extensions: tuple[tuple[tuple[int, bytes], ...], ...] = ()


def parse_certificate_message(body: bytes, tls13: bool) -> CertificateMessage:
    """Parse a Certificate body; an empty list is a valid "no certificate" answer.

    TLS 1.3 (RFC 8446 4.4.2) prefixes a certificate_request_context and follows each
    certificate with its own extensions (OCSP staple, SCTs); earlier versions send a bare
    list of DER certificates.
    """
    msg = "Certificate"
    r = _Reader(bytes(body), msg)
    context = r.opaque(1, "certificate_request_context") if tls13 else b""
    entries = r.vector(3, "certificate_list")
    if r.remaining:
        raise r.fail(f"{r.remaining} bytes after the certificate list")
    certs: list[bytes] = []
    exts: list[tuple[tuple[int, bytes], ...]] = []
    while entries.remaining:
        certs.append(entries.opaque(3, f"certificate {len(certs)}"))
        if tls13:
            block = entries.vector(2, "entry extensions")
            pairs = []
            while block.remaining:
                etype = block.uint(2, "extension type")
                pairs.append((etype, block.opaque(2, "extension data")))
            exts.append(tuple(pairs))
    return CertificateMessage(tuple(certs), context, tuple(exts))


def parse_certificate(body: bytes, tls13: bool) -> list[bytes]:
    """The DER certificates of a Certificate body, leaf first (an empty list is valid)."""
    return list(parse_certificate_message(body, tls13).certificates)


@dataclass(frozen=True)
class CompressedCertificate:
    """An RFC 8879 CompressedCertificate (handshake type 25).

    ``message`` is the decompressed Certificate body (TLS 1.3 form), or None when the
    algorithm's module is not installed or the data is damaged; ``note`` then says why.
    """

    algorithm: int
    uncompressed_length: int
    compressed: bytes
    message: bytes | None
    note: str | None = None

    @property
    def algorithm_name(self) -> str:
        return _COMPRESSION_NAMES.get(self.algorithm, f"unknown({self.algorithm})")

    @property
    def certificates(self) -> list[bytes]:
        """DER certificates from the decompressed message ([] when it was not recovered)."""
        if self.message is None:
            return []
        return parse_certificate(self.message, tls13=True)


def _decompressor(algorithm: int) -> tuple[Callable[[bytes, int], bytes] | None, str | None]:
    """(function(data, limit) -> bytes, None) or (None, why it is unavailable)."""
    if algorithm == COMPRESSION_ZLIB:

        def inflate(data: bytes, limit: int) -> bytes:
            d = zlib.decompressobj()
            return d.decompress(data, limit + 1)  # one extra byte detects an overlong stream

        return inflate, None
    if algorithm == COMPRESSION_BROTLI:
        try:
            brotli = importlib.import_module("brotli")  # optional: Chrome's default algorithm
        except ImportError:
            return None, "brotli-compressed certificate: install the 'brotli' package to read it"

        def unbrotli(data: bytes, limit: int) -> bytes:
            d = brotli.Decompressor()
            try:
                return bytes(d.process(data, output_buffer_limit=limit + 1))
            except TypeError:  # brotli < 1.2 has no output limit; certificates are small
                return bytes(d.process(data))

        return unbrotli, None
    if algorithm == COMPRESSION_ZSTD:
        try:
            zstandard = importlib.import_module("zstandard")
        except ImportError:
            return None, "zstd-compressed certificate: install the 'zstandard' package to read it"
        return (lambda data, limit: zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)), None
    return None, f"unknown certificate compression algorithm {algorithm}"


def parse_compressed_certificate(body: bytes) -> CompressedCertificate:
    """Parse a CompressedCertificate body and decompress it when the algorithm is available.

    Decompression is bounded by the declared uncompressed_length (at most 16 MiB), so a
    hostile stream cannot exhaust memory.
    """
    msg = "CompressedCertificate"
    r = _Reader(bytes(body), msg)
    algorithm = r.uint(2, "algorithm")
    length = r.uint(3, "uncompressed_length")
    compressed = r.opaque(3, "compressed_certificate_message")
    if r.remaining:
        raise r.fail(f"{r.remaining} bytes after the compressed data")
    fn, why = _decompressor(algorithm)
    if fn is None:
        return CompressedCertificate(algorithm, length, compressed, None, why)
    try:
        out = fn(compressed, min(length, _MAX_UNCOMPRESSED))
    except Exception as err:  # each codec raises its own error type on damaged data
        return CompressedCertificate(algorithm, length, compressed, None, f"cannot decompress: {err}")
    if len(out) != length:
        return CompressedCertificate(
            algorithm, length, compressed, None,
            f"decompressed to {len(out)} bytes, header says {length}",
        )
    return CompressedCertificate(algorithm, length, compressed, out)


# ---------------------------------------------------------------------------- CertificateRequest


@dataclass(frozen=True)
class CertificateRequest:
    """A CertificateRequest: what the server will accept as a client certificate.

    ``certificate_authorities`` holds the DER-encoded distinguished names the server named
    (TLS <= 1.2 body, or the TLS 1.3 certificate_authorities extension); ``ca_names`` gives
    them as RFC 4514 strings.
    """

    certificate_types: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    certificate_authorities: tuple[bytes, ...]
    request_context: bytes = b""
    extensions: tuple[tuple[int, bytes], ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ca_names(self) -> list[str]:
        return [dn_to_rfc4514(dn) for dn in self.certificate_authorities]


def _dn_list(r: _Reader) -> tuple[bytes, ...]:
    names = r.vector(2, "certificate_authorities")
    out = []
    while names.remaining:
        out.append(names.opaque(2, "distinguished name"))
    return tuple(out)


def parse_certificate_request(body: bytes, version: int) -> CertificateRequest:
    """Parse a CertificateRequest body for the negotiated ``version``.

    TLS 1.3 (0x0304): context + extensions (signature_algorithms, certificate_authorities).
    TLS 1.2: certificate types, signature algorithms, CA names. TLS 1.0/1.1 and SSLv3 have no
    signature algorithm list.
    """
    msg = "CertificateRequest"
    r = _Reader(bytes(body), msg)
    if version >= 0x0304 and version != 0xFEFD and version != 0xFEFF:
        context = r.opaque(1, "certificate_request_context")
        block = r.vector(2, "extensions")
        exts = []
        while block.remaining:
            etype = block.uint(2, "extension type")
            exts.append((etype, block.opaque(2, "extension data")))
        extensions = tuple(exts)
        notes: list[str] = []
        return CertificateRequest(
            certificate_types=(),
            signature_algorithms=_lenient(extensions, EXT_SIGNATURE_ALGORITHMS, _u16_list, (), notes, msg),
            certificate_authorities=_lenient(extensions, EXT_CERTIFICATE_AUTHORITIES, _dn_list, (), notes, msg),
            request_context=context,
            extensions=extensions,
            notes=tuple(notes),
        )
    types = tuple(r.opaque(1, "certificate_types"))
    has_sig_algs = version in (0x0303, 0xFEFD)  # TLS 1.2 / DTLS 1.2
    sig_algs = tuple(r.vector(2, "supported_signature_algorithms").uints(2, "signature algorithms")) if has_sig_algs else ()
    cas = _dn_list(r)
    if r.remaining:
        raise r.fail(f"{r.remaining} bytes after the CA list")
    return CertificateRequest(types, sig_algs, cas)


# Short names for RFC 4514 output (its table plus the usual extras OpenSSL prints).
_DN_OIDS = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET",
    "2.5.4.10": "O", "2.5.4.11": "OU", "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "emailAddress",
    "2.5.4.5": "serialNumber",
}


def _der_items(data: bytes, what: str) -> Iterator[tuple[int, bytes]]:
    """Top-level (tag, content) pairs of a DER byte string (short and long lengths)."""
    r = _Reader(data, what)
    while r.remaining:
        tag = r.uint(1, "tag")
        n = r.uint(1, "length")
        if n & 0x80:
            size = n & 0x7F
            if size == 0 or size > 4:
                raise r.fail("unsupported DER length form")
            n = r.uint(size, "length")
        yield tag, r.take(n, "value")


def _oid(data: bytes) -> str:
    if not data:
        return ""
    parts = [data[0] // 40, data[0] % 40] if data[0] < 80 else [2, data[0] - 80]
    value = 0
    for b in data[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _der_tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + value


def _escape_rdn(value: str) -> str:
    out = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def dn_to_rfc4514(der: bytes) -> str:
    """A DER Name (SEQUENCE of RDNs) as an RFC 4514 string, last RDN first.

    Undecodable input comes back as ``#<hex>`` rather than an exception, so one odd CA name
    cannot hide the others.
    """
    try:
        seq = list(_der_items(der, "Name"))
        if len(seq) != 1 or seq[0][0] != 0x30:
            raise HandshakeError("Name", "not a SEQUENCE", 0)
        rdns = []
        for tag, rdn in _der_items(seq[0][1], "RDN"):
            if tag != 0x31:
                raise HandshakeError("Name", "RDN is not a SET", 0)
            parts = []
            for _, atv in _der_items(rdn, "AttributeTypeAndValue"):
                items = list(_der_items(atv, "AttributeTypeAndValue"))
                if len(items) != 2 or items[0][0] != 0x06:
                    raise HandshakeError("Name", "bad attribute", 0)
                oid = _oid(items[0][1])
                vtag, raw = items[1]
                if vtag == 0x1E:  # BMPString
                    text = raw.decode("utf-16-be", errors="replace")
                elif vtag in (0x0C, 0x13, 0x16, 0x14, 0x1A):  # UTF8/Printable/IA5/T61/Visible
                    text = raw.decode("utf-8", errors="replace")
                else:
                    parts.append(f"{_DN_OIDS.get(oid, oid)}=#{_der_tlv(vtag, raw).hex()}")
                    continue
                parts.append(f"{_DN_OIDS.get(oid, oid)}={_escape_rdn(text)}")
            rdns.append("+".join(parts))
        return ",".join(reversed(rdns))
    except HandshakeError:
        return "#" + der.hex()


__all__ = [
    "HRR_RANDOM",
    "CertificateMessage",
    "CertificateRequest",
    "ClientHello",
    "CompressedCertificate",
    "HandshakeError",
    "ServerHello",
    "dn_to_rfc4514",
    "parse_certificate",
    "parse_certificate_message",
    "parse_certificate_request",
    "parse_client_hello",
    "parse_compressed_certificate",
    "parse_server_hello",
    "parse_sslv2_client_hello",
]
