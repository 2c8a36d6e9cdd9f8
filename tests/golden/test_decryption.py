"""Golden test: key logs and embedded secrets make hidden handshakes visible, both engines.

- wireshark/tls13-rfc8446.pcap + keys/tls13-rfc8446.keys (Wireshark's test suite): the TLS
  1.3 server Certificate appears in `certificates`, and `messages` lists the decrypted
  EncryptedExtensions / Certificate / CertificateVerify / Finished. Without the key log the
  same records stay encrypted and nothing is guessed.
- wireshark/tls12-dsb.pcapng: TLS 1.2 with secrets in a pcapng Decryption Secrets Block.
- ja4/chrome-cloudflare-quic-with-secrets.pcapng (FoxIO): TLS 1.3 with DSB secrets and a
  CompressedCertificate (type 25).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tests.conftest import CONFORMANCE, requires_tshark

WS = CONFORMANCE / "fingerprints" / "wireshark"
RFC8446 = WS / "tls13-rfc8446.pcap"
RFC8446_KEYS = WS / "keys" / "tls13-rfc8446.keys"

ENGINES = [
    pytest.param("native", id="native"),
    pytest.param("tshark", id="tshark", marks=[requires_tshark, pytest.mark.tshark]),
]


def _load(path: Path, engine: str, keylog: Path | None = None) -> tlskit.Capture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tlskit.load(path, keylog=keylog, engine=engine, progress=False)


def _types(messages: pd.DataFrame, conn_id: int, **where: bool) -> list[int]:
    rows = messages[messages["conn_id"] == conn_id]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    return rows["handshake_type"].dropna().astype(int).tolist()


@pytest.mark.parametrize("engine", ENGINES)
def test_tls13_keylog_reveals_the_server_certificate(engine: str) -> None:
    cap = _load(RFC8446, engine, RFC8446_KEYS)
    certs = cap.certificates
    server = certs[(certs["conn_id"] == 0) & (certs["side"] == "server")]
    assert server["position"].tolist() == [0]
    # BoringSSL's self-signed P-256 test certificate, valid for a year from the capture day
    assert server["subject"].iloc[0] == "O=BoringSSL,C=US" and server["key_type"].iloc[0] == "EC"
    assert int(server["key_size"].iloc[0]) == 256
    assert server["not_before"].iloc[0] == pd.Timestamp("2018-08-16 18:28:53", tz="UTC")
    assert server["sha256"].iloc[0] == _sha256_of_certificate_message(engine)
    assert _types(cap.messages, 0, decrypted=True) == [8, 11, 15, 20, 20, 4, 4]
    row = cap.connections.iloc[0]
    assert bool(row["decrypted"]) and bool(row["server_certificate_visible"]) and bool(row["established"])
    assert int(row["version"]) == 0x0304


def _sha256_of_certificate_message(engine: str) -> str:
    """The leaf's SHA-256, computed here from the decrypted Certificate message bytes."""
    import hashlib

    from tlskit.capture._events import TlsUnit
    from tlskit.tls.handshake import parse_certificate

    if engine == "tshark":
        from tlskit.capture._tshark import TsharkEngine as Engine
    else:
        from tlskit.capture._native import NativeEngine as Engine  # type: ignore[assignment]
    for event in Engine(RFC8446, RFC8446_KEYS).events():
        if isinstance(event, TlsUnit) and event.body and event.body[0] == 11:
            return hashlib.sha256(parse_certificate(event.body[4:], tls13=True)[0]).hexdigest()
    raise AssertionError("no Certificate message")


@pytest.mark.parametrize("engine", ENGINES)
def test_tls13_without_keys_stays_encrypted(engine: str) -> None:
    cap = _load(RFC8446, engine)
    assert cap.certificates.empty
    row = cap.connections.iloc[0]
    assert not bool(row["decrypted"]) and not bool(row["server_certificate_visible"])
    assert int(row["version"]) == 0x0304  # the ServerHello is in clear
    server = cap.messages[(cap.messages["conn_id"] == 0) & (cap.messages["direction"] == "s2c")]
    hidden = server[server["encrypted"]]
    assert len(hidden) >= 1 and hidden["handshake_type"].isna().all() and not hidden["decrypted"].any()
    assert _types(cap.messages, 0) == [1, 2]  # nothing past the ServerHello is guessed


@pytest.mark.parametrize("engine", ENGINES)
def test_tls13_embedded_secrets_and_compressed_certificate(engine: str) -> None:
    cap = _load(CONFORMANCE / "fingerprints" / "ja4" / "chrome-cloudflare-quic-with-secrets.pcapng", engine)
    assert bool(cap.connections["decrypted"].iloc[0])
    assert 25 in _types(cap.messages, 0, decrypted=True)  # CompressedCertificate
    server = cap.certificates[cap.certificates["side"] == "server"]
    assert server["subject_cn"].tolist() == ["sni.cloudflaressl.com", "Cloudflare Inc ECC CA-3"]


@pytest.mark.parametrize("engine", ENGINES)
def test_tls12_with_embedded_secrets(engine: str) -> None:
    cap = _load(WS / "tls12-dsb.pcapng", engine)
    assert len(cap.connections) == 2 and cap.connections["established"].all()
    leafs = cap.certificates[(cap.certificates["side"] == "server") & (cap.certificates["position"] == 0)]
    assert leafs["subject_cn"].tolist() == ["www.example.org", "www.example.org"]  # TLS 1.2: in clear
    finished = _types(cap.messages, 0, decrypted=True)
    if engine == "tshark":
        # tshark decrypts TLS 1.2 records with the DSB secrets: both Finished become readable
        assert finished == [20, 20] and bool(cap.connections["decrypted"].iloc[0])
    else:
        # the native engine decrypts TLS 1.3 handshakes only: the Finished stay marked encrypted
        # (listed in test_engines_agree as a difference where tshark shows more)
        assert finished == [] and not bool(cap.connections["decrypted"].iloc[0])
        hidden = cap.messages[(cap.messages["conn_id"] == 0) & cap.messages["encrypted"]]
        assert len(hidden) >= 2 and hidden["handshake_type"].isna().all()
