"""JA3 / JA3S / JA4 on hand-built hellos, including the JA4 spec's own worked example."""

from __future__ import annotations

import hashlib

import pytest

from tests.unit.test_tls_handshake import client_hello, ext, u16, v8, v16
from tlskit.tls.fingerprint import ja3, ja3s, ja4
from tlskit.tls.handshake import parse_client_hello, parse_server_hello

# The example in FoxIO's technical_details/JA4.md (BSD-3): ciphers, extensions and
# signature algorithms in sent order, expected t13d1516h2_8daaf6152771_e5627efa2ab1.
SPEC_SUITES = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
SPEC_EXTS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
SPEC_SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _ext_data(etype: int, alpn: bytes = b"h2") -> bytes:
    if etype == 0x0000:
        return v16(b"\x00" + v16(b"example.com"))
    if etype == 0x0010:
        return v16(v8(alpn))
    if etype == 0x002B:
        return v8(u16(0x0304) + u16(0x0303))
    if etype == 0x000D:
        return v16(b"".join(u16(s) for s in SPEC_SIGS))
    return b""


def _spec_hello(grease: bool = False, alpn: bytes = b"h2", exts: list[int] | None = None) -> bytes:
    exts = SPEC_EXTS if exts is None else exts
    suites = ([0x5A5A] if grease else []) + SPEC_SUITES
    parts = ([ext(0xDADA)] if grease else []) + [ext(e, _ext_data(e, alpn)) for e in exts]
    return client_hello(suites=suites, extensions=parts)


def test_ja4_spec_example() -> None:
    assert ja4(parse_client_hello(_spec_hello())) == "t13d1516h2_8daaf6152771_e5627efa2ab1"


def test_ja4_ignores_grease_and_takes_transport() -> None:
    ch = parse_client_hello(_spec_hello(grease=True))
    assert ja4(ch) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ja4(ch, transport="q").startswith("q13d1516h2_")
    with pytest.raises(ValueError):
        ja4(ch, transport="x")


def test_ja4_without_sni_alpn_sigalgs() -> None:
    exts = [e for e in SPEC_EXTS if e not in (0x0000, 0x0010, 0x000D)]
    fp = ja4(parse_client_hello(_spec_hello(exts=exts)))
    head, _, ext_hash = fp.split("_")
    assert head == "t13i151300"
    # No signature algorithms: the string ends without an underscore (spec, FoxIO python/rust).
    text = ",".join(sorted(f"{e:04x}" for e in exts))
    assert ext_hash == hashlib.sha256(text.encode()).hexdigest()[:12]


def test_ja4_empty_lists_and_legacy_version() -> None:
    ch = parse_client_hello(client_hello(version=0x0301, suites=[], extensions=None))
    assert ja4(ch) == "t10i000000_000000000000_000000000000"
    assert ja4(parse_client_hello(client_hello(version=0x0300, extensions=None))).startswith("ts3")
    assert ja4(parse_client_hello(client_hello(version=0x7F12, extensions=None)))[1:3] == "00"


@pytest.mark.parametrize(
    ("alpn", "chars"),
    [(b"http/1.1", "h1"), (b"h2", "h2"), (b"x", "xx"), (b"\xab\xcd", "99"), (b"h\xff", "h9"), (b"", "00")],
)
def test_ja4_alpn_characters(alpn: bytes, chars: str) -> None:
    # Non-ASCII bytes give '9' as FoxIO's implementations (and their test data) do.
    assert ja4(parse_client_hello(_spec_hello(alpn=alpn)))[8:10] == chars


def test_ja4_counts_cap_at_99() -> None:
    ch = parse_client_hello(client_hello(suites=list(range(1, 150)), extensions=None))
    assert ja4(ch)[4:6] == "99"


def test_ja3_string_drops_grease() -> None:
    exts = [
        ext(0x0A0A), ext(0x0000, v16(b"\x00" + v16(b"a.b"))),
        ext(0x000A, v16(u16(0x2A2A) + u16(29) + u16(23))), ext(0x000B, v8(b"\x00\x01")),
    ]
    ch = parse_client_hello(client_hello(suites=[0x1A1A, 0x1301, 0xC02F], extensions=exts))
    text, digest = ja3(ch)
    assert text == "771,4865-49199,0-10-11,29-23,0-1"
    assert digest == hashlib.md5(text.encode()).hexdigest()


def test_ja3_for_a_hello_without_extensions() -> None:
    text, _ = ja3(parse_client_hello(client_hello(version=0x0301, suites=[4, 5], extensions=None)))
    assert text == "769,4-5,,,"


def test_ja3s() -> None:
    sh = parse_server_hello(u16(0x0303) + b"\x01" * 32 + v8(b"") + u16(0xC02F) + b"\x00" + v16(ext(0xFF01, b"\x00") + ext(0x000B, v8(b"\x00")) + ext(0x0023)))
    text, digest = ja3s(sh)
    assert text == "771,49199,65281-11-35"
    # Arkime's expected JA3S for the same string (arkime/openssl-tls1_2.pcap).
    assert digest == "ccc514751b175866924439bdbb5bba34"


def test_no_fingerprint_for_sslv2_hello() -> None:
    # Upstream tools (ja3, FoxIO, Arkime, tshark) compute none for SSLv2-format hellos.
    from tlskit.tls.handshake import parse_sslv2_client_hello

    msg = b"\x01" + u16(0x0301) + u16(3) + u16(0) + u16(16) + b"\x00\x00\x2f" + b"\x07" * 16
    ch = parse_sslv2_client_hello(msg)
    with pytest.raises(ValueError, match="SSLv2"):
        ja3(ch)
    with pytest.raises(ValueError, match="SSLv2"):
        ja4(ch)
