"""The table columns handshake messages fill: ClientHello and ServerHello shapes (parsed once
per client or server program and cached), certificate chains, the ALPN of EncryptedExtensions.

A client program sends byte-identical hellos apart from the random, session id, SNI, key
shares, padding and tickets; a server answers with the same bytes apart from random, session
id and key share. So a hello's columns and fingerprints are computed once per shape, and each
connection costs only a cheap key. Damaged messages are noted (``notes``), never raised.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, NamedTuple

from tlskit import registry


class Hello(NamedTuple):
    """What a connection keeps of its ClientHello."""

    columns: dict[str, Any]  # shared by every hello of the same shape; never modified
    sni: str | None
    session_id: bytes


class Server(NamedTuple):
    """What a connection keeps of its ServerHello."""

    columns: dict[str, Any]  # cipher_suite(_name), server_extensions, ja3s(_string); shared
    cipher_suite: int
    session_id: bytes
    psk_accepted: bool
    alpn: str | None


_SERVER_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}


def _server_fields(sh: Any) -> Server:
    """The ServerHello as the few values the tables need; its columns computed once per
    (version, suite, extensions), which a server repeats on every connection."""
    types = tuple(sh.extension_types)
    shape = (sh.legacy_version, sh.cipher_suite, types)
    known = _SERVER_SHAPES.get(shape)
    if known is None:
        from tlskit.tls.fingerprint import ja3s

        if len(_SERVER_SHAPES) >= 4096:
            _SERVER_SHAPES.clear()
        known = _SERVER_SHAPES[shape] = dict(
            cipher_suite=sh.cipher_suite, cipher_suite_name=registry.cipher_suite_name(sh.cipher_suite),
            server_extensions=list(types))
        known["ja3s_string"], known["ja3s"] = _safe(ja3s, sh)
    return Server(known, sh.cipher_suite, sh.session_id, sh.psk_accepted, sh.alpn)


_RAW_SERVER: dict[bytes, tuple[Server, int, bool]] = {}  # raw ServerHello key -> parsed


def server_hello(body: bytes, notes: list[str], frame: int) -> tuple[Server, int, bool] | None:
    """(server hello, selected version, is HelloRetryRequest) of a ServerHello body, None when
    it is damaged (noted). A server answers with the same bytes apart from random, session id
    and key share, so a hello seen before is not parsed again."""
    found = _server_raw_key(body)
    known = None if found is None else _RAW_SERVER.get(found[0])
    if known is None:
        sh = parse(_sh, body, notes, frame)
        if sh is None:
            return None
        parsed = (_server_fields(sh), sh.selected_version, sh.is_hello_retry_request)
        if found is not None:
            if len(_RAW_SERVER) >= 4096:
                _RAW_SERVER.clear()
            _RAW_SERVER[found[0]] = parsed
        return parsed
    server, version, hrr = known
    return server._replace(session_id=found[1]), version, hrr  # type: ignore[index]


def _server_raw_key(body: bytes) -> tuple[bytes, bytes] | None:
    """(key, session id) of a structurally sound ServerHello body (same checks as
    parse_server_hello); None when it is damaged or a TLS 1.3 draft layout. The key: the body
    without the random (but whether it is the HelloRetryRequest one), the session id and the
    key share's bytes, which change per connection and feed no column."""
    from tlskit.tls.handshake import HRR_RANDOM, _is_early_tls13_draft

    n = len(body)
    if n < 35 or _is_early_tls13_draft((body[0] << 8) | body[1]):
        return None
    pos = 35 + body[34]
    if pos + 3 > n:
        return None
    session_id = body[35:pos]
    parts = [body[:2], b"\x01" if body[2:34] == HRR_RANDOM else b"\x00", body[pos:pos + 3]]
    pos += 3
    if pos < n:
        if pos + 2 > n or pos + 2 + ((body[pos] << 8) | body[pos + 1]) != n:
            return None
        pos = mark = pos + 2
        while pos < n:
            if pos + 4 > n:
                return None
            etype, elen = _EXT_HEAD(body, pos)
            end = pos + 4 + elen
            if end > n:
                return None
            if etype == 0x0033:
                parts += (body[mark:pos], b"\x00\x33\xff\xff")
                mark = end
            pos = end
        parts.append(body[mark:n])
    return b"".join(parts), session_id


_SHAPES: dict[tuple[Any, ...], dict[str, Any]] = {}  # ClientHello shape -> its columns (bounded below)
_RAW_SHAPES: dict[bytes, dict[str, Any]] = {}  # raw hello key (see _raw_key) -> its columns

# Extensions whose bytes change per connection and feed no shape column (SNI and the key
# share are read per connection; the key share's groups are part of the key).
_PER_CONNECTION_EXTS = frozenset({0x0000, 0x0015, 0x0023, 0x0029, 0x0033, 0xFE0D})


def hello_fields(body: bytes, notes: list[str], frame: int) -> Hello | None:
    """The connection columns of a ClientHello body (after the handshake header), or None
    when it is damaged (noted on the connection).

    A client program sends byte-identical hellos apart from the random, session id, SNI,
    key shares, padding and tickets. Hellos whose other bytes were seen before reuse that
    hello's columns without a full parse (the costliest step for short connections)."""
    found = _raw_key(body)
    if found is None:
        ch = parse(_ch, body, notes, frame)
        return None if ch is None else client_fields(ch)
    key, session_id, sni_data = found
    known = _RAW_SHAPES.get(key)
    if known is None:
        ch = parse(_ch, body, notes, frame)
        if ch is None:
            return None
        fields = client_fields(ch)
        if len(_RAW_SHAPES) >= 4096:
            _RAW_SHAPES.clear()
        _RAW_SHAPES[key] = fields.columns
        return fields
    return Hello(known, None if sni_data is None else _lenient_sni(sni_data), session_id)


def _raw_key(body: bytes) -> tuple[bytes, bytes, bytes | None] | None:
    """(key, session id, first SNI extension data) of a structurally sound ClientHello body,
    None when the full parser would reject it (same checks as parse_client_hello) or its key
    share cannot be read.

    The key is the body without what changes per connection: legacy_version, the suites and
    compression methods, then the extensions as on the wire, except that per-connection ones
    (:data:`_PER_CONNECTION_EXTS`) keep only their type (the key share: its groups). One bytes
    object: cheaper to hash and compare than a tuple of the parts."""
    n = len(body)
    if n < 35:
        return None
    sid_len = body[34]
    pos = 35 + sid_len
    if sid_len > 32 or pos + 2 > n:
        return None
    session_id = body[35:pos]
    slen = (body[pos] << 8) | body[pos + 1]
    cpos = pos + 2 + slen
    if slen % 2 or cpos + 1 > n:
        return None
    epos = cpos + 1 + body[cpos]
    if epos > n:
        return None
    parts = [body[0:2], body[pos:epos]]
    sni_data: bytes | None = None
    if epos < n:
        if epos + 2 > n:
            return None
        end = epos + 2 + ((body[epos] << 8) | body[epos + 1])
        if end != n:  # overruns the message, or bytes after the extensions
            return None
        pos = mark = epos + 2
        seen: set[int] = set()
        while pos < end:
            if pos + 4 > end:
                return None
            etype, elen = _EXT_HEAD(body, pos)
            nxt = pos + 4 + elen
            if nxt > end:
                return None
            if etype in _PER_CONNECTION_EXTS:
                parts.append(body[mark:pos])  # the stable extensions before this one, as they are
                first = etype not in seen
                seen.add(etype)
                if etype == 0x0033 and first:
                    groups = _key_share_groups(body[pos + 4:nxt])
                    if groups is None:
                        return None
                    parts.append(b"\x00\x33\xff\xfe" + b"".join(g.to_bytes(2, "big") for g in groups) + b"\xff\xfe")
                else:
                    if etype == 0x0000 and first:
                        sni_data = body[pos + 4:nxt]
                    parts.append(body[pos:pos + 2] + b"\xff\xff")
                mark = nxt
            pos = nxt
        parts.append(body[mark:end])
    return b"".join(parts), session_id, sni_data


_EXT_HEAD = struct.Struct("!HH").unpack_from  # extension type, length


def _key_share_groups(data: bytes) -> tuple[int, ...] | None:
    """Groups of a ClientHello key_share extension; None when it is damaged."""
    if len(data) < 2 or 2 + int.from_bytes(data[:2], "big") != len(data):
        return None
    groups = []
    pos = 2
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        groups.append(int.from_bytes(data[pos:pos + 2], "big"))
        pos += 4 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return tuple(groups) if pos == len(data) else None


def _lenient_sni(data: bytes) -> str | None:
    """The host name of a server_name extension, as parse_client_hello reads it."""
    n = len(data)
    if n >= 5 and ((data[0] << 8) | data[1]) == n - 2 and data[2] == 0:  # one well-formed list, host_name first
        end = 5 + ((data[3] << 8) | data[4])
        if end <= n:
            return data[5:end].decode("ascii", errors="replace")
    from tlskit.tls.handshake import EXT_SERVER_NAME, _lenient, _sni

    return _lenient(((EXT_SERVER_NAME, data),), EXT_SERVER_NAME, _sni, None, [], "ClientHello")


def client_fields(ch: Any) -> Hello:
    """The connection columns a ClientHello fills, computed once so the parsed message (with
    every extension's bytes) need not be kept until the tables are built.

    One client program sends the same hello shape (suites, extensions, groups, ...) on every
    connection; only the random, session id, key shares and SNI change. The columns and
    fingerprints of a shape are computed once and shared."""
    g = _degrease  # browsers pick fresh GREASE values per connection; no column depends on which
    shape = (ch.legacy_version, g(ch.cipher_suites), g(ch.extension_types), g(ch.supported_groups),
             ch.ec_point_formats, g(ch.signature_algorithms), ch.alpn_raw, g(ch.supported_versions),
             g(ch.key_share_groups), ch.sni is not None, ch.sslv2)
    known = _SHAPES.get(shape)
    if known is None:
        if len(_SHAPES) >= 4096:
            _SHAPES.clear()
        known = _SHAPES[shape] = _shape_fields(ch)
    return Hello(known, ch.sni, ch.session_id)


def _degrease(codes: Iterable[int]) -> tuple[int, ...]:
    return tuple(0x0A0A if registry.is_grease(c) else c for c in codes)


def _shape_fields(ch: Any) -> dict[str, Any]:
    from tlskit.tls.fingerprint import ja3, ja4

    suites = [s for s in ch.cipher_suites if not registry.is_grease(s)]
    if ch.sslv2:
        suites = [s for s in suites if s <= 0xFFFF]
    out: dict[str, Any] = dict(
        alpn_offered=list(ch.alpn), client_legacy_version=ch.legacy_version,
        client_versions=[v for v in ch.supported_versions if not registry.is_grease(v)],
        client_max_version=ch.max_version, offered_ciphers=suites,
        offered_cipher_names=[registry.cipher_suite_name(s) for s in suites],
        offered_grease=sum(1 for s in ch.cipher_suites if registry.is_grease(s)),
        offered_extensions=[e for e in ch.extension_types if not registry.is_grease(e)],
        offered_groups=[g for g in ch.supported_groups if not registry.is_grease(g)],
        offered_sig_algs=[a for a in ch.signature_algorithms if not registry.is_grease(a)],
        offered_key_shares=[g for g in ch.key_share_groups if not registry.is_grease(g)],
    )
    out["ja3_string"], out["ja3"] = _safe(ja3, ch)
    out["ja4"] = _safe(ja4, ch)
    return out


def _safe(fn: Any, hello: Any) -> Any:
    try:
        return fn(hello)
    except (ValueError, KeyError, IndexError):
        return (None, None) if fn.__name__ in ("ja3", "ja3s") else None


def _ch(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_client_hello

    return parse_client_hello(body)


def sslv2_client_hello(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_sslv2_client_hello

    return parse_sslv2_client_hello(body)


def _sh(body: bytes) -> Any:
    from tlskit.tls.handshake import parse_server_hello

    return parse_server_hello(body)


def parse(fn: Any, body: bytes, notes: list[str], frame: int) -> Any:
    from tlskit.tls.handshake import HandshakeError

    try:
        return fn(body)
    except HandshakeError as exc:
        notes.append(f"frame {frame}: {exc}")
        return None


def ee_alpn(body: bytes) -> str | None:
    """The ALPN protocol in an EncryptedExtensions body, if any."""
    if len(body) < 2:
        return None
    end = min(len(body), 2 + int.from_bytes(body[:2], "big"))
    i = 2
    while i + 4 <= end:
        etype, elen = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
        data = body[i + 4:i + 4 + elen]
        if etype == 16 and len(data) >= 3:
            return data[3:3 + data[2]].decode("utf-8", "replace")
        i += 4 + elen
    return None


def certificate_ders(msg: bytes, mtype: int, tls13: bool, notes: list[str], frame: int) -> list[bytes]:
    from tlskit.tls.handshake import HandshakeError, parse_certificate, parse_compressed_certificate

    try:
        if mtype == 25:
            cc = parse_compressed_certificate(msg[4:])
            if cc.message is None:
                notes.append(f"frame {frame}: compressed certificate not expanded ({cc.note})")
                return []
            inner = cc.message
            return list(parse_certificate(inner[4:] if inner[:1] == b"\x0b" else inner, True))
        return list(parse_certificate(msg[4:], tls13))
    except HandshakeError as exc:
        notes.append(f"frame {frame}: {exc}")
        return []


__all__ = ["Hello", "Server", "certificate_ders", "client_fields", "ee_alpn", "hello_fields", "parse", "server_hello",
           "sslv2_client_hello"]
