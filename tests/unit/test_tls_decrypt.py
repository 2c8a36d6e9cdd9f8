"""TLS 1.3 record decryption on real captures with their key logs.

The records come from Wireshark's test captures (conformance/fingerprints/wireshark/), read
with a tiny pcap helper below (Ethernet/IPv4/TCP, in-order streams: enough for these two
files, not a general reader). Expected plaintexts are what RFC 8448 and Wireshark's
suite_decryption.py assert for them.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from tests.conftest import CONFORMANCE
from tlskit.tls.decrypt import (
    RecordDecryptor,
    decryptors_for,
    hkdf_expand_label,
    next_traffic_secret,
    record_nonce,
    strip_inner,
    traffic_keys,
)
from tlskit.tls.handshake import parse_certificate, parse_client_hello, parse_server_hello
from tlskit.tls.keylog import read_keylog

WS = CONFORMANCE / "fingerprints" / "wireshark"
pytestmark = pytest.mark.skipif(not WS.is_dir(), reason="conformance captures not available")

Flow = tuple[str, int, str, int]


def _streams(path: Path) -> dict[Flow, bytes]:
    """TCP payload per direction, in sequence order, duplicates dropped."""
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4 and struct.unpack("<I", data[20:24])[0] == 1
    pos, segs = 24, defaultdict(dict)
    while pos + 16 <= len(data):
        incl = struct.unpack("<I", data[pos + 8 : pos + 12])[0]
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ip = frame[14:]
        ihl, total = (ip[0] & 0x0F) * 4, struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if payload:
            flow = (".".join(map(str, ip[12:16])), sport, ".".join(map(str, ip[16:20])), dport)
            segs[flow].setdefault(seq, payload)
    return {flow: b"".join(p for _, p in sorted(s.items())) for flow, s in segs.items()}


def _records(stream: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 5 <= len(stream):
        n = struct.unpack(">H", stream[pos + 3 : pos + 5])[0]
        out.append(stream[pos : pos + 5 + n])
        pos += 5 + n
    return out


def _connections(path: Path) -> list[tuple[list[bytes], list[bytes]]]:
    """(client records, server records) per connection, client = sender of ClientHello."""
    streams = _streams(path)
    conns = []
    for (a, ap, b, bp), data in streams.items():
        if data[:1] == b"\x16" and data[5:6] == b"\x01":
            conns.append((_records(data), _records(streams.get((b, bp, a, ap), b""))))
    return conns


def _handshake_messages(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos + 1 : pos + 4], "big")
        out.append((data[pos], data[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return out


def _decrypt_connection(path: Path, keys: Path) -> list[tuple[str, list]]:
    """Decrypt every opaque record of every connection; returns (direction, plaintexts)."""
    log = read_keylog(keys)
    results = []
    for client_recs, server_recs in _connections(path):
        ch = parse_client_hello(client_recs[0][9:])
        sh = parse_server_hello(server_recs[0][9:])
        pair = decryptors_for(
            log.secrets_for(ch.random), sh.cipher_suite, early_data=ch.early_data, version=sh.selected_version
        )
        assert pair is not None
        for side, recs, dec in (("c2s", client_recs, pair[0]), ("s2c", server_recs, pair[1])):
            results.append((side, [dec.decrypt_record(r) for r in recs if r[0] == 23]))
    return results


def test_rfc8446_capture_server_flight_decrypts_to_certificate_and_finished() -> None:
    results = _decrypt_connection(WS / "tls13-rfc8446.pcap", WS / "keys" / "tls13-rfc8446.keys")
    first_server = results[1][1]
    assert all(p is not None for p in first_server)
    hs = [m for p in first_server if p.content_type == 22 for m in _handshake_messages(p.data)]
    types = [t for t, _ in hs]
    # EncryptedExtensions, Certificate, CertificateVerify, Finished, then a NewSessionTicket.
    assert types[:4] == [8, 11, 15, 20]
    assert 4 in types[4:]
    certs = parse_certificate(dict(hs)[11], tls13=True)
    assert len(certs) == 1 and certs[0][:2] == b"\x30\x82"
    assert first_server[0].stage == "handshake" and first_server[-1].stage == "application"


def test_rfc8446_capture_http_requests_and_early_data() -> None:
    results = _decrypt_connection(WS / "tls13-rfc8446.pcap", WS / "keys" / "tls13-rfc8446.keys")
    app = [
        (p.stage, p.data)
        for _, plains in results
        for p in plains
        if p is not None and p.content_type == 23
    ]
    texts = [d for _, d in app]
    assert any(d.startswith(b"GET /first") for d in texts)
    # The second connection sends /early as 0-RTT data under CLIENT_EARLY_TRAFFIC_SECRET.
    assert any(stage == "early" and d.startswith(b"GET /early") for stage, d in app)
    assert any(b"Request for /early, version TLSv1.3, Early data: yes" in d for d in texts)


def test_rfc8446_without_early_secret_still_decrypts_the_rest() -> None:
    results = _decrypt_connection(WS / "tls13-rfc8446.pcap", WS / "keys" / "tls13-rfc8446-noearly.keys")
    client2 = results[2][1]
    assert client2[0] is None  # the 0-RTT record: no key for it
    assert any(p is not None and p.data.startswith(b"GET /second") for p in client2)


def test_chacha20_poly1305_capture_draft20() -> None:
    # TLS 1.3 draft-20 (0x7f14): "tls13 " labels but no additional data in the AEAD.
    path = WS / "tls13-20-chacha20poly1305.pcap"
    results = _decrypt_connection(path, WS / "keys" / "tls13-20-chacha20poly1305.keys")
    assert results
    opened = [p for _, plains in results for p in plains if p is not None]
    assert opened and all(p.content_type in (21, 22, 23) for p in opened)
    assert any(p.content_type == 22 and p.data[0] == 8 for p in opened)  # EncryptedExtensions
    assert {p.stage for p in opened} >= {"handshake", "application"}


def test_wrong_secret_gives_none_not_an_exception() -> None:
    dec = RecordDecryptor(0x1301, {"SERVER_HANDSHAKE_TRAFFIC_SECRET": b"\x01" * 32}, "server")
    assert dec.decrypt_record(b"\x17\x03\x03\x00\x20" + b"\x00" * 32) is None
    assert dec.decrypt_record(b"\x17\x03") is None
    assert dec.decrypt(b"\x17\x03\x03\x00\x00", b"") is None


def test_hkdf_expand_label_rfc8448_server_handshake_keys() -> None:
    # RFC 8448 section 3: server handshake traffic secret -> write key and IV.
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    key, iv = traffic_keys(secret, 0x1301)
    assert key.hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert iv.hex() == "5d313eb2671276ee13000b30"
    assert hkdf_expand_label(secret, b"key", b"", 16, hashes.SHA256()) == key


def test_nonce_and_inner_plaintext() -> None:
    iv = bytes(range(12))
    assert record_nonce(iv, 0) == iv
    assert record_nonce(iv, 1)[-1] == iv[-1] ^ 1
    assert strip_inner(b"hello\x17\x00\x00") == (0x17, b"hello")
    assert strip_inner(b"\x00\x00") is None


def test_roundtrip_every_suite_and_key_update() -> None:
    from tlskit.tls.decrypt import SUITES

    for code, suite in SUITES.items():
        hs = bytes(range(suite.hash().digest_size))
        app = bytes(reversed(hs))
        dec = RecordDecryptor(code, {"SERVER_HANDSHAKE_TRAFFIC_SECRET": hs, "SERVER_TRAFFIC_SECRET_0": app}, "server")

        def seal(secret: bytes, seq: int, content: bytes, ctype: int, code: int = code) -> bytes:
            key, iv = traffic_keys(secret, code)
            inner = content + bytes([ctype]) + b"\x00" * 3
            n = len(inner) + (8 if code == 0x1305 else 16)
            header = b"\x17\x03\x03" + n.to_bytes(2, "big")
            return header + SUITES[code].aead(key).encrypt(record_nonce(iv, seq), inner, header)

        finished = b"\x14\x00\x00\x04" + b"\xaa" * 4
        p = dec.decrypt_record(seal(hs, 0, finished, 22))
        assert p is not None and (p.stage, p.content_type, p.data) == ("handshake", 22, finished)
        p = dec.decrypt_record(seal(app, 0, b"data", 23))
        assert p is not None and p.stage == "application" and p.data == b"data"
        key_update = b"\x18\x00\x00\x01\x00"
        assert dec.decrypt_record(seal(app, 1, key_update, 22)) is not None
        p = dec.decrypt_record(seal(next_traffic_secret(app, code), 0, b"\x02\x28", 21))
        assert p is not None and (p.stage, p.content_type, p.data) == ("application+1", 21, b"\x02\x28")
