"""Client and server fingerprints: JA3 and JA3S (Salesforce), JA4 (FoxIO, BSD-3-Clause).

Only JA4 itself is implemented from the JA4+ family: JA4S, JA4X and the others are under
FoxIO's non-commercial licence.

JA3: ``SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats`` with decimal values
joined by ``-``, GREASE removed, MD5 of that string. JA3S: ``SSLVersion,Cipher,Extensions``.

JA4 (``t13d1516h2_8daaf6152771_e5627efa2ab1``): transport, version, SNI marker, cipher and
extension counts, ALPN first/last character, truncated SHA-256 of the sorted cipher list,
and of the sorted extension list (SNI and ALPN removed) with the signature algorithms in
sent order appended.
"""

from __future__ import annotations

import hashlib

from tlskit.registry import is_grease
from tlskit.tls.handshake import EXT_ALPN, EXT_SERVER_NAME, ClientHello, ServerHello

_JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"


def _dash(values: list[int] | tuple[int, ...]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def _md5(text: str) -> str:
    # JA3 is defined on MD5; this is an identifier, not a security use.
    return hashlib.md5(text.encode("ascii"), usedforsecurity=False).hexdigest()


def _no_sslv2(ch: ClientHello, name: str) -> None:
    # JA3 and JA4 are defined on TLS handshake records; Salesforce's ja3, FoxIO, Arkime and
    # tshark compute none for an SSLv2-format hello, so a value here would match nothing.
    if ch.sslv2:
        raise ValueError(f"{name} is not defined for an SSLv2-format ClientHello")


def ja3(ch: ClientHello) -> tuple[str, str]:
    """JA3 of a ClientHello.

    Returns
    -------
    (ja3_string, ja3_md5)

    Raises
    ------
    ValueError
        For an SSLv2-format ClientHello (no JA3 is defined for it).
    """
    _no_sslv2(ch, "JA3")
    text = ",".join(
        [
            str(ch.legacy_version),
            _dash(ch.cipher_suites),
            _dash(ch.extension_types),
            _dash(ch.supported_groups),
            _dash(ch.ec_point_formats),
        ]
    )
    return text, _md5(text)


def ja3s(sh: ServerHello) -> tuple[str, str]:
    """JA3S of a ServerHello.

    Returns
    -------
    (ja3s_string, ja3s_md5)
    """
    text = ",".join([str(sh.legacy_version), str(sh.cipher_suite), _dash(sh.extension_types)])
    return text, _md5(text)


def _hash12(items: list[str]) -> str:
    if not items:
        return _EMPTY_HASH
    return hashlib.sha256(",".join(items).encode("ascii")).hexdigest()[:12]


def _alpn_chars(first: bytes) -> str:
    """First and last character of the first ALPN value.

    Upstream implementations (FoxIO Python and Rust, whose test data we match) read the
    value through Wireshark's string decoding and put '9' for any non-ASCII character; the
    newer JA4.md wording (hex digits for non-alphanumeric bytes) is not what deployed
    fingerprints contain, so we follow the implementations.
    """
    if not first:
        return "00"

    def char(b: int) -> str:
        return chr(b) if b < 0x80 else "9"

    return char(first[0]) + char(first[-1])


def ja4(ch: ClientHello, transport: str = "t") -> str:
    """JA4 fingerprint of a ClientHello.

    Parameters
    ----------
    ch : ClientHello
    transport : str
        "t" TLS over TCP, "q" QUIC, "d" DTLS.

    Raises
    ------
    ValueError
        For an unknown transport or an SSLv2-format ClientHello.
    """
    _no_sslv2(ch, "JA4")
    if transport not in ("t", "q", "d"):
        raise ValueError(f"transport must be 't', 'q' or 'd', not {transport!r}")
    versions = [v for v in ch.supported_versions if not is_grease(v)]
    version = max(versions) if versions else ch.legacy_version
    vtext = _JA4_VERSIONS.get(version, "00")
    sni = "d" if ch.has_extension(EXT_SERVER_NAME) else "i"
    suites = [s for s in ch.cipher_suites if not is_grease(s)]
    exts = [e for e in ch.extension_types if not is_grease(e)]
    alpn = _alpn_chars(ch.alpn_raw[0]) if ch.alpn_raw else "00"
    head = f"{transport}{vtext}{sni}{min(len(suites), 99):02d}{min(len(exts), 99):02d}{alpn}"

    cipher_hash = _hash12(sorted(f"{s:04x}" for s in suites))
    ext_list = sorted(f"{e:04x}" for e in exts if e not in (EXT_SERVER_NAME, EXT_ALPN))
    sig_algs = [f"{s:04x}" for s in ch.signature_algorithms if not is_grease(s)]
    if not ext_list:
        ext_hash = _EMPTY_HASH
    else:
        text = ",".join(ext_list) + ("_" + ",".join(sig_algs) if sig_algs else "")
        ext_hash = hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
    return f"{head}_{cipher_hash}_{ext_hash}"


__all__ = ["ja3", "ja3s", "ja4"]
