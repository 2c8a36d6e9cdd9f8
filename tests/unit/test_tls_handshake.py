"""Handshake parsers on hand-built messages: fields, derived accessors, and damaged input."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit.tls.handshake import (
    HRR_RANDOM,
    HandshakeError,
    dn_to_rfc4514,
    parse_certificate,
    parse_certificate_message,
    parse_certificate_request,
    parse_client_hello,
    parse_compressed_certificate,
    parse_server_hello,
    parse_sslv2_client_hello,
)


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def v8(b: bytes) -> bytes:
    return u8(len(b)) + b


def v16(b: bytes) -> bytes:
    return u16(len(b)) + b


def v24(b: bytes) -> bytes:
    return u24(len(b)) + b


def ext(etype: int, data: bytes = b"") -> bytes:
    return u16(etype) + v16(data)


def client_hello(
    *,
    version: int = 0x0303,
    suites: list[int] | None = None,
    extensions: list[bytes] | None = None,
    session_id: bytes = b"\x11" * 32,
    random: bytes = bytes(range(32)),
) -> bytes:
    suites = [0x1301, 0xC02F] if suites is None else suites
    body = u16(version) + random + v8(session_id) + v16(b"".join(u16(s) for s in suites)) + v8(b"\x00")
    if extensions is not None:
        body += v16(b"".join(extensions))
    return body


SNI = ext(0x0000, v16(b"\x00" + v16(b"api.example.com")))
ALPN = ext(0x0010, v16(v8(b"h2") + v8(b"http/1.1")))
VERSIONS = ext(0x002B, v8(u16(0x3A3A) + u16(0x0304) + u16(0x0303)))
GROUPS = ext(0x000A, v16(u16(0x2A2A) + u16(0x001D) + u16(0x0017)))
SIGALGS = ext(0x000D, v16(u16(0x0403) + u16(0x0804)))
POINTS = ext(0x000B, v8(b"\x00"))
KEY_SHARE = ext(0x0033, v16(u16(0x2A2A) + v16(b"\x00") + u16(0x001D) + v16(b"\x42" * 32)))
PSK = ext(0x0029, v16(v16(b"ticket") + b"\x00\x00\x00\x01") + v16(v8(b"\xbb" * 32)))


def test_client_hello_fields_and_accessors() -> None:
    body = client_hello(
        suites=[0x0A0A, 0x1301, 0x1302, 0xC02F],
        extensions=[ext(0x1A1A), SNI, ALPN, VERSIONS, GROUPS, SIGALGS, POINTS, KEY_SHARE, ext(0x0023), PSK],
    )
    ch = parse_client_hello(body)
    assert ch.legacy_version == 0x0303 and ch.random == bytes(range(32)) and ch.session_id == b"\x11" * 32
    assert ch.cipher_suites == (0x0A0A, 0x1301, 0x1302, 0xC02F)  # GREASE kept in the raw list
    assert ch.extension_types == [0x1A1A, 0, 0x10, 0x2B, 0x0A, 0x0D, 0x0B, 0x33, 0x23, 0x29]
    assert ch.sni == "api.example.com"
    assert ch.alpn == ["h2", "http/1.1"]
    assert ch.supported_versions == (0x3A3A, 0x0304, 0x0303)
    assert ch.max_version == 0x0304  # GREASE ignored
    assert ch.supported_groups == (0x2A2A, 0x001D, 0x0017)
    assert ch.signature_algorithms == (0x0403, 0x0804)
    assert ch.ec_point_formats == (0,)
    assert ch.key_share_groups == (0x2A2A, 0x001D)
    assert ch.psk_offered and ch.psk_identities == 1
    assert ch.session_ticket == b""
    assert ch.notes == ()


def test_client_hello_without_extensions_block() -> None:
    # SSLv3 / early TLS clients end the hello after the compression methods.
    ch = parse_client_hello(client_hello(version=0x0300, extensions=None))
    assert ch.extensions == () and ch.sni is None and ch.max_version == 0x0300
    assert ch.session_ticket is None and not ch.psk_offered


def test_damaged_extension_payload_is_a_note_not_an_error() -> None:
    bad_sni = ext(0x0000, v16(b"\x00" + u16(200) + b"short"))
    ch = parse_client_hello(client_hello(extensions=[bad_sni, ALPN]))
    assert ch.sni is None and ch.alpn == ["h2", "http/1.1"]
    assert len(ch.notes) == 1 and "0x0000" in ch.notes[0]


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"", "legacy_version"),
        (b"\x03\x03" + b"\x00" * 10, "random"),
        (client_hello()[:-3], "cipher_suites"),
        (client_hello(extensions=[SNI])[:-4], "extension"),
        (client_hello(extensions=[SNI]) + b"\x00", "after the extensions"),
        (client_hello(session_id=b"\x00" * 40), "session id"),
        (u16(0x0303) + bytes(32) + v8(b"") + v16(b"\x13\x01\x00") + v8(b"\x00"), "multiple of 2"),
    ],
    ids=["empty", "short-random", "cut-suites", "cut-extension", "trailing", "long-session-id", "odd-suites"],
)
def test_structural_damage_raises_handshake_error(body: bytes, what: str) -> None:
    with pytest.raises(HandshakeError) as info:
        parse_client_hello(body)
    assert isinstance(info.value, ValueError)
    assert what in str(info.value) and "ClientHello" in str(info.value)


def test_server_hello_tls13_and_hrr() -> None:
    sh = parse_server_hello(
        u16(0x0303) + b"\x01" * 32 + v8(b"\x11" * 32) + u16(0x1302) + b"\x00"
        + v16(ext(0x002B, u16(0x0304)) + ext(0x0033, u16(0x001D) + v16(b"\x42" * 32)) + ext(0x0029, u16(0)))
    )
    assert sh.selected_version == 0x0304 and sh.legacy_version == 0x0303
    assert sh.cipher_suite == 0x1302 and sh.key_share_group == 0x001D
    assert sh.psk_accepted and sh.psk_identity == 0 and not sh.is_hello_retry_request
    assert sh.extension_types == [0x2B, 0x33, 0x29]

    hrr = parse_server_hello(u16(0x0303) + HRR_RANDOM + v8(b"") + u16(0x1301) + b"\x00" + v16(ext(0x002B, u16(0x0304)) + ext(0x0033, u16(0x0017))))
    assert hrr.is_hello_retry_request and hrr.key_share_group == 0x0017


def test_server_hello_tls12_alpn_and_downgrade_sentinel() -> None:
    random = b"\x02" * 24 + b"DOWNGRD\x01"
    sh = parse_server_hello(u16(0x0303) + random + v8(b"") + u16(0xC02F) + b"\x00" + v16(ext(0x0010, v16(v8(b"h2"))) + ext(0xFF01, b"\x00")))
    assert sh.selected_version == 0x0303 and sh.alpn == "h2" and not sh.psk_accepted
    assert sh.downgrade_sentinel == 0x0303
    bare = parse_server_hello(u16(0x0300) + b"\x03" * 32 + v8(b"\x05" * 32) + u16(0x0004) + b"\x00")
    assert bare.extensions == () and bare.selected_version == 0x0300 and bare.alpn is None


def test_server_hello_tls13_draft_layout() -> None:
    # Draft -18 (0x7f12): no session id and no compression method.
    sh = parse_server_hello(u16(0x7F12) + b"\x04" * 32 + u16(0x1301) + v16(ext(0x0028, u16(0x001D) + v16(b"\x01" * 32))))
    assert sh.selected_version == 0x7F12 and sh.cipher_suite == 0x1301 and sh.extension_types == [0x28]


def test_certificate_tls12_and_tls13() -> None:
    a, b = b"\x30\x03\x01\x02\x03", b"\x30\x01\x00"
    assert parse_certificate(v24(v24(a) + v24(b)), tls13=False) == [a, b]
    msg = parse_certificate_message(v8(b"ctx") + v24(v24(a) + v16(ext(5, b"ocsp")) + v24(b) + v16(b"")), tls13=True)
    assert msg.certificates == (a, b) and msg.request_context == b"ctx"
    assert msg.entry_extensions == (((5, b"ocsp"),), ())
    assert parse_certificate(v8(b"") + v24(b""), tls13=True) == []  # "no certificate" answer
    assert parse_certificate(v24(b""), tls13=False) == []
    with pytest.raises(HandshakeError, match="certificate 0"):
        parse_certificate(v24(u24(100) + a), tls13=False)


def test_compressed_certificate_zlib_and_unavailable_algorithm() -> None:
    inner = v8(b"") + v24(v24(b"\x30\x01\x00") + v16(b""))
    comp = zlib.compress(inner)
    cc = parse_compressed_certificate(u16(1) + u24(len(inner)) + v24(comp))
    assert cc.algorithm_name == "zlib" and cc.message == inner and cc.certificates == [b"\x30\x01\x00"]
    wrong = parse_compressed_certificate(u16(1) + u24(len(inner) + 5) + v24(comp))
    assert wrong.message is None and "header says" in (wrong.note or "")
    odd = parse_compressed_certificate(u16(0x4444) + u24(10) + v24(b"xx"))
    assert odd.message is None and "unknown" in (odd.note or "") and odd.certificates == []
    bomb = zlib.compress(b"\x00" * 5_000_000)
    capped = parse_compressed_certificate(u16(1) + u24(100) + v24(bomb))
    assert capped.message is None  # stopped at the declared length, not 5 MB


def _dn(cn: str) -> bytes:
    def tlv(tag: int, b: bytes) -> bytes:
        return bytes([tag, len(b)]) + b

    atv = tlv(0x30, tlv(0x06, bytes([0x55, 0x04, 0x03])) + tlv(0x0C, cn.encode()))
    org = tlv(0x30, tlv(0x06, bytes([0x55, 0x04, 0x0A])) + tlv(0x13, b"Corp, Inc"))
    return tlv(0x30, tlv(0x31, org) + tlv(0x31, atv))


def test_certificate_request_tls12_tls10_tls13() -> None:
    cas = v16(v16(_dn("Root CA")) + v16(_dn("Other")))
    r12 = parse_certificate_request(v8(b"\x01\x40") + v16(u16(0x0401) + u16(0x0403)) + cas, 0x0303)
    assert r12.certificate_types == (1, 64) and r12.signature_algorithms == (0x0401, 0x0403)
    assert r12.ca_names == ["CN=Root CA,O=Corp\\, Inc", "CN=Other,O=Corp\\, Inc"]
    r10 = parse_certificate_request(v8(b"\x01") + cas, 0x0301)
    assert r10.signature_algorithms == () and len(r10.certificate_authorities) == 2
    r13 = parse_certificate_request(v8(b"") + v16(ext(0x000D, v16(u16(0x0804))) + ext(0x002F, cas)), 0x0304)
    assert r13.signature_algorithms == (0x0804,) and r13.ca_names[0].startswith("CN=Root CA")
    assert dn_to_rfc4514(b"\x01\x02") == "#0102"
    # An attribute type without a string value keeps its BER form (#hex), long lengths included.
    odd = bytes([0x30, 0x81, 0x99, 0x31, 0x81, 0x96, 0x30, 0x81, 0x93, 0x06, 0x03, 0x55, 0x04, 0x03, 0x04, 0x81, 0x8B]) + b"\xaa" * 0x8B
    assert dn_to_rfc4514(odd) == "CN=#04818b" + "aa" * 0x8B


def test_sslv2_client_hello() -> None:
    specs = bytes.fromhex("010080" "00002f" "000035")
    challenge = b"\x07" * 16
    msg = b"\x01" + u16(0x0301) + u16(len(specs)) + u16(0) + u16(len(challenge)) + specs + challenge
    ch = parse_sslv2_client_hello(u16(0x8000 | len(msg)) + msg)
    assert ch.sslv2 and ch.legacy_version == 0x0301
    assert ch.cipher_suites == (0x010080, 0x2F, 0x35)
    assert ch.random == b"\x00" * 16 + challenge
    assert parse_sslv2_client_hello(msg) == ch
    assert parse_sslv2_client_hello(u16(len(msg)) + b"\x00" + msg) == ch  # 3-byte header form
    with pytest.raises(HandshakeError):
        parse_sslv2_client_hello(msg[:-4])


VALID = client_hello(extensions=[SNI, ALPN, VERSIONS, GROUPS, SIGALGS, KEY_SHARE, PSK])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_hellos_raise_only_handshake_error(data: st.DataObject) -> None:
    body = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    chunk = bytes(body[:cut])
    parsers = [
        parse_client_hello, parse_server_hello, parse_sslv2_client_hello, parse_compressed_certificate,
        lambda b: parse_certificate(b, True), lambda b: parse_certificate(b, False),
        lambda b: parse_certificate_request(b, 0x0304), lambda b: parse_certificate_request(b, 0x0303),
    ]
    for parse in parsers:
        with contextlib.suppress(HandshakeError):  # anything else fails the test
            parse(chunk)


def test_compressed_certificate_brotli_when_installed() -> None:
    brotli = pytest.importorskip("brotli")  # optional dependency (Chrome's default algorithm)
    inner = v8(b"") + v24(v24(b"\x30\x01\x00") + v16(b""))
    cc = parse_compressed_certificate(u16(2) + u24(len(inner)) + v24(brotli.compress(inner)))
    assert cc.algorithm_name == "brotli" and cc.certificates == [b"\x30\x01\x00"]
    bomb = brotli.compress(b"\x00" * 5_000_000)
    assert parse_compressed_certificate(u16(2) + u24(100) + v24(bomb)).message is None
