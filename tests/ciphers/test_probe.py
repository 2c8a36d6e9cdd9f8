"""probe_server against real servers on 127.0.0.1: openssl s_server and a Python ssl server."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tlskit.ciphers import compare_ciphers, probe_server, read_server_config
from tlskit.ciphers.probe import attempts_of

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed RSA certificate for svc.test (validity fixed, not now-based)."""
    d = tmp_path_factory.mktemp("probe")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "svc.test")])
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
           .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
           .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("svc.test")]), critical=False)
           .sign(key, hashes.SHA256()))
    (d / "cert.pem").write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


@pytest.fixture
def s_server(cert: tuple[Path, Path]) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert[0]), "-key", str(cert[1]),
         "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA", "-ciphersuites", "TLS_AES_256_GCM_SHA384",
         "-no_tls1", "-no_tls1_1", "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


@needs_openssl
def test_probe_enumerates_versions_and_suites_of_s_server(s_server: int) -> None:
    cfg = probe_server("127.0.0.1", s_server, timeout=3.0)
    assert cfg.source == "probe" and cfg.origin == f"127.0.0.1:{s_server}"
    assert cfg.versions == frozenset({0x0303, 0x0304})
    assert sorted(cfg.cipher_suites) == [0x0035, 0xC02F]
    assert cfg.tls13_suites == [0x1302]
    tries = attempts_of(cfg)
    assert 0 < len(tries) < 20  # elimination: one handshake per accepted suite plus one
    assert any(not a.ok and a.version == 0x0301 for a in tries)


@needs_openssl
def test_probe_result_compares_like_any_config(s_server: int) -> None:
    server = probe_server("127.0.0.1", s_server, enumerate_suites=True)
    nginx = read_server_config("server { listen 443 ssl; ssl_protocols TLSv1.2; ssl_ciphers AES256-SHA; }")
    r = compare_ciphers(nginx, server)
    assert r.verdict == "weak_only" and r.expected == 0x0035


def test_probe_of_a_closed_port_is_bounded_and_empty() -> None:
    cfg = probe_server("127.0.0.1", _free_port(), timeout=1.0)
    assert cfg.versions == frozenset() and cfg.all_suites == []
    assert any("no version was accepted" in c for c in cfg.caveats)
    assert len(attempts_of(cfg)) == 4


@pytest.fixture
def sni_server(cert: tuple[Path, Path]) -> Iterator[int]:
    """A Python ssl server that refuses handshakes without SNI (unrecognized_name)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2

    def need_name(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        return None if name == "svc.test" else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    ctx.sni_callback = need_name  # type: ignore[assignment]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    port = int(srv.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.settimeout(3)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield port
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def test_probe_detects_that_sni_is_required(sni_server: int) -> None:
    cfg = probe_server("127.0.0.1", sni_server, server_name="svc.test", enumerate_suites=False)
    assert cfg.versions == frozenset({0x0303, 0x0304})
    assert cfg.sni_required is True
    assert cfg.server_names == ["svc.test"]
    blind = probe_server("127.0.0.1", sni_server, enumerate_suites=False)
    assert blind.versions == frozenset()
    assert any("may require SNI" in c for c in blind.caveats)
